"""Parsing of the VM CSV into ``Inventory``: every fact of a VM, every bad cell named by its line."""

import datetime
import io

import pytest

from inventory.imports.vm_csv import parse_vm_csv
from inventory.observations import (
    Inventory,
    ObservedCluster,
    ObservedDatacenter,
    ObservedHost,
    ObservedVM,
)
from portal.tabular.problems import ImportRefused, Numbering, Problem

UTC = datetime.UTC


def line(number: int, column: str, message: str) -> Problem:
    """A problem of the VM CSV: numbered by line."""
    return Problem("", number, column, message, Numbering.LINE)


def csv_bytes(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


VM_CSV_HEADER = (
    "name,vm_id,bios_uuid,platform,host,cluster,datacenter,power_state,guest_os,ip_addresses,mac_addresses,"
    "networks,cpu_count,memory_mb,created_at,created_by,annotation,folder\n"
)
HYPERV_ROW = (
    "sql01,8F2C6A1E-3B4D-4E5F-8A9B-0C1D2E3F4A5B,4C4C4544-0031-3510-8058-B5C04F4B3132,hyperv,hv01,"
    "HVCluster,Paris,on,Windows Server 2022 Datacenter,10.2.0.5; fe80::1 10.2.0.6,00-15-5D-01-02-03;00155D010204,"
    'LAN;Backup Net,8,32768,2023-06-01T09:15:00+02:00,CORP\\jdoe,"SQL for billing, PCI",Production/SQL\n'
)
EXPECTED_SQL01 = ObservedVM(
    moref="8F2C6A1E-3B4D-4E5F-8A9B-0C1D2E3F4A5B",
    name="sql01",
    instance_uuid="",
    bios_uuid="4c4c4544-0031-3510-8058-b5c04f4b3132",
    power_state="poweredOn",
    is_template=False,
    datacenter_key="dc:Paris",
    cluster_key="cluster:Paris/HVCluster",
    host_key="host:hv01",
    resource_pool="",
    folder="Production/SQL",
    datastores=[],
    networks=["LAN", "Backup Net"],
    mac_addresses=["00:15:5d:01:02:03", "00:15:5d:01:02:04"],
    ip_addresses=["10.2.0.5", "fe80::1", "10.2.0.6"],
    guest_os="Windows Server 2022 Datacenter",
    guest_os_tools="",
    tools_status="",
    tools_version="",
    hardware_version="",
    cpu_count=8,
    memory_mb=32768,
    created_at=datetime.datetime(2023, 6, 1, 7, 15, tzinfo=UTC),
    created_by="CORP\\jdoe",
    annotation="SQL for billing, PCI",
    custom_attributes={},
    advanced_settings={},
    boot_time=None,
    platform="hyperv",
)
SCANNED = datetime.datetime(2024, 4, 1, 6, 0, tzinfo=UTC)


def csv_problems(text: str, **options) -> list[Problem]:
    with pytest.raises(ImportRefused) as raised:
        parse_vm_csv(csv_bytes(text), **options)
    return raised.value.problems


def test_vm_csv_gives_every_fact_of_a_vm_and_its_hierarchy():
    inventory = parse_vm_csv(csv_bytes(VM_CSV_HEADER + HYPERV_ROW), observed_at=SCANNED)

    assert inventory == Inventory(
        observed_at=SCANNED,
        vcenter_uuid="",
        datacenters=[ObservedDatacenter(key="dc:Paris", name="Paris")],
        clusters=[ObservedCluster(key="cluster:Paris/HVCluster", name="HVCluster", datacenter_key="dc:Paris")],
        hosts=[
            ObservedHost(key="host:hv01", name="hv01", cluster_key="cluster:Paris/HVCluster", datacenter_key="dc:Paris")
        ],
        vms=[EXPECTED_SQL01],
    )


def test_vm_csv_needs_only_name_and_vm_id_and_takes_the_default_platform():
    before = datetime.datetime.now(tz=UTC)

    inventory = parse_vm_csv(
        csv_bytes("vm_id,name,platform\nvbox-1,dev-box,\n42,lab,virtualbox\n"), platform_default="KVM"
    )

    assert inventory.vms == [
        ObservedVM(moref="vbox-1", name="dev-box", platform="kvm"),
        ObservedVM(moref="42", name="lab", platform="virtualbox"),
    ]
    assert inventory.vms[0].power_state == "unknown"
    assert before <= inventory.observed_at <= datetime.datetime.now(tz=UTC)
    assert (inventory.vcenter_uuid, inventory.datacenters, inventory.clusters, inventory.hosts) == ("", [], [], [])


def test_vm_csv_from_excel_or_powershell_reads_the_same():
    # Semicolons (Excel in many locales), a BOM, header case and spaces, a #TYPE line, CRLF, a blank line.
    powershell = (
        "\ufeff#TYPE Selected.Microsoft.HyperV.PowerShell.VirtualMachine\r\n"
        + VM_CSV_HEADER.upper().replace(",", " ; ").replace("\n", "\r\n")
        + "\r\n"
        + '"sql01";"8F2C6A1E-3B4D-4E5F-8A9B-0C1D2E3F4A5B";"4C4C4544-0031-3510-8058-B5C04F4B3132";"hyperv";"hv01";'
        '"HVCluster";"Paris";"On";"Windows Server 2022 Datacenter";"10.2.0.5, fe80::1 10.2.0.6";'
        '"00-15-5D-01-02-03 00155D010204";"LAN; Backup Net";"8";"32768";"2023-06-01 07:15:00";"CORP\\jdoe";'
        '"SQL for billing, PCI";"Production/SQL"\r\n'
    )

    inventory = parse_vm_csv(csv_bytes(powershell), observed_at=SCANNED)

    assert inventory.vms == [EXPECTED_SQL01]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2023-06-01", datetime.datetime(2023, 6, 1, tzinfo=UTC)),
        ("2023-06-01T09:15:00Z", datetime.datetime(2023, 6, 1, 9, 15, tzinfo=UTC)),
        ("2023-06-01 09:15", datetime.datetime(2023, 6, 1, 9, 15, tzinfo=UTC)),
        ("1 Jun 2023 9:15 AM", datetime.datetime(2023, 6, 1, 9, 15, tzinfo=UTC)),
        ("1.6.2023 09:15", datetime.datetime(2023, 6, 1, 9, 15, tzinfo=UTC)),
    ],
)
def test_vm_csv_created_at_as_every_date_and_time_is_read(cell, expected):
    inventory = parse_vm_csv(csv_bytes(f"name,vm_id,created_at\na,1,{cell}\n"))
    assert inventory.vms[0].created_at == expected


@pytest.mark.parametrize(
    ("cell", "expected"), [("off", "poweredOff"), ("SUSPENDED", "suspended"), ("poweredOn", "poweredOn")]
)
def test_vm_csv_power_states(cell, expected):
    assert parse_vm_csv(csv_bytes(f"name,vm_id,power_state\na,1,{cell}\n")).vms[0].power_state == expected


def test_vm_csv_reports_every_bad_cell_at_once():
    text = (
        "name,vm_id,bios_uuid,platform,power_state,ip_addresses,mac_addresses,cpu_count,memory_mb,created_at,host,cluster\n"
        "ok,vm-1,,,,,,,,,hv01,C1\n"
        ",vm-2,not-a-uuid,vmware,running,10.0.0.1;10.0.0.999,00:15:5d,two,1.5,01/06/2023,,\n"
        "dup,vm-1,,,,,,,,,hv01,C2\n"
        "\n"
        'noid,,,,,"a b",,,,,,,extra\n'
    )

    assert csv_problems(text) == [
        line(3, "bios_uuid", "'not-a-uuid' is not a UUID"),
        line(3, "cpu_count", "'two' is not a whole number (0 or more)"),
        line(
            3,
            "created_at",
            "'01/06/2023' is ambiguous (D/M/YYYY or M/D/YYYY?): write it as YYYY-MM-DD (2024-03-05), YYYY/MM/DD, "
            "D.M.YYYY or 5 Mar 2024",
        ),
        line(3, "ip_addresses", "'10.0.0.999' is not an IP address"),
        line(3, "mac_addresses", "'00:15:5d' is not a MAC address"),
        line(3, "memory_mb", "'1.5' is not a whole number (0 or more)"),
        line(3, "name", "is required"),
        line(
            3,
            "platform",
            "'vmware' is not one of vmware-esxi, vmware-workstation, hyperv, kvm, xen, virtualbox, cloud, other",
        ),
        line(3, "power_state", "'running' is not a power state (on, off, suspended)"),
        line(4, "host", "hv01 is in datacenter '', cluster 'C1' on line 2"),
        line(4, "vm_id", "vm-1 is already on line 2"),
        line(6, "", "has 13 values but the header has 12 columns"),
        line(6, "ip_addresses", "'a' is not an IP address; 'b' is not an IP address"),
        line(6, "vm_id", "is required"),
    ]


def test_vm_csv_lines_are_where_a_record_starts():
    text = 'name,vm_id,annotation,cpu_count\na,1,"two\nlines",1\nb,2,,x\n'
    assert csv_problems(text) == [line(4, "cpu_count", "'x' is not a whole number (0 or more)")]


def test_vm_csv_header_problems():
    text = "Name,hostname,name,,memory\nweb,h,web,,1\n"
    columns = ", ".join(
        [
            "name", "vm_id", "bios_uuid", "platform", "host", "cluster", "datacenter", "power_state", "guest_os",
            "ip_addresses", "mac_addresses", "networks", "cpu_count", "memory_mb", "created_at", "created_by",
            "annotation", "folder",
        ]
    )  # fmt: skip

    assert csv_problems(text) == [
        line(1, "column 4", "has no name"),
        line(1, "hostname", f"unknown column; the columns are {columns}"),
        line(1, "memory", f"unknown column; the columns are {columns}"),
        line(1, "name", "appears twice in the header"),
        line(1, "vm_id", "missing column"),
    ]


def test_vm_csv_headers_are_read_in_any_spelling():
    inventory = parse_vm_csv(csv_bytes("Name;VM ID;Memory MB;Created at\nweb01;vm-1;4.096;13/1/2024 08:30\n"))

    assert [(vm.name, vm.moref, vm.memory_mb, vm.created_at) for vm in inventory.vms] == [
        ("web01", "vm-1", 4096, datetime.datetime(2024, 1, 13, 8, 30, tzinfo=UTC))
    ]


def test_vm_csv_a_quote_never_closed_is_refused_naming_its_line():
    text = 'name,vm_id,annotation\na,1,"left open\nb,2,\nc,3,\n'

    assert csv_problems(text) == [
        line(0, "", "a quote opened on line 2 is never closed: close it (or remove it); nothing was read")
    ]


def test_vm_csv_empty_file_header_only_and_bad_default_platform():
    assert csv_problems("") == [
        line(
            0,
            "",
            "is empty; expected the columns name, vm_id, bios_uuid, platform, host, cluster, datacenter, "
            "power_state, guest_os, ip_addresses, mac_addresses, networks, cpu_count, memory_mb, created_at, "
            "created_by, annotation, folder",
        )
    ]
    assert csv_problems("name,vm_id\n\n") == [line(1, "", "lists no VM below the header")]
    assert csv_problems("name,vm_id\na,1\n", platform_default="hyper-v") == [
        line(
            0,
            "platform",
            "default 'hyper-v' is not one of vmware-esxi, vmware-workstation, hyperv, kvm, xen, virtualbox, cloud, "
            "other",
        )
    ]


def test_vm_csv_same_host_name_under_one_cluster_is_one_host():
    text = "name,vm_id,host,cluster\na,1,kvm01,\nb,2,kvm01,\nc,3,kvm02,Lab\n"

    inventory = parse_vm_csv(csv_bytes(text))

    assert inventory.hosts == [
        ObservedHost(key="host:kvm01", name="kvm01"),
        ObservedHost(key="host:kvm02", name="kvm02", cluster_key="cluster:/Lab"),
    ]
    assert inventory.clusters == [ObservedCluster(key="cluster:/Lab", name="Lab")]
    assert [vm.host_key for vm in inventory.vms] == ["host:kvm01", "host:kvm01", "host:kvm02"]
