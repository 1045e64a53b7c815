"""Read inventory files into ``Inventory`` observations: RVTools exports and the vmcensus VM CSV.

Pure parsing: nothing here touches the database. The import service applies
what these functions return inside one transaction. Both readers check the
whole file first and raise ``InventoryImportError`` listing every problem
(sheet, row, column, message); they never return part of a file.

RVTools (``parse_rvtools``)
---------------------------
An export is an xlsx workbook or a folder of ``RVTools_tab<Tab>.csv`` files,
from RVTools 3.x or 4.x. Columns are found by header (case and spacing
ignored), never by position; unknown columns are ignored and optional ones may
be missing. Tabs read:

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

Values: dates are Excel dates in xlsx and locale strings in CSV (ISO 8601,
``M/D/YYYY h:mm:ss AM/PM``, ``D.M.YYYY HH:MM:SS`` and ``YYYY/MM/DD HH:MM:SS``,
seconds optional; the last two also without the time; M/D/YYYY never without
AM/PM, which alone tells it from D/M/YYYY); RVTools writes no time zone, so
they are read as UTC. Booleans are True/False; an empty cell is "unknown" (None or ""), never
false. ``HW version`` "13" or "vmx-13" becomes "vmx-13" (two digits, as
vSphere spells it: "vmx-07"). Templates keep ``is_template=True``; SRM
placeholder VMs are kept and flagged with ``custom_attributes["srm_placeholder"]
= "true"`` (``SRM_PLACEHOLDER_ATTRIBUTE``). ``platform`` stays empty: these
are vSphere VMs, as the vCenter collector reports them.

Row numbers are those a person sees in Excel, the header being row 1 (for a
CSV tab, its records: a quoted value spanning lines is one row). A CSV
record with fewer values than its header was cut off, by an interrupted or
trimmed export, and is a problem: RVTools writes every value of every row.
A vInfo without any identity column is refused with the tabs and columns the
export does have, and the RVTools export that carries them.

VM CSV (``parse_vm_csv``)
-------------------------
For platforms without an API vmcensus talks to (Hyper-V, KVM, Xen,
VirtualBox, VMware Workstation, cloud ...): ``manage.py import_vms FILE.csv``.
UTF-8 (a BOM is fine), comma-separated (semicolon or tab are detected from
the header line), header on the first line (a PowerShell ``#TYPE`` line before
it is skipped), column names in any order and case. ``docs/import-vms.md`` is
the guide for the people who write these files.

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
created_at               ISO 8601 date or date and time; UTC unless it says
created_by               who created the VM
annotation               free text
folder                   folder or group path
=============== ======== =====================================================

Any other column is refused (a misspelt column would otherwise be dropped
without a word). Problems are reported with sheet ``"csv"`` and the line on
which the record starts. ``Inventory.vcenter_uuid`` stays empty; hosts,
clusters and datacenters get the name-derived keys described above.
"""

import csv
import datetime
import io
import ipaddress
import re
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from openpyxl import load_workbook
from openpyxl.utils.datetime import from_excel

from inventory.choices import Platform, PowerState
from inventory.observations import (
    Inventory,
    ObservedCluster,
    ObservedDatacenter,
    ObservedHost,
    ObservedVM,
)

UTC = datetime.UTC

# RVTools tabs, as sheet names (and as <Tab> in RVTools_tab<Tab>.csv).
VINFO = "vInfo"
VTOOLS = "vTools"
VNETWORK = "vNetwork"
VHOST = "vHost"
VMETADATA = "vMetaData"
CSV_FOLDER_FILE = re.compile(r"RVTools_tab(?P<tab>.+)\.csv", re.IGNORECASE)

# The key of custom_attributes that flags an SRM placeholder VM (value "true").
SRM_PLACEHOLDER_ATTRIBUTE = "srm_placeholder"

# RVTools headers; a tuple lists the spellings of one column across versions.
COL_VM = ("VM",)
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

# The vmcensus VM CSV.
CSV_SHEET = "csv"
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
PLATFORMS = tuple(Platform.values)

POWER_STATES = {
    "poweredon": PowerState.ON.value,
    "poweredoff": PowerState.OFF.value,
    "suspended": PowerState.SUSPENDED.value,
}
VM_CSV_POWER_STATES = {**POWER_STATES, "on": PowerState.ON.value, "off": PowerState.OFF.value}

# Locale formats RVTools writes dates in, tried after ISO 8601. M/D/YYYY is read only with AM/PM:
# without it, 4/5/2024 (13:00) could as well be D/M/YYYY, and a wrong date is worse than a refused file.
DATETIME_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
)
DATETIME_FORMATS_HELP = "ISO 8601, M/D/YYYY h:mm:ss AM/PM, D.M.YYYY HH:MM:SS or YYYY/MM/DD HH:MM:SS"


@dataclass(frozen=True, order=True)
class ImportProblem:
    """One reason a file was refused, pointing at the sheet, row and column to fix.

    ``row`` is the row a person sees (the header is row 1; for the VM CSV, the
    line); 0 when the problem is with a whole sheet or file. ``sheet`` is
    empty when the problem is with the file itself.
    """

    sheet: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = self.sheet or "file"
        if self.row:
            where += f" {'line' if self.sheet == CSV_SHEET else 'row'} {self.row}"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message}"


class InventoryImportError(Exception):
    def __init__(self, problems: list[ImportProblem]):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s); nothing was imported")


class _Problems:
    def __init__(self) -> None:
        self.items: list[ImportProblem] = []

    def add(self, sheet: str, row: int, column: str, message: str) -> None:
        self.items.append(ImportProblem(sheet, row, column, message))

    def __bool__(self) -> bool:
        return bool(self.items)


class _Unreadable(Exception):
    """The file or folder cannot be read as an export at all."""


# Values. Each parser takes a cell as read (str from CSV; str, int, float, bool or datetime from xlsx)
# and returns the value or raises ValueError with a message a person can act on.


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "True" if raw else "False"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime.datetime | datetime.date):
        return raw.isoformat()
    return str(raw).strip()


def _parse_uuid(raw: Any) -> str:
    text = _text(raw)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a UUID") from None


def _parse_count(raw: Any) -> int:
    """A whole number, 0 or more; thousands separators (4,096 / 4.096 / 4 096) and a zero fraction are accepted."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, float) and raw.is_integer() and raw >= 0:
        return int(raw)
    text = _text(raw)
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d{1,3}([,. \u00a0\u202f'])\d{3}(\1\d{3})*", text):
        return int(re.sub(r"\D", "", text))
    if re.fullmatch(r"\d+[.,]0+", text):
        return int(re.split(r"[.,]", text)[0])
    raise ValueError(f"{text!r} is not a whole number (0 or more)")


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    text = _text(raw)
    if text.casefold() in ("true", "yes", "1"):
        return True
    if text.casefold() in ("false", "no", "0"):
        return False
    raise ValueError(f"{text!r} is not True or False")


def _utc(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parse_export_datetime(raw: Any) -> datetime.datetime:
    """An Excel date, or a date written in one of ``DATETIME_FORMATS``; naive times are UTC."""
    if isinstance(raw, datetime.datetime):
        return _utc(raw)
    if isinstance(raw, datetime.date):
        return datetime.datetime.combine(raw, datetime.time(), tzinfo=UTC)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = from_excel(raw)  # a date cell stored without a date format: days since 1900
        if isinstance(value, datetime.datetime):
            return _utc(value)
    text = _text(raw)
    try:
        return _utc(datetime.datetime.fromisoformat(text))
    except ValueError:
        pass
    for pattern in DATETIME_FORMATS:
        try:
            return _utc(datetime.datetime.strptime(text, pattern))
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date and time ({DATETIME_FORMATS_HELP})")


def _parse_iso_datetime(raw: Any) -> datetime.datetime:
    text = _text(raw)
    try:
        return _utc(datetime.datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or date and time (2024-03-01, 2024-03-01T08:30:00Z)"
        ) from None


def _parse_power_state(raw: Any) -> str:
    text = _text(raw)
    try:
        return POWER_STATES[text.casefold()]
    except KeyError:
        raise ValueError(f"{text!r} is not a power state (poweredOn, poweredOff, suspended)") from None


def _parse_csv_power_state(raw: Any) -> str:
    text = _text(raw)
    try:
        return VM_CSV_POWER_STATES[text.casefold()]
    except KeyError:
        raise ValueError(f"{text!r} is not a power state (on, off, suspended)") from None


def _parse_hardware_version(raw: Any) -> str:
    text = _text(raw)
    match = re.fullmatch(r"(?:vmx-)?(\d+)", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{text!r} is not a hardware version (vmx-13 or 13)")
    return f"vmx-{int(match[1]):02d}"


def _parse_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


MAC_ADDRESS = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}|[0-9a-f]{12}", re.IGNORECASE)


def _parse_mac(text: str) -> str:
    if not MAC_ADDRESS.fullmatch(text):
        raise ValueError(f"{text!r} is not a MAC address")
    digits = re.sub(r"[:-]", "", text).lower()
    return ":".join(digits[index : index + 2] for index in range(0, 12, 2))


def _parse_list(raw: Any, parse_one: Callable[[str], str]) -> list[str]:
    """Addresses separated by ``;``, ``,`` or white space; every bad one is named in one message."""
    values, bad = [], []
    for token in re.split(r"[;,\s]+", _text(raw)):
        if not token:
            continue
        try:
            values.append(parse_one(token))
        except ValueError as exc:
            bad.append(str(exc))
    if bad:
        raise ValueError("; ".join(bad))
    return values


def _parse_ips(raw: Any) -> list[str]:
    return _parse_list(raw, _parse_ip)


def _parse_macs(raw: Any) -> list[str]:
    return _parse_list(raw, _parse_mac)


def _datastore(path: str) -> str:
    """``[ds-01] app01/app01.vmx`` → ``ds-01``."""
    match = re.match(r"\[([^\]]+)\]", path)
    return match[1].strip() if match else ""


def _split_esx_version(text: str) -> tuple[str, str]:
    """``VMware ESXi 7.0.3 build-20036589`` → (``7.0.3``, ``20036589``)."""
    version = re.search(r"\b(\d+(?:\.\d+)+)\b", text)
    build = re.search(r"build-(\d+)", text, re.IGNORECASE)
    return (version[1] if version else "", build[1] if build else "")


def _add_unique(target: list[str], values: list[str]) -> None:
    for value in values:
        if value and value not in target:
            target.append(value)


# Reading sheets by header.


def _header_key(name: Any) -> str:
    return " ".join(_text(name).split()).casefold()


class _Sheet:
    """One tab of an export: its header and its rows, with the number a person sees for each."""

    def __init__(self, name: str, records: Iterator[tuple[int, tuple]], problems: _Problems):
        self.name = name
        self.problems = problems
        self._records = records
        self.header: dict[str, tuple[int, str]] = {}
        self.header_row = 1
        self.empty = True
        self._found: dict[tuple[str, ...], tuple[int, str] | None] = {}
        for number, values in records:
            if not any(_text(value) for value in values):
                continue
            self.empty = False
            self.header_row = number
            for index, value in enumerate(values):
                key = _header_key(value)
                if key and key not in self.header:
                    self.header[key] = (index, _text(value))
            break

    def find(self, names: tuple[str, ...]) -> tuple[int, str] | None:
        """(position, header as spelt in the file) of the first of ``names`` the sheet has."""
        if names not in self._found:
            self._found[names] = next(
                (self.header[_header_key(name)] for name in names if _header_key(name) in self.header), None
            )
        return self._found[names]

    def column(self, names: tuple[str, ...]) -> str | None:
        found = self.find(names)
        return found[1] if found else None

    def has(self, *names: tuple[str, ...]) -> bool:
        return any(self.column(spellings) for spellings in names)

    def rows(self) -> Iterator["_Row"]:
        for number, values in self._records:
            if any(_text(value) for value in values):
                yield _Row(self, number, values)


class _Row:
    def __init__(self, sheet: _Sheet, number: int, values: tuple):
        self.sheet = sheet
        self.number = number
        self.values = values

    def raw(self, names: tuple[str, ...]) -> Any:
        found = self.sheet.find(names)
        if found is None or found[0] >= len(self.values):
            return None
        return self.values[found[0]]

    def text(self, names: tuple[str, ...]) -> str:
        return _text(self.raw(names))

    def parse(self, parser: Callable[[Any], Any], names: tuple[str, ...], default: Any = None) -> Any:
        """The parsed value of the column, ``default`` when empty; a bad value is a problem and gives ``default``."""
        raw = self.raw(names)
        if not _text(raw):
            return default
        try:
            return parser(raw)
        except ValueError as exc:
            self.problem(self.sheet.column(names) or names[0], str(exc))
            return default

    def problem(self, column: str, message: str) -> None:
        self.sheet.problems.add(self.sheet.name, self.number, column, message)


class _Book:
    """An opened export: a workbook or a folder of CSV tabs."""

    def sheet(self, tab: str, problems: _Problems) -> _Sheet | None:
        raise NotImplementedError

    def tabs(self) -> list[str]:
        """The tabs the export holds, as spelt in it: what a refusal names when the tab it needs is not there."""
        raise NotImplementedError

    def mtime(self) -> datetime.datetime:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _XlsxBook(_Book):
    def __init__(self, path: Path):
        self.path = path
        self.file = path.open("rb")
        try:
            if not zipfile.is_zipfile(self.file):
                raise _Unreadable("is not an xlsx workbook, nor a folder of RVTools_tab<Tab>.csv files")
            self.file.seek(0)
            try:
                # A file object, not the path: openpyxl would refuse a name without .xlsx (an uploaded temp file).
                self.workbook = load_workbook(self.file, read_only=True, data_only=True)
            except Exception as exc:  # openpyxl raises many kinds (KeyError, InvalidFileException, XML errors)
                raise _Unreadable(f"is a zip file but not an xlsx workbook ({exc})") from None
        except BaseException:
            self.file.close()
            raise
        self.worksheets: dict[str, Any] = {}
        for worksheet in self.workbook.worksheets:
            self.worksheets.setdefault(worksheet.title.strip().casefold(), worksheet)

    def sheet(self, tab: str, problems: _Problems) -> _Sheet | None:
        worksheet = self.worksheets.get(tab.casefold())
        if worksheet is None:
            return None
        worksheet.reset_dimensions()  # trust the cells, not the dimension the writer recorded
        return _Sheet(tab, enumerate(worksheet.iter_rows(values_only=True), start=1), problems)

    def tabs(self) -> list[str]:
        return [worksheet.title for worksheet in self.workbook.worksheets]

    def mtime(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.path.stat().st_mtime, tz=UTC)

    def close(self) -> None:
        self.workbook.close()
        self.file.close()


class _CsvFolderBook(_Book):
    def __init__(self, path: Path):
        self.path = path
        self.files: dict[str, Path] = {}
        self.tab_names: list[str] = []
        for child in sorted(path.iterdir()):
            match = CSV_FOLDER_FILE.fullmatch(child.name)
            if match and child.is_file() and match["tab"].casefold() not in self.files:
                self.files[match["tab"].casefold()] = child
                self.tab_names.append(match["tab"])
        if not self.files:
            raise _Unreadable("the folder holds no RVTools_tab<Tab>.csv files (an RVTools CSV export)")

    def sheet(self, tab: str, problems: _Problems) -> _Sheet | None:
        path = self.files.get(tab.casefold())
        if path is None:
            return None
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")  # RVTools runs on Windows: its ANSI code page
            except UnicodeDecodeError:
                problems.add(tab, 0, "", f"{path.name} is neither UTF-8 nor Windows-1252 text")
                return _Sheet(tab, iter(()), problems)
        return _Sheet(tab, _csv_records(text, tab, problems), problems)

    def tabs(self) -> list[str]:
        return list(self.tab_names)

    def mtime(self) -> datetime.datetime:
        path = self.files.get(VINFO.casefold(), self.path)
        return datetime.datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _delimiter(text: str) -> str:
    """The most frequent of comma, semicolon and tab on the first line (after a PowerShell ``#TYPE`` line)."""
    lines = text.split("\n", 2)
    first_line = lines[1] if lines[0].startswith("#TYPE") and len(lines) > 1 else lines[0]
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _csv_records(text: str, tab: str, problems: _Problems) -> Iterator[tuple[int, tuple]]:
    """Records numbered as rows: a blank line is an (empty) row, a quoted value over several lines is one.

    RVTools writes every value of every row, empty or not, so a record shorter
    than the header was cut off (an interrupted or trimmed export). It is a
    problem and is not read: its last value may be cut mid-way too, and half a
    moref (vm-1 for vm-101) would be another VM's identity.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    number = 0
    header: list[str] = []
    try:
        for number, record in enumerate(reader, start=1):
            if any(value.strip() for value in record):
                if not header:
                    header = [name.strip() for name in record]
                    while header and not header[-1]:
                        header.pop()
                elif len(record) < len(header):
                    problems.add(
                        tab, number, header[len(record) - 1],
                        f"the row stops in this column, after {len(record)} of the header's {len(header)} values "
                        "(an interrupted or trimmed export); export again, or delete the row",
                    )
                    continue
            yield number, tuple(record)
    except csv.Error as exc:
        problems.add(tab, number + 1, "", f"is not valid CSV: {exc}")


def _open_export(path: Path) -> _Book:
    if path.is_dir():
        return _CsvFolderBook(path)
    if not path.is_file():
        raise _Unreadable("no such file or folder")
    return _XlsxBook(path)


# RVTools: one vCenter's share of the export.


@dataclass
class _Entry:
    vm: ObservedVM
    row: int
    host: str


@dataclass
class _VCenter:
    uuid: str
    server: str = ""
    entries: list[_Entry] = field(default_factory=list)
    by_instance_uuid: dict[str, _Entry] = field(default_factory=dict)
    by_moref: dict[str, _Entry] = field(default_factory=dict)
    datacenters: dict[str, ObservedDatacenter] = field(default_factory=dict)
    clusters: dict[str, ObservedCluster] = field(default_factory=dict)
    hosts: dict[str, ObservedHost] = field(default_factory=dict)  # by host name

    def place(self, datacenter: str, cluster: str, host: str) -> tuple[str, str]:
        """Record the datacenter, cluster and host a row names; their keys."""
        datacenter_key = f"dc:{datacenter}" if datacenter else ""
        if datacenter:
            self.datacenters.setdefault(datacenter_key, ObservedDatacenter(key=datacenter_key, name=datacenter))
        cluster_key = f"cluster:{datacenter}/{cluster}" if cluster else ""
        if cluster:
            self.clusters.setdefault(
                cluster_key, ObservedCluster(key=cluster_key, name=cluster, datacenter_key=datacenter_key)
            )
        if host:
            self.hosts.setdefault(
                host,
                ObservedHost(key=f"host:{host}", name=host, cluster_key=cluster_key, datacenter_key=datacenter_key),
            )
        return datacenter_key, cluster_key

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
    def __init__(self, book: _Book, problems: _Problems):
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

    def _vcenter_key(self, row: _Row) -> tuple[str, str]:
        """(key, VI SDK UUID) of the vCenter a row belongs to: its UUID, else its server name."""
        vcenter_uuid = row.parse(_parse_uuid, COL_VC_UUID, default="")
        server = row.text(COL_VC_SERVER).casefold()
        if vcenter_uuid:
            if server:
                self.server_uuids.setdefault(server, vcenter_uuid)
            return vcenter_uuid, vcenter_uuid
        if server in self.server_uuids:
            return self.server_uuids[server], self.server_uuids[server]
        return (f"server:{server}" if server else ""), ""

    def _check_vcenters(self, sheet: _Sheet) -> None:
        """Several vCenters need their VI SDK UUIDs: an Inventory names its vCenter by UUID only."""
        if len(self.vcenters) > 1 and not all(vcenter.uuid for vcenter in self.vcenters.values()):
            servers = ", ".join(vcenter.server or "(none)" for vcenter in self.vcenters.values())
            self.problems.add(
                VINFO,
                sheet.header_row,
                sheet.column(COL_VC_UUID) or COL_VC_UUID[0],
                f"the export holds {len(self.vcenters)} vCenters ({servers}) but not each with a VI SDK UUID, "
                "so their VMs cannot be told apart; export each vCenter on its own",
            )

    def _found_tabs(self) -> str:
        return f"Found tabs: {', '.join(self.book.tabs())}"

    def _open(self, tab: str) -> _Sheet | None:
        sheet = self.book.sheet(tab, self.problems)
        if sheet is not None and sheet.empty:
            return None
        return sheet

    def read_vinfo(self) -> None:
        sheet = self.book.sheet(VINFO, self.problems)
        if sheet is None:
            self.problems.add(
                VINFO, 0, "",
                f"the export has no vInfo tab (sheet vInfo or RVTools_tabvInfo.csv). {self._found_tabs()}",
            )
            return
        if sheet.empty:
            self.problems.add(VINFO, 1, "", "the vInfo tab is empty: no header, no VM")
            return
        usable = True
        if not sheet.column(COL_VM):
            self.problems.add(VINFO, sheet.header_row, COL_VM[0], "missing column")
            usable = False
        if not sheet.has(*VM_IDENTITY_COLUMNS):
            found_columns = ", ".join(name for _, name in sorted(sheet.header.values()))
            self.problems.add(
                VINFO,
                sheet.header_row,
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
            self.problems.add(VINFO, sheet.header_row, "", "lists no VM below the header")
        self._check_vcenters(sheet)

    def read_vinfo_row(self, row: _Row) -> None:
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
        instance_uuid = row.parse(_parse_uuid, COL_VM_UUID, default="")
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
        _add_unique(networks, [row.text(columns) for columns in NETWORK_COLUMNS])
        primary_ip = row.parse(_parse_ips, ("Primary IP Address",), default=[])
        datastore = _datastore(row.text(("Path",)))
        srm_placeholder = row.parse(_parse_bool, ("SRM Placeholder",))
        vm = ObservedVM(
            moref=moref,
            name=name,
            instance_uuid=instance_uuid,
            bios_uuid=row.parse(_parse_uuid, COL_BIOS_UUID, default=""),
            power_state=row.parse(_parse_power_state, ("Powerstate",), default=PowerState.UNKNOWN.value),
            is_template=bool(row.parse(_parse_bool, ("Template",))),
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
            cpu_count=row.parse(_parse_count, ("CPUs",)),
            memory_mb=row.parse(_parse_count, COL_MEMORY),
            created_at=row.parse(_parse_export_datetime, ("Creation date",)),
            annotation=row.text(("Annotation",)),
            custom_attributes={SRM_PLACEHOLDER_ATTRIBUTE: "true"} if srm_placeholder else {},
            boot_time=row.parse(_parse_export_datetime, ("PowerOn",)),
        )
        if duplicate:
            return
        entry = _Entry(vm=vm, row=row.number, host=host)
        vcenter.entries.append(entry)
        if instance_uuid:
            vcenter.by_instance_uuid[instance_uuid] = entry
        if moref:
            vcenter.by_moref[moref] = entry

    def _vcenter_of(self, sheet: _Sheet, row: _Row) -> _VCenter | None:
        if sheet.has(COL_VC_UUID, COL_VC_SERVER):
            return self.vcenters.get(self._vcenter_key(row)[0])
        return next(iter(self.vcenters.values())) if len(self.vcenters) == 1 else None

    def _check_joinable(self, sheet: _Sheet) -> bool:
        """Whether rows of a tab can be matched to vInfo's VMs; a problem on its header if not."""
        joinable = True
        if not sheet.has(COL_VM_UUID, COL_VM_ID):
            self.problems.add(
                sheet.name,
                sheet.header_row,
                COL_VM_UUID[0],
                f"missing column: without VM UUID or VM ID, {sheet.name} rows cannot be matched to vInfo "
                "(never by VM name); delete this tab or export with a newer RVTools",
            )
            joinable = False
        if not sheet.has(COL_VC_UUID, COL_VC_SERVER) and len(self.vcenters) > 1:
            self.problems.add(
                sheet.name,
                sheet.header_row,
                COL_VC_UUID[0],
                f"missing column: the export holds {len(self.vcenters)} vCenters and without VI SDK UUID or "
                f"VI SDK Server, {sheet.name} rows cannot be matched to one of them",
            )
            joinable = False
        return joinable

    def _vm_rows(self, tab: str) -> Iterator[tuple[_Row, _Entry | None]]:
        """Rows of a per-VM tab, each with the vInfo VM it is about (None: not in vInfo, or in error)."""
        sheet = self._open(tab)
        if sheet is None or not self._check_joinable(sheet):
            return
        for row in sheet.rows():
            instance_uuid = row.parse(_parse_uuid, COL_VM_UUID, default="")
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

    def read_vnetwork(self) -> None:
        for row, entry in self._vm_rows(VNETWORK):
            macs = row.parse(_parse_macs, ("Mac Address",), default=[])
            ips = row.parse(_parse_ips, COL_IPV4, default=[]) + row.parse(_parse_ips, COL_IPV6, default=[])
            if entry is not None:
                _add_unique(entry.vm.networks, [row.text(("Network",))])
                _add_unique(entry.vm.mac_addresses, macs)
                _add_unique(entry.vm.ip_addresses, ips)

    def read_vhost(self) -> None:
        sheet = self._open(VHOST)
        if sheet is None:
            return
        if not sheet.has(COL_VC_UUID, COL_VC_SERVER) and len(self.vcenters) > 1:
            self.problems.add(
                VHOST,
                sheet.header_row,
                COL_VC_UUID[0],
                f"missing column: the export holds {len(self.vcenters)} vCenters and without VI SDK UUID or "
                "VI SDK Server, hosts cannot be matched to one of them",
            )
            return
        for row in sheet.rows():
            name = row.text(("Host",))
            if not name:
                row.problem(sheet.column(("Host",)) or "Host", "is required")
            hardware_uuid = row.parse(_parse_uuid, ("UUID",), default="")
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
                created = row.parse(_parse_export_datetime, ("xlsx creation datetime",))
                if created is not None:
                    return created
        return self.book.mtime()


def parse_rvtools(path: Path) -> list[Inventory]:
    """Read an RVTools export (xlsx workbook or folder of CSV tabs) into one ``Inventory`` per vCenter.

    Raises ``InventoryImportError`` listing every problem; see the module docstring for what is read.
    """
    path = Path(path)
    try:
        book = _open_export(path)
    except _Unreadable as exc:
        raise InventoryImportError([ImportProblem("", 0, "", str(exc))]) from None
    problems = _Problems()
    try:
        inventories = _RVToolsReader(book, problems).read()
    finally:
        book.close()
    if problems:
        raise InventoryImportError(problems.items)
    return inventories


# The vmcensus VM CSV.


@dataclass
class _CsvRow:
    line: int
    values: dict[str, str]
    problems: _Problems

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def parse(self, name: str, parser: Callable[[Any], Any], default: Any = None) -> Any:
        if not self.get(name):
            return default
        try:
            return parser(self.values[name])
        except ValueError as exc:
            self.problem(name, str(exc))
            return default

    def problem(self, column: str, message: str) -> None:
        self.problems.add(CSV_SHEET, self.line, column, message)


def _vm_csv_records(stream: TextIO, problems: _Problems) -> Iterator[tuple[int, list[str]]]:
    """(line on which the record starts, values) for every record, the header included."""
    try:
        text = stream.read()
    except UnicodeDecodeError:
        problems.add(CSV_SHEET, 0, "", "the file is not UTF-8 text")
        return
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    start = 1
    try:
        for record in reader:
            yield start, record
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.add(CSV_SHEET, start, "", f"is not valid CSV: {exc}")


def _vm_csv_header(
    records: Iterator[tuple[int, list[str]]], problems: _Problems
) -> tuple[int, dict[str, int], int] | None:
    """(line, column → position, width) of the header; None when the file cannot be read further."""
    for line, record in records:
        if line == 1 and record and record[0].startswith("#TYPE"):
            continue  # PowerShell's Export-Csv without -NoTypeInformation
        if not any(value.strip() for value in record):
            continue
        index: dict[str, int] = {}
        for position, value in enumerate(record):
            name = value.strip().lower()
            if not name:
                problems.add(CSV_SHEET, line, f"column {position + 1}", "has no name")
            elif name in index:
                problems.add(CSV_SHEET, line, name, "appears twice in the header")
            elif name not in VM_CSV_COLUMNS:
                problems.add(CSV_SHEET, line, name, f"unknown column; the columns are {', '.join(VM_CSV_COLUMNS)}")
            else:
                index[name] = position
        missing = [name for name in VM_CSV_REQUIRED if name not in index]
        for name in missing:
            problems.add(CSV_SHEET, line, name, "missing column")
        return None if missing else (line, index, len(record))
    if not problems:
        problems.add(CSV_SHEET, 1, "", f"the file is empty; expected the columns {', '.join(VM_CSV_COLUMNS)}")
    return None


def parse_vm_csv(
    stream: TextIO, *, platform_default: str = "", observed_at: datetime.datetime | None = None
) -> Inventory:
    """Read the vmcensus VM CSV (columns ``VM_CSV_COLUMNS``, see the module docstring) into one ``Inventory``.

    ``platform_default`` is the platform of rows whose ``platform`` is empty;
    ``observed_at`` defaults to now. Raises ``InventoryImportError`` listing
    every problem with its line and column.
    """
    problems = _Problems()
    default_platform = platform_default.strip().lower()
    if default_platform and default_platform not in PLATFORMS:
        problems.add(CSV_SHEET, 0, "platform", f"default {platform_default!r} is not one of {', '.join(PLATFORMS)}")
    records = _vm_csv_records(stream, problems)
    header = _vm_csv_header(records, problems)
    if header is None:
        raise InventoryImportError(problems.items)
    header_line, index, width = header

    inventory = Inventory(observed_at=observed_at or datetime.datetime.now(tz=UTC))
    topology = _VCenter(uuid="")
    host_lines: dict[str, tuple[int, str, str]] = {}
    vm_id_lines: dict[str, int] = {}
    for line, record in records:
        if not any(value.strip() for value in record):
            continue
        row = _CsvRow(
            line=line,
            values={
                name: (record[position].strip() if position < len(record) else "") for name, position in index.items()
            },
            problems=problems,
        )
        if any(value.strip() for value in record[width:]):
            row.problem("", f"has {len(record)} values but the header has {width} columns")
        inventory.vms.append(_vm_csv_row(row, default_platform, topology, host_lines, vm_id_lines))
    if not inventory.vms:
        problems.add(CSV_SHEET, header_line, "", "lists no VM below the header")
    if problems:
        raise InventoryImportError(problems.items)
    inventory.datacenters = list(topology.datacenters.values())
    inventory.clusters = list(topology.clusters.values())
    inventory.hosts = list(topology.hosts.values())
    return inventory


def _vm_csv_row(
    row: _CsvRow,
    default_platform: str,
    topology: _VCenter,
    host_lines: dict[str, tuple[int, str, str]],
    vm_id_lines: dict[str, int],
) -> ObservedVM:
    for name in VM_CSV_REQUIRED:
        if not row.get(name):
            row.problem(name, "is required")
    vm_id = row.get("vm_id")
    if vm_id in vm_id_lines:
        row.problem("vm_id", f"{vm_id} is already on line {vm_id_lines[vm_id]}")
    elif vm_id:
        vm_id_lines[vm_id] = row.line

    platform = row.get("platform").lower() or default_platform
    if platform not in PLATFORMS:
        if row.get("platform"):
            row.problem("platform", f"{row.get('platform')!r} is not one of {', '.join(PLATFORMS)}")
        platform = ""
    datacenter, cluster, host = row.get("datacenter"), row.get("cluster"), row.get("host")
    if host in host_lines and host_lines[host][1:] != (datacenter, cluster):
        first_line, first_datacenter, first_cluster = host_lines[host]
        row.problem(
            "host", f"{host} is in datacenter {first_datacenter!r}, cluster {first_cluster!r} on line {first_line}"
        )
    elif host:
        host_lines.setdefault(host, (row.line, datacenter, cluster))
    datacenter_key, cluster_key = topology.place(datacenter, cluster, host)
    networks: list[str] = []
    _add_unique(networks, [network.strip() for network in row.get("networks").split(";")])
    return ObservedVM(
        moref=vm_id,
        name=row.get("name"),
        bios_uuid=row.parse("bios_uuid", _parse_uuid, ""),
        power_state=row.parse("power_state", _parse_csv_power_state, PowerState.UNKNOWN.value),
        datacenter_key=datacenter_key,
        cluster_key=cluster_key,
        host_key=f"host:{host}" if host else "",
        folder=row.get("folder"),
        networks=networks,
        mac_addresses=row.parse("mac_addresses", _parse_macs, []),
        ip_addresses=row.parse("ip_addresses", _parse_ips, []),
        guest_os=row.get("guest_os"),
        cpu_count=row.parse("cpu_count", _parse_count),
        memory_mb=row.parse("memory_mb", _parse_count),
        created_at=row.parse("created_at", _parse_iso_datetime),
        created_by=row.get("created_by"),
        annotation=row.get("annotation"),
        platform=platform,
    )
