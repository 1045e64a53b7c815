"""RVTools exports shaped like real ones, through ``import_rvtools``: the first import discovers, the next ones change
nothing, whatever identity columns the export lacks; cut-off and identity-less exports are refused and change nothing.
"""

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inventory.choices import VMStatus
from inventory.models import ScanRun, Source, VirtualMachine, VMChange
from portal.models import AuditEvent
from tests.inventory.rvtools_files import (
    ESTATE_VMS,
    VCENTER_UUID,
    as_rvtools3,
    cut_off_last_row,
    estate_export,
    estate_vm_uuid,
    trimmed_last_row,
    without_columns,
    write_csv_folder,
    write_xlsx,
)

pytestmark = pytest.mark.django_db
EXPORTED = datetime.datetime(2026, 10, 1, 9, 0, 0)
EUROPEAN_DATES = "%d.%m.%Y %H:%M:%S"
FIRST_IMPORT = "estate: 8 VMs: 8 discovered, 0 changed, 0 missing, 0 unchanged, 0 reappeared, 0 removed."
SAME_AGAIN = "estate: 8 VMs: 0 discovered, 0 changed, 0 missing, 8 unchanged, 0 reappeared, 0 removed."


def xlsx(*dropped: str, rvtools3: bool = False) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        sheets = without_columns(estate_export(EXPORTED), *dropped)
        return write_xlsx(folder / "export.xlsx", as_rvtools3(sheets) if rvtools3 else sheets)
    return write


def csv_folder(*dropped: str, rvtools3: bool = False) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        sheets = without_columns(estate_export(EXPORTED), *dropped)
        return write_csv_folder(folder / "export", as_rvtools3(sheets) if rvtools3 else sheets,
                                date_format=EUROPEAN_DATES)
    return write


# name → (writer, the identity columns the export lacks)
EXPORTS = {
    "4.x full": (xlsx(), ()),
    "4.x without VI SDK UUID": (xlsx("VI SDK UUID"), ("VI SDK UUID",)),
    "4.x without VI SDK UUID nor SMBIOS UUID": (
        xlsx("VI SDK UUID", "SMBIOS UUID"), ("VI SDK UUID", "SMBIOS UUID"),
    ),
    "4.x without VI SDK UUID nor VM ID": (xlsx("VI SDK UUID", "VM ID"), ("VI SDK UUID", "VM ID")),
    "4.x without VI SDK UUID, VM ID nor SMBIOS UUID": (
        xlsx("VI SDK UUID", "VM ID", "SMBIOS UUID"), ("VI SDK UUID", "VM ID", "SMBIOS UUID"),
    ),
    "4.x CSV folder without VI SDK UUID": (csv_folder("VI SDK UUID"), ("VI SDK UUID",)),
    "3.x CSV folder, MB units": (csv_folder(rvtools3=True), ("VM ID",)),
    "3.x CSV folder without VI SDK UUID nor SMBIOS UUID": (
        csv_folder("VI SDK UUID", "SMBIOS UUID", rvtools3=True), ("VI SDK UUID", "SMBIOS UUID", "VM ID"),
    ),
}


def expected_identities(lacking: tuple[str, ...]) -> list[tuple]:
    """What the export says of each VM: its columns, less those it lacks."""
    return sorted(
        (
            name,
            "" if "VM ID" in lacking else f"vm-{100 + number}",
            estate_vm_uuid(number),
            "" if "SMBIOS UUID" in lacking else f"4203aaaa-0000-0000-0000-{number:012d}",
            "" if "VI SDK UUID" in lacking else VCENTER_UUID,
        )
        for name, number, *_ in ESTATE_VMS
    )


def import_export(path: Path, capsys) -> str:
    call_command("import_rvtools", str(path), "--source", "estate")
    return capsys.readouterr().out.strip()


def snapshot() -> tuple:
    return (
        list(Source.objects.values_list("name", "kind")),
        list(ScanRun.objects.values_list("id", "status")),
        list(VirtualMachine.objects.values_list("id", "name", "status", "host__name")),
        VMChange.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("shape", EXPORTS)
def test_an_export_imported_three_times_is_discovered_once_and_then_unchanged(tmp_path, capsys, shape):
    write, lacking = EXPORTS[shape]
    path = write(tmp_path)

    reports = [import_export(path, capsys) for _ in range(3)]

    assert reports == [FIRST_IMPORT, SAME_AGAIN, SAME_AGAIN]
    assert [VMChange.objects.filter(scan_run=run).count() for run in ScanRun.objects.order_by("id")] == [8, 0, 0]
    assert VMChange.objects.count() == 8
    assert sorted(
        VirtualMachine.objects.values_list("name", "moref", "instance_uuid", "bios_uuid", "vcenter_uuid")
    ) == expected_identities(lacking)
    assert set(VirtualMachine.objects.values_list("status", flat=True)) == {VMStatus.PRESENT}


@pytest.mark.parametrize(
    ("first", "then"),
    [("4.x full", "4.x without VI SDK UUID, VM ID nor SMBIOS UUID"),
     ("4.x without VI SDK UUID, VM ID nor SMBIOS UUID", "4.x full")],
)
def test_full_and_trimmed_exports_of_one_estate_alternate_without_a_change(tmp_path, capsys, first, then):
    (tmp_path / "first").mkdir()
    (tmp_path / "then").mkdir()
    full, trimmed = EXPORTS[first][0](tmp_path / "first"), EXPORTS[then][0](tmp_path / "then")

    reports = [import_export(path, capsys) for path in (full, trimmed, full)]

    assert reports == [FIRST_IMPORT, SAME_AGAIN, SAME_AGAIN]
    assert VMChange.objects.count() == 8
    assert set(VirtualMachine.objects.values_list("vcenter_uuid", flat=True)) == {VCENTER_UUID}


def test_an_export_cut_off_mid_row_is_refused_naming_the_row_and_changes_nothing(tmp_path, capsys):
    folder = write_csv_folder(tmp_path / "export", estate_export(EXPORTED), date_format=EUROPEAN_DATES)
    assert import_export(folder, capsys) == FIRST_IMPORT
    cut_off_last_row(folder, "vInfo", inside_column="Host")  # jump01 on esx03.example.com: "esx03.exam"
    before = snapshot()

    for _ in range(3):
        with pytest.raises(CommandError, match=r"^export: 1 problem\(s\); nothing was imported\.$"):
            call_command("import_rvtools", str(folder), "--source", "estate")
        assert capsys.readouterr().err.splitlines() == [
            "export: vInfo row 9, Host: the row stops in this column, after 37 of the header's 46 values "
            "(an interrupted or trimmed export); export again, or delete the row",
        ]
        assert snapshot() == before


def test_a_workbook_row_trimmed_of_its_identity_is_refused_naming_the_row_and_changes_nothing(tmp_path, capsys):
    path = write_xlsx(tmp_path / "export.xlsx", estate_export(EXPORTED))
    assert import_export(path, capsys) == FIRST_IMPORT
    write_xlsx(path, trimmed_last_row(estate_export(EXPORTED), "vInfo", from_column="Datacenter"))
    before = snapshot()

    for _ in range(3):
        with pytest.raises(CommandError, match=r"^export.xlsx: 1 problem\(s\); nothing was imported\.$"):
            call_command("import_rvtools", str(path), "--source", "estate")
        assert capsys.readouterr().err.splitlines() == [
            "export.xlsx: vInfo row 9, VM UUID: no identity: VM UUID, SMBIOS UUID and VM ID are all empty",
        ]
        assert snapshot() == before


def test_an_export_without_identity_columns_is_refused_with_what_it_has_and_what_is_needed(tmp_path, capsys):
    sheets = without_columns(estate_export(EXPORTED), "VM ID", "VM UUID", "SMBIOS UUID")
    path = write_xlsx(tmp_path / "export.xlsx", {"vInfo": sheets["vInfo"], "vHost": sheets["vHost"]})

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_rvtools", str(path), "--source", "estate")

    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        "export.xlsx: vInfo row 1, VM UUID: missing column: vInfo needs VM UUID, SMBIOS UUID or VM ID to tell its "
        "VMs apart (never by name). Found tabs: vInfo, vHost; vInfo columns: VM, Powerstate, Template, "
    )
    assert line.endswith(
        "Host, OS according to the configuration file, OS according to the VMware Tools, VI SDK Server type, "
        "VI SDK API Version, VI SDK Server, VI SDK UUID. "
        "A full export from RVTools (File > Export all to Excel) has the VM UUID column"
    )
    assert snapshot() == ([], [], [], 0, 0)
