"""Parsing of RVTools exports into ``Inventory``: exact values, joins by identity, every problem named."""

import datetime
import os
import zipfile
from pathlib import Path

import pytest

from inventory.imports.rvtools import SRM_PLACEHOLDER_ATTRIBUTE, parse_rvtools
from inventory.observations import (
    ObservedCluster,
    ObservedDatacenter,
    ObservedHost,
    ObservedVM,
)
from portal.tabular.problems import ImportRefused, Problem
from tests.inventory.rvtools_files import (
    VCENTER_SERVER,
    VCENTER_UUID,
    as_rvtools3,
    cut_off_last_row,
    vhost_row,
    vinfo_row,
    vmetadata_row,
    vnetwork_row,
    vtools_row,
    write_csv_folder,
    write_xlsx,
)
from tests.xlsx_files import cell, crafted

UTC = datetime.UTC
DATES_HELP = "YYYY-MM-DD (2024-03-05), YYYY/MM/DD, D.M.YYYY or 5 Mar 2024"
TIME_HELP = "then the time if any (14:30, 14:30:15 or 2:30 PM)"
EXPORTED = datetime.datetime(2024, 3, 2, 12, 0, 0)

APP01 = vinfo_row(
    **{
        "Network #2": "Backup",
        "SMBIOS UUID": "4203A1B2-C3D4-E5F6-0718-293A4B5C6D7E",  # upper case in the file, lower case observed
        "Annotation": "Billing application\nOwner: finance",
    }
)
WEB_CLUSTER1 = vinfo_row(
    VM="web",
    CPUs=2,
    Memory=4096,
    **{
        "VM ID": "vm-201",
        "VM UUID": "5003a1b2-0000-0000-0000-000000000201",
        "SMBIOS UUID": "4203a1b2-0000-0000-0000-000000000201",
        "Primary IP Address": "10.0.1.21",
        "Path": "[ds-web-01] web/web.vmx",
    },
)
WEB_CLUSTER2 = vinfo_row(
    VM="web",
    CPUs=8,
    Memory=16384,
    Cluster="Cluster2",
    Host="esx02.example.com",
    **{
        "VM ID": "vm-202",
        "VM UUID": "5003a1b2-0000-0000-0000-000000000202",
        "SMBIOS UUID": "4203a1b2-0000-0000-0000-000000000202",
        "Primary IP Address": "10.0.2.21",
        "Path": "[ds-web-02] web/web.vmx",
    },
)


def export_sheets() -> dict[str, list[dict]]:
    """Three VMs, two of them named "web" in two clusters; other tabs list them in another order than vInfo."""
    return {
        "vInfo": [APP01, WEB_CLUSTER1, WEB_CLUSTER2],
        "vTools": [
            vtools_row(WEB_CLUSTER2, Tools="toolsOld", **{"Tools Version": 11333}),
            vtools_row(APP01),
            vtools_row(WEB_CLUSTER1, Tools="toolsNotRunning", **{"Tools Version": 12320}),
        ],
        "vNetwork": [
            vnetwork_row(WEB_CLUSTER2, **{"Mac Address": "00:50:56:9A:02:02", "IPv4 Address": "10.0.2.21"}),
            vnetwork_row(APP01),
            vnetwork_row(
                APP01,
                **{
                    "NIC label": "Network adapter 2",
                    "Network": "Backup",
                    "Mac Address": "00:50:56:9a:00:02",
                    "IPv4 Address": "10.1.0.10",
                    "IPv6 Address": "fe80::250:56ff:fe9a:2",
                },
            ),
            vnetwork_row(WEB_CLUSTER1, **{"Mac Address": "00:50:56:9a:02:01", "IPv4 Address": "10.0.1.21"}),
        ],
        "vHost": [
            vhost_row(),
            vhost_row(
                Host="esx02.example.com",
                Cluster="Cluster2",
                **{
                    "Object ID": "host-11",
                    "UUID": "4c4c4544-0042-3010-8053-b2c04f4b3133",
                    "ESX Version": "VMware ESXi 6.7.0 build-17167734",
                },
            ),
        ],
        "vMetaData": [vmetadata_row(EXPORTED)],
    }


EXPECTED_APP01 = ObservedVM(
    moref="vm-101",
    name="app01",
    instance_uuid="5003a1b2-c3d4-e5f6-0718-293a4b5c6d7e",
    bios_uuid="4203a1b2-c3d4-e5f6-0718-293a4b5c6d7e",
    power_state="poweredOn",
    is_template=False,
    datacenter_key="dc:DC1",
    cluster_key="cluster:DC1/Cluster1",
    host_key="host-10",
    resource_pool="Resources",
    folder="Production/Apps",
    datastores=["ds-prod-01"],
    networks=["VM Network", "Backup"],
    mac_addresses=["00:50:56:9a:00:01", "00:50:56:9a:00:02"],
    ip_addresses=["10.0.0.10", "10.1.0.10", "fe80::250:56ff:fe9a:2"],
    guest_os="Microsoft Windows Server 2019 (64-bit)",
    guest_os_tools="Microsoft Windows Server 2019 Standard (64-bit)",
    tools_status="toolsOk",
    tools_version="12352",
    hardware_version="vmx-13",
    cpu_count=4,
    memory_mb=8192,
    created_at=datetime.datetime(2023, 1, 15, 10, 0, 5, tzinfo=UTC),
    created_by="",
    annotation="Billing application\nOwner: finance",
    custom_attributes={},
    advanced_settings={},
    boot_time=datetime.datetime(2024, 3, 1, 8, 30, 15, tzinfo=UTC),
    platform="",
)
EXPECTED_DATACENTERS = [ObservedDatacenter(key="dc:DC1", name="DC1")]
EXPECTED_CLUSTERS = [
    ObservedCluster(key="cluster:DC1/Cluster1", name="Cluster1", datacenter_key="dc:DC1"),
    ObservedCluster(key="cluster:DC1/Cluster2", name="Cluster2", datacenter_key="dc:DC1"),
]
EXPECTED_HOSTS = [
    ObservedHost(
        key="host-10",
        name="esx01.example.com",
        hardware_uuid="4c4c4544-0042-3010-8053-b2c04f4b3132",
        cluster_key="cluster:DC1/Cluster1",
        datacenter_key="dc:DC1",
        product="VMware ESXi 7.0.3 build-20036589",
        version="7.0.3",
        build="20036589",
    ),
    ObservedHost(
        key="host-11",
        name="esx02.example.com",
        hardware_uuid="4c4c4544-0042-3010-8053-b2c04f4b3133",
        cluster_key="cluster:DC1/Cluster2",
        datacenter_key="dc:DC1",
        product="VMware ESXi 6.7.0 build-17167734",
        version="6.7.0",
        build="17167734",
    ),
]


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ImportRefused) as raised:
        parse_rvtools(path)
    return raised.value.problems


def one_vm(tmp_path: Path, *, csv_folder: bool = False, **vinfo: object) -> ObservedVM:
    """The single VM of an export whose vInfo holds one row: the default row with ``vinfo`` over it."""
    sheets = {"vInfo": [vinfo_row(**vinfo)]}
    path = write_csv_folder(tmp_path / "csv", sheets) if csv_folder else write_xlsx(tmp_path / "one.xlsx", sheets)
    (inventory,) = parse_rvtools(path)
    (vm,) = inventory.vms
    return vm


# --- RVTools: what is read -----------------------------------------------------------------------------------------


def test_rvtools_xlsx_gives_every_fact_of_a_vm_and_its_hierarchy(tmp_path):
    path = write_xlsx(tmp_path / "RVTools_export_all.xlsx", export_sheets())

    (inventory,) = parse_rvtools(path)

    assert inventory.observed_at == datetime.datetime(2024, 3, 2, 12, 0, 0, tzinfo=UTC)
    assert inventory.vcenter_uuid == VCENTER_UUID
    assert inventory.vms[0] == EXPECTED_APP01
    assert inventory.datacenters == EXPECTED_DATACENTERS
    assert inventory.clusters == EXPECTED_CLUSTERS
    assert inventory.hosts == EXPECTED_HOSTS
    assert inventory.events == []
    assert inventory.last_event_key is None


def test_rvtools_two_vms_with_one_name_in_two_clusters_stay_two_joined_by_identity(tmp_path):
    path = write_xlsx(tmp_path / "export.xlsx", export_sheets())

    (inventory,) = parse_rvtools(path)

    webs = [vm for vm in inventory.vms if vm.name == "web"]
    got = [
        (vm.moref, vm.cluster_key, vm.host_key, vm.tools_status, vm.tools_version, vm.mac_addresses, vm.ip_addresses)
        for vm in webs
    ]
    assert got == [
        ("vm-201", "cluster:DC1/Cluster1", "host-10", "toolsNotRunning", "12320", ["00:50:56:9a:02:01"], ["10.0.1.21"]),
        ("vm-202", "cluster:DC1/Cluster2", "host-11", "toolsOld", "11333", ["00:50:56:9a:02:02"], ["10.0.2.21"]),
    ]
    assert [vm.datastores for vm in webs] == [["ds-web-01"], ["ds-web-02"]]


def test_rvtools_other_tabs_join_by_vm_id_and_by_server_when_they_lack_uuid_columns(tmp_path):
    sheets = export_sheets()
    for tab in ("vTools", "vNetwork"):
        sheets[tab] = [{k: v for k, v in row.items() if k not in ("VM UUID", "VI SDK UUID")} for row in sheets[tab]]

    (inventory,) = parse_rvtools(write_xlsx(tmp_path / "export.xlsx", sheets))

    assert inventory.vms[0] == EXPECTED_APP01
    assert [vm.tools_status for vm in inventory.vms] == ["toolsOk", "toolsNotRunning", "toolsOld"]


def test_rvtools_export_of_two_vcenters_gives_one_inventory_per_vcenter(tmp_path):
    other_uuid = "7d2b0c11-2a6e-4f7e-8e7b-0b5a0f0e9c21"
    other = {"VI SDK Server": "vc02.example.com", "VI SDK UUID": other_uuid, "Datacenter": "DC2"}
    # The same VM UUID and moref in the other vCenter: another VM, not a duplicate.
    app01_elsewhere = vinfo_row(**{**other, "Host": "esx21.example.com", "Cluster": "Cluster21", "CPUs": 2})
    sheets = export_sheets()
    sheets["vInfo"].append(app01_elsewhere)
    sheets["vTools"].insert(0, vtools_row(app01_elsewhere, Tools="toolsNotInstalled", **{"Tools Version": None}))
    sheets["vHost"].append(vhost_row(Host="esx21.example.com", Cluster="Cluster21", **other, **{"Object ID": "host-9"}))

    first, second = parse_rvtools(write_xlsx(tmp_path / "export.xlsx", sheets))

    assert (first.vcenter_uuid, [vm.name for vm in first.vms]) == (VCENTER_UUID, ["app01", "web", "web"])
    assert first.vms[0] == EXPECTED_APP01
    assert first.hosts == EXPECTED_HOSTS
    assert second.vcenter_uuid == other_uuid
    assert second.observed_at == first.observed_at
    assert [(vm.name, vm.moref, vm.cpu_count, vm.tools_status, vm.tools_version) for vm in second.vms] == [
        ("app01", "vm-101", 2, "toolsNotInstalled", "")
    ]
    assert second.vms[0].mac_addresses == []
    assert second.datacenters == [ObservedDatacenter(key="dc:DC2", name="DC2")]
    assert second.clusters == [ObservedCluster(key="cluster:DC2/Cluster21", name="Cluster21", datacenter_key="dc:DC2")]
    assert [(host.key, host.name, host.cluster_key) for host in second.hosts] == [
        ("host-9", "esx21.example.com", "cluster:DC2/Cluster21")
    ]


@pytest.mark.parametrize(
    ("date_format", "delimiter"),
    [
        ("%m/%d/%Y %I:%M:%S %p", ","),  # en-US
        ("%d.%m.%Y %H:%M:%S", ";"),  # de-DE, whose list separator is ";"
        ("%Y/%m/%d %H:%M:%S", ","),  # ja-JP
        ("%Y-%m-%d %H:%M:%S", ","),  # ISO
    ],
)
def test_rvtools3_csv_folder_reads_the_same_as_rvtools4_xlsx(tmp_path, date_format, delimiter):
    sheets = export_sheets()
    xlsx = write_xlsx(tmp_path / "export.xlsx", sheets)
    folder = write_csv_folder(tmp_path / "csv", as_rvtools3(sheets), date_format=date_format, delimiter=delimiter)
    assert "VM ID" not in (folder / "RVTools_tabvInfo.csv").read_text(encoding="utf-8-sig")
    assert "Provisioned MB" in (folder / "RVTools_tabvInfo.csv").read_text(encoding="utf-8-sig")

    (from_xlsx,) = parse_rvtools(xlsx)
    (from_csv,) = parse_rvtools(folder)

    # 3.x has no VM ID: the moref is unknown, and the other tabs joined by VM UUID alone.
    for vm in from_xlsx.vms:
        vm.moref = ""
    assert from_csv == from_xlsx


def test_rvtools_headers_are_found_whatever_their_order_case_and_extra_columns(tmp_path):
    shuffled = {
        tab: [
            {key.upper(): value for key, value in reversed(row.items())} | {"Custom attribute: Owner": "x"}
            for row in rows
        ]
        for tab, rows in export_sheets().items()
    }

    (inventory,) = parse_rvtools(write_xlsx(tmp_path / "export.xlsx", shuffled))

    assert inventory.vms[0] == EXPECTED_APP01
    assert inventory.hosts == EXPECTED_HOSTS


def test_rvtools_keeps_templates_and_srm_placeholders_and_flags_them(tmp_path):
    template = vinfo_row(
        VM="tpl-win2019",
        Template=True,
        Powerstate="poweredOff",
        PowerOn=None,
        **{"VM ID": "vm-7", "VM UUID": "5003a1b2-0000-0000-0000-000000000007"},
    )
    placeholder = vinfo_row(
        Powerstate="poweredOff",
        **{"SRM Placeholder": True, "VM ID": "vm-8", "VM UUID": "5003a1b2-0000-0000-0000-000000000008"},
    )
    sheets = {"vInfo": [template, placeholder]}

    (inventory,) = parse_rvtools(write_xlsx(tmp_path / "export.xlsx", sheets))

    got = [(vm.name, vm.is_template, vm.power_state, vm.boot_time, vm.custom_attributes) for vm in inventory.vms]
    assert got == [
        ("tpl-win2019", True, "poweredOff", None, {}),
        (
            "app01",
            False,
            "poweredOff",
            datetime.datetime(2024, 3, 1, 8, 30, 15, tzinfo=UTC),
            {SRM_PLACEHOLDER_ATTRIBUTE: "true"},
        ),
    ]
    assert SRM_PLACEHOLDER_ATTRIBUTE == "srm_placeholder"


def test_rvtools_empty_cells_are_unknown_never_false(tmp_path):
    sheets = {
        "vInfo": [{"VM": "bare", "VM UUID": "5003a1b2-0000-0000-0000-00000000000b", "Template": None, "CPUs": None}]
    }

    (inventory,) = parse_rvtools(write_xlsx(tmp_path / "export.xlsx", sheets))

    assert inventory.vcenter_uuid == ""
    assert inventory.vms == [ObservedVM(moref="", name="bare", instance_uuid="5003a1b2-0000-0000-0000-00000000000b")]
    assert inventory.vms[0].power_state == "unknown"
    assert inventory.vms[0].cpu_count is None
    assert (inventory.datacenters, inventory.clusters, inventory.hosts) == ([], [], [])


def test_rvtools_a_vm_known_by_its_bios_uuid_only_is_kept(tmp_path):
    sheets = {"vInfo": [{"VM": "old", "SMBIOS UUID": "{4203A1B2-0000-0000-0000-0000000000AA}"}]}

    (inventory,) = parse_rvtools(write_xlsx(tmp_path / "export.xlsx", sheets))

    assert inventory.vms == [ObservedVM(moref="", name="old", bios_uuid="4203a1b2-0000-0000-0000-0000000000aa")]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("vmx-13", "vmx-13"), ("13", "vmx-13"), (13, "vmx-13"), (7, "vmx-07"), ("vmx-7", "vmx-07"), ("VMX-19", "vmx-19")],
)
def test_rvtools_hardware_version_is_spelt_as_vsphere_does(tmp_path, cell, expected):
    assert one_vm(tmp_path, **{"HW version": cell}).hardware_version == expected


@pytest.mark.parametrize("header", ["Memory", "Memory MiB", "Memory MB", "memory  mb"])
def test_rvtools_memory_header_of_every_version(tmp_path, header):
    row = vinfo_row()
    del row["Memory"]
    (inventory,) = parse_rvtools(write_xlsx(tmp_path / "export.xlsx", {"vInfo": [row | {header: 6144}]}))
    assert inventory.vms[0].memory_mb == 6144


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("3/1/2024 8:30:15 PM", datetime.datetime(2024, 3, 1, 20, 30, 15, tzinfo=UTC)),
        ("03/01/2024 08:30:15 am", datetime.datetime(2024, 3, 1, 8, 30, 15, tzinfo=UTC)),
        ("1.3.2024 20:30:15", datetime.datetime(2024, 3, 1, 20, 30, 15, tzinfo=UTC)),
        ("01.03.2024 20:30", datetime.datetime(2024, 3, 1, 20, 30, tzinfo=UTC)),
        ("2024/03/01 20:30:15", datetime.datetime(2024, 3, 1, 20, 30, 15, tzinfo=UTC)),
        ("2024-03-01T20:30:15+02:00", datetime.datetime(2024, 3, 1, 18, 30, 15, tzinfo=UTC)),
        ("2024-03-01 20:30:15", datetime.datetime(2024, 3, 1, 20, 30, 15, tzinfo=UTC)),
        ("2024-03-01", datetime.datetime(2024, 3, 1, tzinfo=UTC)),
        ("13/1/2024 08:30:15", datetime.datetime(2024, 1, 13, 8, 30, 15, tzinfo=UTC)),  # only D/M can be a date
        ("1 March 2024", datetime.datetime(2024, 3, 1, tzinfo=UTC)),
    ],
)
def test_rvtools_csv_dates_in_every_locale_format_are_utc(tmp_path, cell, expected):
    assert one_vm(tmp_path, csv_folder=True, **{"Creation date": cell}).created_at == expected


@pytest.mark.parametrize("cell", ["3/1/2024", "3/1/2024 20:30:15"])
def test_rvtools_csv_dates_that_could_be_two_dates_are_refused(tmp_path, cell):
    folder = write_csv_folder(tmp_path / "csv", {"vInfo": [vinfo_row(**{"Creation date": cell})]})

    assert problems_of(folder) == [
        Problem("vInfo", 2, "Creation date", f"{cell!r} is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATES_HELP}")
    ]


def test_rvtools_xlsx_date_given_as_a_serial_number_or_as_text(tmp_path):
    vm = one_vm(tmp_path, **{"Creation date": 45366.5, "PowerOn": "3/1/2024 8:30:15 PM"})
    assert vm.created_at == datetime.datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
    assert vm.boot_time == datetime.datetime(2024, 3, 1, 20, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(("cell", "expected"), [("4096", 4096), ("4,096", 4096), ("4.096", 4096), ("4096.0", 4096)])
def test_rvtools_csv_counts_with_thousands_separators(tmp_path, cell, expected):
    assert one_vm(tmp_path, csv_folder=True, Memory=cell).memory_mb == expected


def test_rvtools_observed_at_falls_back_to_the_file_time_without_vmetadata(tmp_path):
    written = datetime.datetime(2024, 2, 1, 7, 0, tzinfo=UTC)
    sheets = export_sheets()
    del sheets["vMetaData"]
    xlsx = write_xlsx(tmp_path / "export.xlsx", sheets)
    folder = write_csv_folder(tmp_path / "csv", sheets)
    for path in (xlsx, folder / "RVTools_tabvInfo.csv"):
        os.utime(path, (written.timestamp(), written.timestamp()))

    assert [inventory.observed_at for inventory in parse_rvtools(xlsx)] == [written]
    assert [inventory.observed_at for inventory in parse_rvtools(folder)] == [written]


def test_rvtools_workbook_under_a_name_without_extension_is_read(tmp_path):
    path = write_xlsx(tmp_path / "export.xlsx", export_sheets())
    upload = path.rename(tmp_path / "upload_tmp1234")

    (inventory,) = parse_rvtools(upload)

    assert inventory.vms[0] == EXPECTED_APP01


def test_rvtools_csv_folder_in_windows_1252_is_read(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    text = "VM,VM UUID,Annotation\r\nsrv-é,5003a1b2-0000-0000-0000-0000000000e1,Café\r\n"
    (folder / "RVTools_tabvInfo.csv").write_bytes(text.encode("cp1252"))

    (inventory,) = parse_rvtools(folder)

    assert [(vm.name, vm.annotation) for vm in inventory.vms] == [("srv-é", "Café")]


# --- RVTools: what is refused ----------------------------------------------------------------------------------------


def test_rvtools_reports_every_bad_cell_of_every_tab_at_once(tmp_path):
    good = vinfo_row()
    sheets = {
        "vInfo": [
            good,
            vinfo_row(VM="", CPUs="four", Memory="-1", Template="maybe", **{"VM ID": "vm-2", "VM UUID": "not-a-uuid"}),
            {},  # a blank row: skipped, but counted, as Excel shows it
            vinfo_row(
                VM="copy",
                Powerstate="on",
                PowerOn="12/11/2023 10:00",
                **{"VM ID": "vm-101", "HW version": "x13", "SMBIOS UUID": "zzz", "Primary IP Address": "10.0.0.300"},
            ),
            {"VM": "nobody", "Template": False, "VI SDK Server": VCENTER_SERVER, "VI SDK UUID": VCENTER_UUID},
            vinfo_row(VM="again", **{"VM ID": "vm-5", "SRM Placeholder": "perhaps", "Creation date": "yesterday"}),
        ],
        "vNetwork": [
            vnetwork_row(good, **{"Mac Address": "00:50:56:zz:00:01", "IPv4 Address": "1.2.3 10.0.0.1"}),
            {"VM": "orphan", "Network": "VM Network", "VI SDK UUID": VCENTER_UUID},
        ],
        "vHost": [vhost_row(UUID="not-a-uuid"), vhost_row(Host="")],
        "vMetaData": [vmetadata_row(EXPORTED, **{"xlsx creation datetime": "yesterday"})],
    }

    problems = problems_of(write_xlsx(tmp_path / "export.xlsx", sheets))

    assert problems == [
        Problem("vHost", 2, "UUID", "'not-a-uuid' is not a UUID"),
        Problem("vHost", 3, "Host", "is required"),
        Problem("vInfo", 3, "CPUs", "'four' is not a whole number (0 or more)"),
        Problem("vInfo", 3, "Memory", "'-1' is not a whole number (0 or more)"),
        Problem("vInfo", 3, "Template", "'maybe' is not True or False"),
        Problem("vInfo", 3, "VM", "is required"),
        Problem("vInfo", 3, "VM UUID", "'not-a-uuid' is not a UUID"),
        Problem("vInfo", 5, "HW version", "'x13' is not a hardware version (vmx-13 or 13)"),
        Problem(
            "vInfo",
            5,
            "PowerOn",
            f"'12/11/2023 10:00' is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATES_HELP}",
        ),
        Problem("vInfo", 5, "Powerstate", "'on' is not a power state (poweredOn, poweredOff, suspended)"),
        Problem("vInfo", 5, "Primary IP Address", "'10.0.0.300' is not an IP address"),
        Problem("vInfo", 5, "SMBIOS UUID", "'zzz' is not a UUID"),
        Problem("vInfo", 5, "VM ID", "vm-101 is already on row 2"),
        Problem("vInfo", 5, "VM UUID", "5003a1b2-c3d4-e5f6-0718-293a4b5c6d7e is already on row 2"),
        Problem("vInfo", 6, "VM UUID", "no identity: VM UUID, SMBIOS UUID and VM ID are all empty"),
        Problem(
            "vInfo",
            7,
            "Creation date",
            f"'yesterday' is not a date and time: write it as {DATES_HELP}, {TIME_HELP}",
        ),
        Problem("vInfo", 7, "SRM Placeholder", "'perhaps' is not True or False"),
        Problem("vInfo", 7, "VM UUID", "5003a1b2-c3d4-e5f6-0718-293a4b5c6d7e is already on row 2"),
        Problem(
            "vMetaData",
            2,
            "xlsx creation datetime",
            f"'yesterday' is not a date and time: write it as {DATES_HELP}, {TIME_HELP}",
        ),
        Problem("vNetwork", 2, "IPv4 Address", "'1.2.3' is not an IP address"),
        Problem("vNetwork", 2, "Mac Address", "'00:50:56:zz:00:01' is not a MAC address"),
        Problem("vNetwork", 3, "VM UUID", "no identity: VM UUID and VM ID are both empty"),
    ]


def test_rvtools_csv_rows_are_counted_as_records_when_a_value_spans_lines(tmp_path):
    sheets = {
        "vInfo": [
            vinfo_row(Annotation="line one\nline two\nline three"),
            vinfo_row(CPUs="x", **{"VM ID": "vm-2", "VM UUID": "5003a1b2-0000-0000-0000-000000000002"}),
        ]
    }

    problems = problems_of(write_csv_folder(tmp_path / "csv", sheets))

    assert problems == [Problem("vInfo", 3, "CPUs", "'x' is not a whole number (0 or more)")]


def test_rvtools_csv_row_cut_off_in_any_tab_is_refused_naming_the_row(tmp_path):
    folder = write_csv_folder(tmp_path / "csv", export_sheets())
    cut_off_last_row(folder, "vNetwork", inside_column="Mac Address")

    assert problems_of(folder) == [
        Problem(
            "vNetwork",
            5,
            "Mac Address",
            "the row stops in this column, after 9 of the header's 16 values (an interrupted or trimmed export); "
            "export again, or delete the row",
        )
    ]


def test_rvtools_csv_blank_lines_and_empty_trailing_header_cells_are_not_cut_off_rows(tmp_path):
    folder = write_csv_folder(tmp_path / "csv", {"vInfo": [vinfo_row()]})
    path = folder / "RVTools_tabvInfo.csv"
    header, row = path.read_text(encoding="utf-8-sig").splitlines()
    path.write_text(f"{header},,\r\n{row}\r\n\r\n\r\n", encoding="utf-8-sig")

    (inventory,) = parse_rvtools(folder)

    assert [vm.instance_uuid for vm in inventory.vms] == ["5003a1b2-c3d4-e5f6-0718-293a4b5c6d7e"]


def test_rvtools_problem_names_the_header_as_spelt_in_the_file(tmp_path):
    sheets = {"vInfo": [{"vm": "a", "vm uuid": "nope"}]}
    assert problems_of(write_xlsx(tmp_path / "export.xlsx", sheets)) == [
        Problem("vInfo", 2, "vm uuid", "'nope' is not a UUID")
    ]


def test_rvtools_without_vinfo_is_refused_naming_the_tabs_it_has(tmp_path):
    sheets = {"vHost": [vhost_row()], "vMetaData": [vmetadata_row(EXPORTED)]}
    expected = [
        Problem(
            "vInfo",
            0,
            "",
            "the export has no vInfo tab (sheet vInfo or RVTools_tabvInfo.csv). Found tabs: vHost, vMetaData",
        )
    ]

    assert problems_of(write_xlsx(tmp_path / "export.xlsx", sheets)) == expected
    assert problems_of(write_csv_folder(tmp_path / "csv", sheets)) == expected


def test_rvtools_without_the_vm_column_nor_an_identity_column_is_refused_saying_what_it_found(tmp_path):
    sheets = {
        "vHost": [vhost_row()],
        "vInfo": [{"Name": "app01", "UUID": "5003a1b2-c3d4-e5f6-0718-293a4b5c6d7e", "CPUs": 2}],
    }
    expected = [
        Problem("vInfo", 1, "VM", "missing column"),
        Problem(
            "vInfo",
            1,
            "VM UUID",
            "missing column: vInfo needs VM UUID, SMBIOS UUID or VM ID to tell its VMs apart (never by name). "
            "Found tabs: vHost, vInfo; vInfo columns: Name, UUID, CPUs. "
            "A full export from RVTools (File > Export all to Excel) has the VM UUID column",
        ),
    ]

    assert problems_of(write_xlsx(tmp_path / "export.xlsx", sheets)) == expected
    assert problems_of(write_csv_folder(tmp_path / "csv", sheets)) == expected


def test_rvtools_empty_vinfo_is_refused(tmp_path):
    empty = write_xlsx(tmp_path / "empty.xlsx", {"vInfo": []})
    header_only = tmp_path / "header"
    header_only.mkdir()
    (header_only / "RVTools_tabvInfo.csv").write_text("VM,VM UUID,VM ID\n", encoding="utf-8")

    assert problems_of(empty) == [Problem("vInfo", 1, "", "the vInfo tab is empty: no header, no VM")]
    assert problems_of(header_only) == [Problem("vInfo", 1, "", "lists no VM below the header")]


def test_rvtools_tab_that_cannot_be_joined_is_refused_rather_than_joined_by_name(tmp_path):
    sheets = export_sheets()
    sheets["vTools"] = [{"VM": row["VM"], "Tools": "toolsOk"} for row in sheets["vTools"]]

    assert problems_of(write_xlsx(tmp_path / "export.xlsx", sheets)) == [
        Problem(
            "vTools",
            1,
            "VM UUID",
            "missing column: without VM UUID or VM ID, vTools rows cannot be matched to vInfo (never by VM name); "
            "delete this tab or export with a newer RVTools",
        )
    ]


def test_rvtools_several_vcenters_need_their_uuids(tmp_path):
    rows = [
        {"VM": "a", "VM UUID": "5003a1b2-0000-0000-0000-00000000000a", "VI SDK Server": "vc01"},
        {"VM": "b", "VM UUID": "5003a1b2-0000-0000-0000-00000000000b", "VI SDK Server": "vc02"},
    ]
    tools = [{"VM": "a", "VM UUID": "5003a1b2-0000-0000-0000-00000000000a", "Tools": "toolsOk"}]

    assert problems_of(write_xlsx(tmp_path / "export.xlsx", {"vInfo": rows, "vTools": tools})) == [
        Problem(
            "vInfo",
            1,
            "VI SDK UUID",
            "the export holds 2 vCenters (vc01, vc02) but not each with a VI SDK UUID, so their VMs cannot be told "
            "apart; export each vCenter on its own",
        ),
        Problem(
            "vTools",
            1,
            "VI SDK UUID",
            "missing column: the export holds 2 vCenters and without VI SDK UUID or VI SDK Server, vTools rows "
            "cannot be matched to one of them",
        ),
    ]


def test_rvtools_file_that_is_not_a_workbook_is_refused(tmp_path):
    text = tmp_path / "export.xlsx"
    text.write_text("VM,VM UUID\napp01,5003a1b2-c3d4-e5f6-0718-293a4b5c6d7e\n")
    other_zip = tmp_path / "export.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("RVTools_tabvInfo.csv", "VM\n")

    one_tab = write_csv_folder(tmp_path / "csv", {"vInfo": [vinfo_row()]}) / "RVTools_tabvInfo.csv"

    assert problems_of(text) == [Problem("", 0, "", "is not an xlsx workbook")]
    assert problems_of(other_zip) == [Problem("", 0, "", "is a zip file but not an xlsx workbook")]
    assert problems_of(one_tab) == [
        Problem("", 0, "", "is one tab of a CSV export: import the folder that holds its RVTools_tab<Tab>.csv files")
    ]
    assert problems_of(tmp_path / "nothing-here.xlsx") == [Problem("", 0, "", "no such file or folder")]


def test_rvtools_workbook_reaching_xfd1048576_is_refused_where_reading_stopped(tmp_path):
    rows = b'<row r="1">' + cell("A1", "VM") + cell("B1", "VM UUID") + b'</row><row r="2">' + cell("A2", "app01")
    rows += cell("B2", "5003a1b2-c3d4-e5f6-0718-293a4b5c6d7e") + b"</row>"
    far = b'<row r="1048576">' + cell("XFD1048576", "x") + b"</row>"
    path = tmp_path / "export.xlsx"
    path.write_bytes(crafted(rows, far, dimension="A1:XFD1048576", title="vInfo"))

    assert problems_of(path) == [
        Problem(
            "vInfo",
            1002,
            "",
            "1,000 empty rows in a row: reading stopped here, rows below are not read (delete the empty rows if "
            "more follow)",
        )
    ]


def test_rvtools_empty_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not an export")

    assert problems_of(tmp_path) == [
        Problem("", 0, "", "the folder holds no RVTools_tab<Tab>.csv files (an RVTools CSV export)")
    ]
