"""The VM CSV (``parse_vm_csv``): VMs of platforms without an API vmcensus talks to, one per line.

For platforms without an API vmcensus talks to (Hyper-V, KVM, Xen,
VirtualBox, VMware Workstation, cloud ...): ``manage.py import_vms FILE.csv``.
The file is read as ``docs/tabular.md`` says (UTF-8, comma, semicolon or tab,
a PowerShell ``#TYPE`` line skipped), header first, column names in any order
and spelling (``vm_id``, ``VM ID``). ``docs/import-vms.md`` is the guide for
the people who write these files.

=============== ======== =====================================================
column          required value
=============== ======== =====================================================
name            yes      the VM's name
vm_id           yes      the platform's stable id of the VM (Hyper-V VMId,
                         libvirt UUID, cloud instance id ...); unique in the
                         file, compared exactly; it becomes the VM's moref
bios_uuid                SMBIOS UUID, as seen by the guest
platform                 hyperv, kvm, xen, virtualbox, vmware-workstation,
                         vmware-esxi, cloud or other (else ``platform_default``)
host                     hypervisor host name
cluster                  cluster name
datacenter               datacenter or site name
power_state              on, off or suspended (poweredOn / poweredOff too);
                         empty is unknown
guest_os                 guest operating system
ip_addresses             IPv4 / IPv6 addresses separated by ``;``, ``,`` or spaces
mac_addresses            MAC addresses (``00:15:5d:01:02:03``,
                         ``00-15-5D-01-02-03`` or ``00155D010203``), same
                         separators
networks                 network names separated by ``;``
cpu_count                virtual CPUs, a whole number
memory_mb                memory in MB, a whole number
created_at               a date and time as ``docs/tabular.md`` reads them; UTC
                         unless it says
created_by               who created the VM
annotation               free text
folder                   folder or group path
=============== ======== =====================================================

Any other column is refused (a misspelt column would otherwise be dropped
without a word). Problems name the line on which the record starts. ``Inventory.vcenter_uuid`` stays empty; hosts,
clusters and datacenters get the name-derived keys described above.
"""

import datetime
from typing import IO

from inventory.choices import Platform, PowerState
from inventory.imports import values
from inventory.observations import Inventory, ObservedVM
from portal.tabular import cells, csv
from portal.tabular.files import read_limited
from portal.tabular.problems import ImportRefused, Numbering, Problems
from portal.tabular.sheets import Row, Sheet

VM_CSV_COLUMNS = (
    "name",
    "vm_id",
    "bios_uuid",
    "platform",
    "host",
    "cluster",
    "datacenter",
    "power_state",
    "guest_os",
    "ip_addresses",
    "mac_addresses",
    "networks",
    "cpu_count",
    "memory_mb",
    "created_at",
    "created_by",
    "annotation",
    "folder",
)
VM_CSV_REQUIRED = ("name", "vm_id")
COLUMN_KEYS = {cells.key(column): column for column in VM_CSV_COLUMNS}
PLATFORMS = tuple(Platform.values)
# A file of 100,000 VMs is some 30 MB; the file is read into memory whole.
MAX_FILE_BYTES = 256 * 1024 * 1024


_parse_power_state = values.power_state_parser(
    {**values.POWER_STATES, "on": PowerState.ON.value, "off": PowerState.OFF.value}, "on, off, suspended"
)


def _header_checked(sheet: Sheet) -> bool:
    """Name every problem of the header line; True when the file can be read by it."""
    if sheet.empty:
        sheet.problems.add(0, "", f"is empty; expected the columns {', '.join(VM_CSV_COLUMNS)}")
        return False
    seen: set[str] = set()
    for position, spelt in enumerate(sheet.headers):
        column = COLUMN_KEYS.get(cells.key(spelt))
        if not spelt:
            sheet.problem(f"column {position + 1}", "has no name")
        elif column in seen:
            sheet.problem(spelt, "appears twice in the header")
        elif column is None:
            sheet.problem(spelt, f"unknown column; the columns are {', '.join(VM_CSV_COLUMNS)}")
        else:
            seen.add(column)
    missing = [column for column in VM_CSV_REQUIRED if column not in seen]
    for column in missing:
        sheet.problem(column, "missing column")
    return not missing


def parse_vm_csv(
    stream: IO[bytes], *, platform_default: str = "", observed_at: datetime.datetime | None = None
) -> Inventory:
    """Read the VM CSV (columns ``VM_CSV_COLUMNS``, see the module docstring) into one ``Inventory``.

    ``platform_default`` is the platform of rows whose ``platform`` is empty;
    ``observed_at`` defaults to now. Raises ``ImportRefused`` listing
    every problem with its line and column.
    """
    problems = Problems(Numbering.LINE)
    default_platform = platform_default.strip().lower()
    if default_platform and default_platform not in PLATFORMS:
        problems.add(0, "platform", f"default {platform_default!r} is not one of {', '.join(PLATFORMS)}")
    data = read_limited(stream, problems, max_bytes=MAX_FILE_BYTES)
    text = None if data is None else csv.decode(data, problems)
    if text is None:
        raise ImportRefused(problems)
    known = len(problems)
    sheet = Sheet(csv.records(text, problems, by_line=True), problems)
    # Refused when the text cannot be read (a quote left open) or its header names the columns wrong.
    if len(problems) > known or not _header_checked(sheet):
        raise ImportRefused(problems)

    inventory = Inventory(observed_at=observed_at or datetime.datetime.now(tz=datetime.UTC))
    places = values.Places()
    host_lines: dict[str, tuple[int, str, str]] = {}
    vm_id_lines: dict[str, int] = {}
    for row in sheet.rows():
        if row.beyond_header():
            row.problem("", f"has {len(row.values)} values but the header has {len(sheet.headers)} columns")
        inventory.vms.append(_vm(row, default_platform, places, host_lines, vm_id_lines))
    if not inventory.vms:
        sheet.problem("", "lists no VM below the header")
    if problems:
        raise ImportRefused(problems)
    inventory.datacenters = list(places.datacenters.values())
    inventory.clusters = list(places.clusters.values())
    inventory.hosts = list(places.hosts.values())
    return inventory


def _vm(
    row: Row,
    default_platform: str,
    places: values.Places,
    host_lines: dict[str, tuple[int, str, str]],
    vm_id_lines: dict[str, int],
) -> ObservedVM:
    for name in VM_CSV_REQUIRED:
        if not row.text(name):
            row.problem(row.sheet.column(name) or name, "is required")
    vm_id = row.text("vm_id")
    if vm_id in vm_id_lines:
        row.problem(row.sheet.column("vm_id"), f"{vm_id} is already on line {vm_id_lines[vm_id]}")
    elif vm_id:
        vm_id_lines[vm_id] = row.number

    platform = row.text("platform").lower() or default_platform
    if platform not in PLATFORMS:
        if row.text("platform"):
            row.problem(
                row.sheet.column("platform"),
                f"{cells.quoted(row.text('platform'))} is not one of {', '.join(PLATFORMS)}",
            )
        platform = ""
    datacenter, cluster, host = row.text("datacenter"), row.text("cluster"), row.text("host")
    if host in host_lines and host_lines[host][1:] != (datacenter, cluster):
        first_line, first_datacenter, first_cluster = host_lines[host]
        row.problem(
            row.sheet.column("host"),
            f"{host} is in datacenter {first_datacenter!r}, cluster {first_cluster!r} on line {first_line}",
        )
    elif host:
        host_lines.setdefault(host, (row.number, datacenter, cluster))
    datacenter_key, cluster_key = places.place(datacenter, cluster, host)
    networks: list[str] = []
    values.add_unique(networks, [network.strip() for network in row.text("networks").split(";")])
    return ObservedVM(
        moref=vm_id,
        name=row.text("name"),
        bios_uuid=row.parse(values.parse_uuid, "bios_uuid", ""),
        power_state=row.parse(_parse_power_state, "power_state", PowerState.UNKNOWN.value),
        datacenter_key=datacenter_key,
        cluster_key=cluster_key,
        host_key=f"host:{host}" if host else "",
        folder=row.text("folder"),
        networks=networks,
        mac_addresses=row.parse(values.parse_macs, "mac_addresses", []),
        ip_addresses=row.parse(values.parse_ips, "ip_addresses", []),
        guest_os=row.text("guest_os"),
        cpu_count=row.parse(cells.whole_number, "cpu_count"),
        memory_mb=row.parse(cells.whole_number, "memory_mb"),
        created_at=row.parse(cells.datetime_utc, "created_at"),
        created_by=row.text("created_by"),
        annotation=row.text("annotation"),
        platform=platform,
    )
