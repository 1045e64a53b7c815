"""RVTools exports (``parse_rvtools``): the tabs and columns read, and what they become in ``Inventory``.

An export is an xlsx workbook or a folder of ``RVTools_tab<Tab>.csv`` files,
from RVTools 3.x or 4.x, read as ``docs/tabular.md`` says. Columns are found
by header, never by position; unknown columns are ignored and optional ones
may be missing. Tabs read:

- ``vInfo`` (required): one VM per row. It needs the column ``VM`` and at
  least one identity column among ``VM UUID``, ``SMBIOS UUID`` and ``VM ID``;
  every row needs a value in one of them. ``VM ID`` becomes the moref (empty
  in 3.x exports, which have no such column), ``VM UUID`` the instance UUID,
  ``SMBIOS UUID`` the BIOS UUID. UUIDs are returned lower case, canonical.
- ``vTools``: tools status and version. ``vNetwork``: networks, MAC
  addresses, IPv4 and IPv6 addresses of each NIC. Their rows are joined to
  vInfo by (``VI SDK UUID`` or ``VI SDK Server``, ``VM UUID`` or ``VM ID``),
  never by VM name; rows naming a VM that vInfo does not list are ignored.
  A tab without a ``VM UUID`` or ``VM ID`` column cannot be joined and is a
  problem (delete that sheet, or export again with a newer RVTools).
- ``vHost``: hosts (name, datacenter, cluster, ``ESX Version`` split into
  product, version and build, ``UUID`` as hardware UUID, ``Object ID`` as key).
- ``vMetaData``: ``xlsx creation datetime`` is ``Inventory.observed_at``.
  Without it, observed_at is the modification time of the workbook (or of
  ``RVTools_tabvInfo.csv``): the file was written when RVTools exported it,
  which is nearer the truth than the time of the import.

One export may hold several vCenters: ``parse_rvtools`` returns one
``Inventory`` per vCenter (grouped by ``VI SDK UUID``, else ``VI SDK Server``),
in the order vInfo first names them, each with ``vcenter_uuid`` set to the
``VI SDK UUID`` (empty when the export has none). An export of several
vCenters without a ``VI SDK UUID`` for each is refused: ``Inventory`` names
its vCenter by UUID only, so their VMs (and their morefs) would mix.

Datacenters, clusters and hosts are named, not identified, by vInfo: their
keys are ``dc:<datacenter>``, ``cluster:<datacenter>/<cluster>`` and
``host:<host>``, except that a host's key is vHost's ``Object ID`` (its moref,
e.g. ``host-42``) when the export has one.

Values are read as every cell is: dates are Excel dates in xlsx and locale
strings in CSV (``3/1/2024 8:30:15 PM``, ``1.3.2024 20:30:15``,
``2024/03/01 20:30:15``, ISO 8601; a slashed date that could be D/M or M/D is
refused unless AM/PM marks the US form); RVTools writes no time zone, so they
are read as UTC. Booleans are True/False; an empty cell is "unknown" (None or
""), never false. ``HW version`` "13" or "vmx-13" becomes "vmx-13" (two
digits, as vSphere spells it: "vmx-07"). Templates keep ``is_template=True``;
SRM placeholder VMs are kept and flagged with
``custom_attributes["srm_placeholder"] = "true"`` (``SRM_PLACEHOLDER_ATTRIBUTE``).
``platform`` stays empty: these are vSphere VMs, as the vCenter collector
reports them.

Row numbers are those a person sees in Excel, the header being row 1 (for a
CSV tab, its records: a quoted value spanning lines is one row). A CSV
record with fewer values than its header was cut off, by an interrupted or
trimmed export, and is a problem: RVTools writes every value of every row.
A vInfo without any identity column is refused with the tabs and columns the
export does have, and the RVTools export that carries them. CSV tabs are
read as Windows-1252 when they are not UTF-8: RVTools runs on Windows.
"""

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventory.choices import PowerState
from inventory.imports.values import (
    POWER_STATES,
    Places,
    add_unique,
    parse_ips,
    parse_macs,
    parse_uuid,
    power_state_parser,
)
from inventory.observations import Inventory, ObservedVM
from portal.tabular import cells, csv, xlsx
from portal.tabular.files import read_limited
from portal.tabular.problems import ImportRefused, Problems
from portal.tabular.sheets import Row, Sheet

UTC = datetime.UTC

# RVTools tabs, as sheet names (and as <Tab> in RVTools_tab<Tab>.csv).
VINFO = "vInfo"
VTOOLS = "vTools"
VNETWORK = "vNetwork"
VHOST = "vHost"
VMETADATA = "vMetaData"
CSV_FOLDER_FILE = re.compile(r"RVTools_tab(?P<tab>.+)\.csv", re.IGNORECASE)

# An export of some 100,000 VMs is a few hundred MB of xlsx, read into memory whole; its XML unzips to about 15
# times that (vInfo alone is some 24 MB of XML per 10,000 VMs).
MAX_FILE_BYTES = 1024 * 1024 * 1024
MAX_EXPANDED_BYTES = 16 * MAX_FILE_BYTES
# vInfo has about 100 columns, and one more per custom attribute; the identity columns come first.
MAX_COLUMNS = 1_024

# The key of custom_attributes that flags an SRM placeholder VM (value "true").
SRM_PLACEHOLDER_ATTRIBUTE = "srm_placeholder"

# RVTools headers; a tuple lists the spellings of one column across versions.
COL_VM = ("VM",)
# vTools "Upgradeable": RVTools' reading of toolsVersionStatus2, stored in vCenter's own words.
UPGRADEABLE_YES = frozenset({"yes", "true", "1"})
TOOLS_NEED_UPGRADE = "guestToolsNeedUpgrade"
COL_VM_UUID = ("VM UUID",)
COL_VM_ID = ("VM ID",)
COL_BIOS_UUID = ("SMBIOS UUID",)
COL_VC_UUID = ("VI SDK UUID",)
COL_VC_SERVER = ("VI SDK Server",)
COL_MEMORY = ("Memory", "Memory MiB", "Memory MB")
COL_IPV4 = ("IPv4 Address", "IP Address")
COL_IPV6 = ("IPv6 Address",)
NETWORK_COLUMNS = tuple((f"Network #{number}",) for number in range(1, 9))
VM_IDENTITY_COLUMNS = (COL_VM_UUID, COL_BIOS_UUID, COL_VM_ID)


_parse_power_state = power_state_parser(POWER_STATES, "poweredOn, poweredOff, suspended")


def _parse_hardware_version(raw: Any) -> str:
    written = cells.text(raw)
    match = re.fullmatch(r"(?:vmx-)?(\d+)", written, re.IGNORECASE)
    if not match:
        raise ValueError(f"{cells.quoted(written)} is not a hardware version (vmx-13 or 13)")
    return f"vmx-{int(match[1]):02d}"


def _datastore(path: str) -> str:
    """``[ds-01] app01/app01.vmx`` → ``ds-01``."""
    match = re.match(r"\[([^\]]+)\]", path)
    return match[1].strip() if match else ""


def _split_esx_version(text: str) -> tuple[str, str]:
    """``VMware ESXi 7.0.3 build-20036589`` → (``7.0.3``, ``20036589``)."""
    version = re.search(r"\b(\d+(?:\.\d+)+)\b", text)
    build = re.search(r"build-(\d+)", text, re.IGNORECASE)
    return (version[1] if version else "", build[1] if build else "")


class _Book:
    """An opened export: a workbook or a folder of CSV tabs."""

    def __init__(self, path: Path, problems: Problems):
        self.path = path
        self.problems = problems

    def sheet(self, tab: str) -> Sheet | None:
        raise NotImplementedError

    def tabs(self) -> list[str]:
        """The tabs the export holds, as spelt in it: what a refusal names when the tab it needs is not there."""
        raise NotImplementedError

    def mtime(self) -> datetime.datetime:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _XlsxBook(_Book):
    def __init__(self, path: Path, problems: Problems, workbook: xlsx.Workbook):
        super().__init__(path, problems)
        self.workbook = workbook

    def sheet(self, tab: str) -> Sheet | None:
        worksheet = self.workbook.sheet(tab)
        if worksheet is None:
            return None
        rows = xlsx.sheet_rows(worksheet, self.problems, max_columns=MAX_COLUMNS, sheet=tab)
        return Sheet(rows, self.problems, name=tab)

    def tabs(self) -> list[str]:
        return self.workbook.titles()

    def mtime(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.path.stat().st_mtime, tz=UTC)

    def close(self) -> None:
        self.workbook.close()


class _CsvFolderBook(_Book):
    def __init__(self, path: Path, problems: Problems, files: dict[str, Path]):
        super().__init__(path, problems)
        self.files = files  # by tab, in any case

    def sheet(self, tab: str) -> Sheet | None:
        path = self.files.get(tab.casefold())
        if path is None:
            return None
        with path.open("rb") as stream:
            data = read_limited(stream, self.problems, max_bytes=MAX_FILE_BYTES, sheet=tab)
        text = None if data is None else csv.decode(data, self.problems, windows_1252=True, sheet=tab)
        records = csv.records(text, self.problems, by_line=False, sheet=tab) if text is not None else iter(())
        return Sheet(_whole_records(records, tab, self.problems), self.problems, name=tab)

    def tabs(self) -> list[str]:
        return [CSV_FOLDER_FILE.fullmatch(path.name)["tab"] for path in self.files.values()]

    def mtime(self) -> datetime.datetime:
        path = self.files.get(VINFO.casefold(), self.path)
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _whole_records(
    records: Iterator[tuple[int, list[str]]], tab: str, problems: Problems
) -> Iterator[tuple[int, list[str]]]:
    """The records of a CSV tab that are whole.

    RVTools writes every value of every row, empty or not, so a record shorter
    than the header was cut off (an interrupted or trimmed export). It is a
    problem and is not read: its last value may be cut mid-way too, and half a
    moref (vm-1 for vm-101) would be another VM's identity.
    """
    header: list[str] = []
    for number, record in records:
        if any(value.strip() for value in record):
            if not header:
                header = [name.strip() for name in record]
                while header and not header[-1]:
                    header.pop()
            elif len(record) < len(header):
                problems.add(
                    number,
                    header[len(record) - 1],
                    f"the row stops in this column, after {len(record)} of the header's {len(header)} values "
                    "(an interrupted or trimmed export); export again, or delete the row",
                    sheet=tab,
                )
                continue
        yield number, record


def _open_export(path: Path, problems: Problems) -> _Book | None:
    """The export at ``path``, or None (a problem added) when it is not one."""
    if path.is_dir():
        files: dict[str, Path] = {}
        for child in sorted(path.iterdir()):
            match = CSV_FOLDER_FILE.fullmatch(child.name)
            if match and child.is_file():
                files.setdefault(match["tab"].casefold(), child)
        if not files:
            problems.add(0, "", "the folder holds no RVTools_tab<Tab>.csv files (an RVTools CSV export)")
            return None
        return _CsvFolderBook(path, problems, files)
    if not path.is_file():
        problems.add(0, "", "no such file or folder")
        return None
    if CSV_FOLDER_FILE.fullmatch(path.name):
        problems.add(0, "", "is one tab of a CSV export: import the folder that holds its RVTools_tab<Tab>.csv files")
        return None
    with path.open("rb") as stream:
        data = read_limited(stream, problems, max_bytes=MAX_FILE_BYTES)
    workbook = None if data is None else xlsx.workbook_open(data, problems, max_expanded=MAX_EXPANDED_BYTES)
    return None if workbook is None else _XlsxBook(path, problems, workbook)


# One vCenter's share of the export.


@dataclass
class _Entry:
    vm: ObservedVM
    row: int
    host: str


@dataclass
class _VCenter(Places):
    uuid: str = ""
    server: str = ""
    entries: list[_Entry] = field(default_factory=list)
    by_instance_uuid: dict[str, _Entry] = field(default_factory=dict)
    by_moref: dict[str, _Entry] = field(default_factory=dict)

    def find(self, instance_uuid: str, moref: str) -> _Entry | None:
        return (
            (instance_uuid and self.by_instance_uuid.get(instance_uuid)) or (moref and self.by_moref.get(moref)) or None
        )

    def inventory(self, observed_at: datetime.datetime) -> Inventory:
        for entry in self.entries:
            entry.vm.host_key = self.hosts[entry.host].key if entry.host else ""
        return Inventory(
            observed_at=observed_at,
            vcenter_uuid=self.uuid,
            datacenters=list(self.datacenters.values()),
            clusters=list(self.clusters.values()),
            hosts=list(self.hosts.values()),
            vms=[entry.vm for entry in self.entries],
        )


class _RVToolsReader:
    def __init__(self, book: _Book, problems: Problems):
        self.book = book
        self.problems = problems
        self.vcenters: dict[str, _VCenter] = {}
        self.server_uuids: dict[str, str] = {}  # VI SDK Server (casefolded) → VI SDK UUID

    def read(self) -> list[Inventory]:
        self.read_vinfo()
        self.read_vhost()
        self.read_vtools()
        self.read_vnetwork()
        observed_at = self.read_observed_at()
        if self.problems:
            return []
        return [vcenter.inventory(observed_at) for vcenter in self.vcenters.values()]

    def _vcenter_key(self, row: Row) -> tuple[str, str]:
        """(key, VI SDK UUID) of the vCenter a row belongs to: its UUID, else its server name."""
        vcenter_uuid = row.parse(parse_uuid, COL_VC_UUID, default="")
        server = row.text(COL_VC_SERVER).casefold()
        if vcenter_uuid:
            if server:
                self.server_uuids.setdefault(server, vcenter_uuid)
            return vcenter_uuid, vcenter_uuid
        if server in self.server_uuids:
            return self.server_uuids[server], self.server_uuids[server]
        return (f"server:{server}" if server else ""), ""

    def _check_vcenters(self, sheet: Sheet) -> None:
        """Several vCenters need their VI SDK UUIDs: an Inventory names its vCenter by UUID only."""
        if len(self.vcenters) > 1 and not all(vcenter.uuid for vcenter in self.vcenters.values()):
            servers = ", ".join(vcenter.server or "(none)" for vcenter in self.vcenters.values())
            sheet.problem(
                sheet.column(COL_VC_UUID) or COL_VC_UUID[0],
                f"the export holds {len(self.vcenters)} vCenters ({servers}) but not each with a VI SDK UUID, "
                "so their VMs cannot be told apart; export each vCenter on its own",
            )

    def _found_tabs(self) -> str:
        return f"Found tabs: {', '.join(self.book.tabs())}"

    def _open(self, tab: str) -> Sheet | None:
        sheet = self.book.sheet(tab)
        if sheet is not None and sheet.empty:
            return None
        return sheet

    def read_vinfo(self) -> None:
        sheet = self.book.sheet(VINFO)
        if sheet is None:
            self.problems.add(
                0,
                "",
                f"the export has no vInfo tab (sheet vInfo or RVTools_tabvInfo.csv). {self._found_tabs()}",
                sheet=VINFO,
            )
            return
        if sheet.empty:
            if not self.problems:  # else reading it failed, and said why
                sheet.problem("", "the vInfo tab is empty: no header, no VM")
            return
        usable = True
        if not sheet.column(COL_VM):
            sheet.problem(COL_VM[0], "missing column")
            usable = False
        if not sheet.has(*VM_IDENTITY_COLUMNS):
            found_columns = ", ".join(name for _, name in sorted(sheet.header.values()))
            sheet.problem(
                COL_VM_UUID[0],
                "missing column: vInfo needs VM UUID, SMBIOS UUID or VM ID to tell its VMs apart (never by name). "
                f"{self._found_tabs()}; vInfo columns: {found_columns}. "
                "A full export from RVTools (File > Export all to Excel) has the VM UUID column",
            )
            usable = False
        if not usable:
            return
        any_row = False
        for row in sheet.rows():
            any_row = True
            self.read_vinfo_row(row)
        if not any_row:
            sheet.problem("", "lists no VM below the header")
        self._check_vcenters(sheet)

    def read_vinfo_row(self, row: Row) -> None:
        name = row.text(COL_VM)
        if not name:
            row.problem(row.sheet.column(COL_VM), "is required")
        identified = any(row.text(column) for column in VM_IDENTITY_COLUMNS)
        if not identified:
            first = next(row.sheet.column(column) for column in VM_IDENTITY_COLUMNS if row.sheet.column(column))
            row.problem(first, "no identity: VM UUID, SMBIOS UUID and VM ID are all empty")
        key, vcenter_uuid = self._vcenter_key(row)
        # A row without identity is refused already; trimmed by hand, it has lost its VI SDK columns too and
        # must not be counted as one more vCenter (which would add a second, misleading problem).
        vcenter = _VCenter(uuid=vcenter_uuid)
        if identified:
            vcenter = self.vcenters.setdefault(key, _VCenter(uuid=vcenter_uuid, server=row.text(COL_VC_SERVER)))
        instance_uuid = row.parse(parse_uuid, COL_VM_UUID, default="")
        moref = row.text(COL_VM_ID)
        duplicate = False
        for value, index, columns in (
            (instance_uuid, vcenter.by_instance_uuid, COL_VM_UUID),
            (moref, vcenter.by_moref, COL_VM_ID),
        ):
            if value and value in index:
                row.problem(row.sheet.column(columns), f"{value} is already on row {index[value].row}")
                duplicate = True

        datacenter, cluster, host = row.text(("Datacenter",)), row.text(("Cluster",)), row.text(("Host",))
        datacenter_key, cluster_key = vcenter.place(datacenter, cluster, host)
        networks: list[str] = []
        add_unique(networks, [row.text(columns) for columns in NETWORK_COLUMNS])
        primary_ip = row.parse(parse_ips, ("Primary IP Address",), default=[])
        datastore = _datastore(row.text(("Path",)))
        srm_placeholder = row.parse(cells.boolean, ("SRM Placeholder",))
        vm = ObservedVM(
            moref=moref,
            name=name,
            instance_uuid=instance_uuid,
            bios_uuid=row.parse(parse_uuid, COL_BIOS_UUID, default=""),
            power_state=row.parse(_parse_power_state, ("Powerstate",), default=PowerState.UNKNOWN.value),
            is_template=bool(row.parse(cells.boolean, ("Template",))),
            datacenter_key=datacenter_key,
            cluster_key=cluster_key,
            resource_pool=row.text(("Resource pool",)),
            folder=row.text(("Folder",)),
            datastores=[datastore] if datastore else [],
            networks=networks,
            ip_addresses=primary_ip,
            guest_os=row.text(("OS according to the configuration file",)),
            guest_os_tools=row.text(("OS according to the VMware Tools",)),
            hardware_version=row.parse(_parse_hardware_version, ("HW version",), default=""),
            cpu_count=row.parse(cells.whole_number, ("CPUs",)),
            memory_mb=row.parse(cells.whole_number, COL_MEMORY),
            created_at=row.parse(cells.datetime_utc, ("Creation date",)),
            annotation=row.text(("Annotation",)),
            custom_attributes={SRM_PLACEHOLDER_ATTRIBUTE: "true"} if srm_placeholder else {},
            boot_time=row.parse(cells.datetime_utc, ("PowerOn",)),
        )
        if duplicate:
            return
        entry = _Entry(vm=vm, row=row.number, host=host)
        vcenter.entries.append(entry)
        if instance_uuid:
            vcenter.by_instance_uuid[instance_uuid] = entry
        if moref:
            vcenter.by_moref[moref] = entry

    def _vcenter_of(self, sheet: Sheet, row: Row) -> _VCenter | None:
        if sheet.has(COL_VC_UUID, COL_VC_SERVER):
            return self.vcenters.get(self._vcenter_key(row)[0])
        return next(iter(self.vcenters.values())) if len(self.vcenters) == 1 else None

    def _check_joinable(self, sheet: Sheet) -> bool:
        """Whether rows of a tab can be matched to vInfo's VMs; a problem on its header if not."""
        joinable = True
        if not sheet.has(COL_VM_UUID, COL_VM_ID):
            sheet.problem(
                COL_VM_UUID[0],
                f"missing column: without VM UUID or VM ID, {sheet.name} rows cannot be matched to vInfo "
                "(never by VM name); delete this tab or export with a newer RVTools",
            )
            joinable = False
        if not sheet.has(COL_VC_UUID, COL_VC_SERVER) and len(self.vcenters) > 1:
            sheet.problem(
                COL_VC_UUID[0],
                f"missing column: the export holds {len(self.vcenters)} vCenters and without VI SDK UUID or "
                f"VI SDK Server, {sheet.name} rows cannot be matched to one of them",
            )
            joinable = False
        return joinable

    def _vm_rows(self, tab: str) -> Iterator[tuple[Row, _Entry | None]]:
        """Rows of a per-VM tab, each with the vInfo VM it is about (None: not in vInfo, or in error)."""
        sheet = self._open(tab)
        if sheet is None or not self._check_joinable(sheet):
            return
        for row in sheet.rows():
            instance_uuid = row.parse(parse_uuid, COL_VM_UUID, default="")
            moref = row.text(COL_VM_ID)
            if not row.text(COL_VM_UUID) and not moref:
                row.problem(
                    sheet.column(COL_VM_UUID) or sheet.column(COL_VM_ID),
                    "no identity: VM UUID and VM ID are both empty",
                )
            vcenter = self._vcenter_of(sheet, row)
            yield row, (vcenter.find(instance_uuid, moref) if vcenter else None)

    def read_vtools(self) -> None:
        for row, entry in self._vm_rows(VTOOLS):
            if entry is not None:
                entry.vm.tools_status = row.text(("Tools",)) or entry.vm.tools_status
                entry.vm.tools_version = row.text(("Tools Version",)) or entry.vm.tools_version
                if row.text(("Upgradeable",)).strip().lower() in UPGRADEABLE_YES:
                    entry.vm.tools_version_status = TOOLS_NEED_UPGRADE

    def read_vnetwork(self) -> None:
        for row, entry in self._vm_rows(VNETWORK):
            macs = row.parse(parse_macs, ("Mac Address",), default=[])
            ips = row.parse(parse_ips, COL_IPV4, default=[]) + row.parse(parse_ips, COL_IPV6, default=[])
            if entry is not None:
                add_unique(entry.vm.networks, [row.text(("Network",))])
                add_unique(entry.vm.mac_addresses, macs)
                add_unique(entry.vm.ip_addresses, ips)

    def read_vhost(self) -> None:
        sheet = self._open(VHOST)
        if sheet is None:
            return
        if not sheet.has(COL_VC_UUID, COL_VC_SERVER) and len(self.vcenters) > 1:
            sheet.problem(
                COL_VC_UUID[0],
                f"missing column: the export holds {len(self.vcenters)} vCenters and without VI SDK UUID or "
                "VI SDK Server, hosts cannot be matched to one of them",
            )
            return
        for row in sheet.rows():
            name = row.text(("Host",))
            if not name:
                row.problem(sheet.column(("Host",)) or "Host", "is required")
            hardware_uuid = row.parse(parse_uuid, ("UUID",), default="")
            vcenter = self._vcenter_of(sheet, row)
            if vcenter is None or not name:
                continue  # a host of no vCenter that vInfo lists: nothing to attach it to
            datacenter_key, cluster_key = vcenter.place(row.text(("Datacenter",)), row.text(("Cluster",)), name)
            host = vcenter.hosts[name]
            host.key = row.text(("Object ID",)) or host.key
            host.hardware_uuid = hardware_uuid or host.hardware_uuid
            host.datacenter_key = datacenter_key or host.datacenter_key
            host.cluster_key = cluster_key or host.cluster_key
            product = row.text(("ESX Version",))
            if product:
                host.product = product
                host.version, host.build = _split_esx_version(product)

    def read_observed_at(self) -> datetime.datetime:
        sheet = self._open(VMETADATA)
        if sheet is not None:
            for row in sheet.rows():
                created = row.parse(cells.datetime_utc, ("xlsx creation datetime",))
                if created is not None:
                    return created
        return self.book.mtime()


def parse_rvtools(path: Path) -> list[Inventory]:
    """Read an RVTools export (xlsx workbook or folder of CSV tabs) into one ``Inventory`` per vCenter.

    Raises ``ImportRefused`` listing every problem; see the module docstring for what is read.
    """
    problems = Problems()
    book = _open_export(Path(path), problems)
    if book is None:
        raise ImportRefused(problems)
    try:
        inventories = _RVToolsReader(book, problems).read()
    finally:
        book.close()
    if problems:
        raise ImportRefused(problems)
    return inventories
