"""The import commands against the database: identity and history like a scan, all or nothing on bad files."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from inventory.choices import ChangeKind, ScanStatus, SourceKind, VMStatus
from inventory.models import ScanRun, Source, VirtualMachine, VMChange
from portal.models import AuditEvent
from tests.inventory.rvtools_files import (
    as_rvtools3,
    vinfo_row,
    vmetadata_row,
    vtools_row,
    write_csv_folder,
    write_xlsx,
)

pytestmark = pytest.mark.django_db
EXPORTED = datetime.datetime(2026, 10, 1, 9, 0, 0)


def export(*vinfo_rows, when=EXPORTED):
    return {
        "vInfo": list(vinfo_rows),
        "vTools": [vtools_row(row) for row in vinfo_rows],
        "vMetaData": [vmetadata_row(when)],
    }


def db01(**values):
    return vinfo_row(**{"VM": "db01", "VM ID": "vm-101", "VM UUID": "50aa0000-0000-0000-0000-000000000101",
                        "SMBIOS UUID": "42aa0000-0000-0000-0000-000000000101", **values})


def web01(**values):
    return vinfo_row(**{"VM": "web01", "VM ID": "vm-102", "VM UUID": "50aa0000-0000-0000-0000-000000000102",
                        "SMBIOS UUID": "42aa0000-0000-0000-0000-000000000102", **values})


def snapshot() -> tuple:
    return (
        list(Source.objects.values_list("name", "kind")),
        list(ScanRun.objects.values_list("id", "status")),
        list(VirtualMachine.objects.values_list("id", "name", "status", "host__name")),
        VMChange.objects.count(),
        AuditEvent.objects.count(),
    )


def test_rvtools_import_then_a_later_export_records_history(tmp_path, capsys):
    write_xlsx(tmp_path / "october.xlsx", export(db01(), web01()))

    call_command("import_rvtools", str(tmp_path / "october.xlsx"), "--source", "vc01-rvtools")

    assert "vc01-rvtools: 2 VMs: 2 discovered" in capsys.readouterr().out
    source = Source.objects.get(name="vc01-rvtools")
    assert source.kind == SourceKind.RVTOOLS
    first = VirtualMachine.objects.get(name="db01")
    assert (first.moref, first.instance_uuid, first.first_seen) == (
        "vm-101", "50aa0000-0000-0000-0000-000000000101", EXPORTED.replace(tzinfo=datetime.UTC),
    )

    november = EXPORTED + datetime.timedelta(days=31)
    write_xlsx(tmp_path / "november.xlsx", export(db01(VM="db01-finance", Host="esx02.example.com"), when=november))
    call_command("import_rvtools", str(tmp_path / "november.xlsx"), "--source", "vc01-rvtools")

    renamed = VirtualMachine.objects.get(pk=first.pk)
    assert renamed.name == "db01-finance"
    run = ScanRun.objects.order_by("-id").first()
    assert (run.status, run.discovered, run.changed, run.missing, run.observed_at) == (
        ScanStatus.COMPLETE, 0, 1, 1, november.replace(tzinfo=datetime.UTC),
    )
    assert sorted(VMChange.objects.filter(scan_run=run).values_list("vm__name", "kind")) == [
        ("db01-finance", ChangeKind.RELOCATED), ("db01-finance", ChangeKind.RENAMED), ("web01", ChangeKind.MISSING),
    ]
    assert VirtualMachine.objects.get(name="web01").status == VMStatus.MISSING


def test_rvtools3_csv_folder_of_the_same_estate_changes_nothing(tmp_path):
    write_xlsx(tmp_path / "v4.xlsx", export(db01(), web01()))
    call_command("import_rvtools", str(tmp_path / "v4.xlsx"), "--source", "vc01-rvtools")
    before = VMChange.objects.count()

    write_csv_folder(tmp_path / "v3", as_rvtools3(export(db01(), web01())), date_format="%d.%m.%Y %H:%M:%S")
    call_command("import_rvtools", str(tmp_path / "v3"), "--source", "vc01-rvtools")

    assert VirtualMachine.objects.count() == 2
    assert VMChange.objects.count() == before


def test_a_malformed_export_names_every_bad_cell_and_changes_nothing(tmp_path, capsys):
    write_xlsx(tmp_path / "good.xlsx", export(db01(), web01()))
    call_command("import_rvtools", str(tmp_path / "good.xlsx"), "--source", "vc01-rvtools")
    capsys.readouterr()
    before = snapshot()
    bad = export(db01(VM="db01-renamed", CPUs="four"), web01(**{"Creation date": "yesterday"}))
    write_xlsx(tmp_path / "bad.xlsx", bad)

    with pytest.raises(CommandError, match="2 problem"):
        call_command("import_rvtools", str(tmp_path / "bad.xlsx"), "--source", "vc01-rvtools")

    errors = capsys.readouterr().err
    assert "bad.xlsx: vInfo row 2, CPUs: 'four'" in errors
    assert "bad.xlsx: vInfo row 3, Creation date: 'yesterday'" in errors
    assert snapshot() == before


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path, capsys):
    (tmp_path / "export.xlsx").write_bytes(b"this is not a zip")
    before = snapshot()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_rvtools", str(tmp_path / "export.xlsx"), "--source", "vc01-rvtools")

    assert "export.xlsx" in capsys.readouterr().err
    assert snapshot() == before


def test_an_import_cannot_feed_a_vcenter_source(tmp_path):
    Source.objects.create(name="vc01", kind=SourceKind.VCENTER, host="vc01.example.com")
    write_xlsx(tmp_path / "x.xlsx", export(db01()))
    before = snapshot()

    with pytest.raises(CommandError, match="is a vCenter / ESXi source"):
        call_command("import_rvtools", str(tmp_path / "x.xlsx"), "--source", "vc01")
    assert snapshot() == before


VM_CSV = (
    "name,vm_id,bios_uuid,platform,host,power_state,guest_os,ip_addresses,cpu_count,memory_mb,created_at,created_by\n"
    "lab01,hv-1,4c4c4544-0000-0000-0000-000000000001,hyperv,hv01,on,Windows Server 2022,192.168.1.10,2,4096,"
    "2025-02-01,CORP\\ann\n"
    "lab02,hv-2,,,hv01,off,Ubuntu 24.04,,1,2048,2025-03-01,\n"
)


def test_generic_csv_import_uses_the_same_identity_and_history(tmp_path, capsys):
    path = tmp_path / "hyperv.csv"
    path.write_text(VM_CSV)

    call_command("import_vms", str(path), "--source", "hyperv-lab", "--platform", "kvm")

    assert "hyperv-lab: 2 VMs: 2 discovered" in capsys.readouterr().out
    lab01, lab02 = VirtualMachine.objects.order_by("name")
    assert (lab01.platform, lab01.host.name, lab01.power_state, lab01.created_by, lab01.ip_addresses) == (
        "hyperv", "hv01", "poweredOn", "CORP\\ann", ["192.168.1.10"],
    )
    assert lab02.platform == "kvm"

    path.write_text(VM_CSV.replace("lab01,hv-1", "lab01-renamed,hv-1"))
    call_command("import_vms", str(path), "--source", "hyperv-lab")
    assert VirtualMachine.objects.get(pk=lab01.pk).name == "lab01-renamed"
    assert list(lab01.changes.values_list("kind", flat=True).order_by("id")) == [
        ChangeKind.DISCOVERED, ChangeKind.RENAMED,
    ]


def test_a_malformed_csv_names_the_line_and_column_and_changes_nothing(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("name,vm_id,cpu_count,power_state\nok,1,2,on\n,2,two,sideways\n")
    before = snapshot()

    with pytest.raises(CommandError, match="problem"):
        call_command("import_vms", str(path), "--source", "hyperv-lab")

    errors = capsys.readouterr().err
    assert "bad.csv: line 3, name: is required" in errors
    assert "bad.csv: line 3, cpu_count" in errors
    assert "bad.csv: line 3, power_state" in errors
    assert snapshot() == before


def test_a_csv_that_is_not_utf8_is_refused_clearly(tmp_path, capsys):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,vm_id\ncaf\xe9,1\n".encode("latin-1"))

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_vms", str(path), "--source", "hyperv-lab")
    assert 'latin1.csv: is not UTF-8 text: save it as "CSV UTF-8"' in capsys.readouterr().err
    assert not Source.objects.exists()


def test_import_service_rejects_before_writing(tmp_path):
    from inventory.services.imports import vm_csv_import
    from portal.tabular.problems import ImportRefused

    with pytest.raises(ImportRefused):
        vm_csv_import(stream=io.BytesIO(b"vm_id\n1\n"), source_name="x")
    assert not Source.objects.exists()
