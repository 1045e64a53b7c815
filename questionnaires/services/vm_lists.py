"""The VM list of a ``vm_list`` question: rows from a grid, a paste, a CSV or an xlsx; saving, pre-filling, exports.

A manager with 40 VMs does not fill 40 forms. ``vm_rows_parse`` reads rows
typed in the page's grid, text pasted from a spreadsheet, an uploaded CSV or
an uploaded xlsx workbook, and returns the good rows *and* every problem (row,
column, message): the good rows can be kept as a draft while the person fixes
the rest. ``declared_vms_save`` writes good rows as ``DeclaredVM``;
``declared_vms_prefill`` adds the VMs inventory already attributes to the
person's area, to be confirmed, corrected or disowned
(``declared_vm_disposition_set``, or all the rows still to check at once:
``declared_vms_disposition_bulk_set``).

Columns (the ``DeclaredVM`` fields of the same names)
-----------------------------------------------------

Problems name a column by its heading in the grid (``COLUMN_LABELS``:
"Created on", not ``created_on``) and list the values people type (labels,
not the stored codes); those headings are understood as headers too.

=============== ======== ==============================================================
column          required value
=============== ======== ==============================================================
name            yes      the VM's name (at most 255 characters)
address                  host name or IP address
platform                 vmware-esxi, vmware-workstation, hyperv, kvm, xen, virtualbox,
                         cloud or other, or a usual spelling in any case: "ESXi",
                         "vSphere", "VMware Workstation", "Fusion", "Hyper-V",
                         "Proxmox", "XenServer", "VirtualBox", "AWS", "Azure"...
                         ("VMware" alone is refused: ESXi or Workstation?)
software                 virtualization software and version
location                 where it runs (site, data centre, host, laptop...)
created_on               the date it was created: YYYY-MM-DD, YYYY/MM/DD, D.M.YYYY,
                         "5 Mar 2024" or "March 5, 2024" (a date cell in xlsx);
                         D/M/YYYY or M/D/YYYY when only one reading is a date
                         (15/3/2024); 3/5/2024 is refused: March 5 or May 3?
created_by               who created it
purpose                  production, development, test, departmental, research or
                         other (also "prod", "dev", "testing")
purpose_other            what the purpose is, when it is other (a purpose_other with
                         an empty purpose means other)
status                   running, stopped or decommissioned (also "on", "off",
                         "powered on", "suspended", "retired")
owner                    who is responsible for it
data_categories          values or labels of ``DataCategory`` separated by ``;`` or
                         ``,``, any case: ephi (or "PHI"), financial_reporting,
                         customer_financial, personal (or "PII"), none
notes                    free text (at most 2,000 characters)
=============== ======== ==============================================================

Headers are matched in any case, ignoring spaces and punctuation, and a few
usual names are understood ("VM name", "Hostname", "IP address", "Created",
"Comments"...); a column with an unknown header is reported and ignored.
Pasted text and CSV may come without a header line: the cells are then read
in the order of the table above. A line is a header when it names the
``name`` column and at least one other. A first line that reads like a
header but is not one (it names a column but not ``name``, or it is words
only that are bad as data: ``Server,IP,Colour``) refuses the whole input:
read as data it would be a VM, and every column after it misread.

Inputs and their limits
-----------------------

- grid: a list of dicts keyed by column (plus ``id``, the ``DeclaredVM`` a
  row edits, for rows the page already showed).
- text: pasted from a spreadsheet, tab-separated (Excel, LibreOffice and
  Google Sheets copy cells so); comma- or semicolon-separated text works
  too (the separator most used on the first line wins).
- csv_file: UTF-8 (a BOM is fine: Excel's "CSV UTF-8"), comma, semicolon or
  tab separated. Other encodings and binary files are refused.
- text and csv_file: a quote opened at the start of a cell and never closed
  would swallow every line after it into one cell: the whole input is
  refused, naming the line where the quote opens. A VM name holding a line
  break is refused too (a problem on its row).
- xlsx_file: the first worksheet of an xlsx workbook (not the old .xls),
  read with openpyxl in read-only mode; cells beyond column
  ``MAX_COLUMNS`` are not read.
- Uploads and pasted text may be at most ``settings.QUESTIONNAIRE_UPLOAD_MAX_BYTES``
  (2 MB by default); an xlsx may expand to at most ``XLSX_MAX_EXPANSION``
  times that once unzipped. One input holds at most ``MAX_ROWS`` rows; more
  is refused whole (split the list).

Row numbers in problems (``RowProblem.row``, read out by ``str()``):

- grid and pasted text: "row 2", the data row counting from ``start_row``
  (a header line is not counted, blank lines are), as the grid numbers rows;
- CSV upload: "line 3 of the file", the line of the file where the record
  begins (the header is line 1; a quoted value over several lines counts
  each line), as a text editor numbers lines;
- xlsx upload: "row 3 of the sheet", the worksheet row (the header is row 1).

Row 0 is the input as a whole. Duplicate rows (same name and address) are
reported and only the first is kept.
"""

import csv
import datetime
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from openpyxl import load_workbook

from inventory.choices import Platform, PowerState, SourceKind, VMStatus
from inventory.models import VirtualMachine
from inventory.selectors import vm_attributed_q
from portal.models import User
from portal.services.audit import audit_log
from questionnaires.choices import DataCategory, DeclaredVMStatus, Disposition, QuestionKind, VMPurpose
from questionnaires.models import Assignment, DeclaredVM, Question
from questionnaires.services.answers import (
    assignment_lock_for_edit,
    assignment_mark_started,
    assignment_question_check,
)

COLUMNS = (
    "name",
    "address",
    "platform",
    "software",
    "location",
    "created_on",
    "created_by",
    "purpose",
    "purpose_other",
    "status",
    "owner",
    "data_categories",
    "notes",
)
# One paste or upload: far more than any one manager's area, small enough to check and save in one request.
MAX_ROWS = 2_000
# xlsx columns read: the list has 13; people add a few of their own, and nobody needs column AY.
MAX_COLUMNS = 50
# An xlsx is a zip: its parts may unzip to at most this many times the upload limit (text XML compresses
# about 10:1), which stops a zip bomb before openpyxl inflates it.
XLSX_MAX_EXPANSION = 30
# Rows per INSERT / UPDATE: keeps a full list to a handful of statements within SQLite's parameter limit.
WRITE_BATCH_SIZE = 500
# Added to row numbers while a list is renumbered, so the unique (assignment, question, row) never collides.
RENUMBER_OFFSET = 1_000_000
NOTES_MAX_LENGTH = 2_000
MAX_LENGTHS = {
    "name": 255,
    "address": 255,
    "software": 200,
    "location": 200,
    "created_by": 200,
    "purpose_other": 200,
    "owner": 200,
    "notes": NOTES_MAX_LENGTH,
}
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = (*COLUMNS, "disposition", "inventory_vm_id")
# What people call each column: the grid's headings, the names problems use, and headers a file may use.
COLUMN_LABELS = {
    "name": "Name",
    "address": "Host name or IP",
    "platform": "Platform",
    "software": "Software and version",
    "location": "Where it runs",
    "created_on": "Created on",
    "created_by": "Created by",
    "purpose": "Purpose",
    "purpose_other": "Purpose if other",
    "status": "Status",
    "owner": "Owner",
    "data_categories": "Data handled",
    "notes": "Notes",
}
COLUMNS_HELP = ", ".join(COLUMN_LABELS[column] for column in COLUMNS)
# The spellings problems suggest: what people type, not the stored codes (each one is read back, see the tests).
PLATFORMS_HELP = "VMware ESXi, VMware Workstation, Hyper-V, KVM, Xen, VirtualBox, Cloud or Other"
PURPOSES_HELP = "Production, Development, Test, Departmental, Research or Other"
STATUSES_HELP = "Running, Stopped or Decommissioned"
DATA_CATEGORIES_HELP = "ePHI, Financial reporting, Customer financial data, Personal data or None"
# How the grid shows a row's data categories: short names people type back (DataCategory's labels are long).
DATA_CATEGORY_NAMES = {
    "ephi": "ePHI",
    "financial_reporting": "Financial reporting",
    "customer_financial": "Customer financial data",
    "personal": "Personal data",
    "none": "None",
}

DATE_FORMATS = ("%Y/%m/%d", "%d.%m.%Y", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y")
DATE_FORMATS_HELP = "YYYY-MM-DD (2024-03-05), YYYY/MM/DD, D.M.YYYY or 5 Mar 2024"


def _key(text: str) -> str:
    """A header or spelling reduced to lower-case letters and digits: "Hyper-V" and "hyper v" are both "hyperv"."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


HEADER_ALIASES = {
    "name": ("name", "vmname", "vm", "virtualmachine", "machinename"),
    "address": ("address", "hostname", "ip", "ipaddress", "hostnameorip", "hostnameoripaddress", "fqdn", "dnsname"),
    "platform": ("platform", "hypervisor", "virtualizationplatform"),
    "software": ("software", "virtualizationsoftware", "softwareversion", "softwareandversion"),
    "location": ("location", "site", "whereitruns", "runson"),
    "created_on": ("createdon", "created", "creationdate", "datecreated", "createdat"),
    "created_by": ("createdby", "creator", "builtby"),
    "purpose": ("purpose", "usage"),
    "purpose_other": ("purposeother", "otherpurpose", "purposeifother"),
    "status": ("status", "state", "currentstatus", "powerstate"),
    "owner": ("owner", "vmowner", "responsible"),
    "data_categories": ("datacategories", "datacategory", "data", "datahandled", "datatypes"),
    "notes": ("notes", "note", "comments", "comment", "remarks"),
}
HEADERS = {alias: column for column, aliases in HEADER_ALIASES.items() for alias in aliases}


def _spellings(choices, extra: dict[str, str]) -> dict[str, str]:
    """Choice values and labels, and extra spellings, by ``_key``."""
    spellings = {_key(value): value for value in choices.values}
    spellings.update((_key(label), value) for value, label in choices.choices)
    spellings.update((_key(spelling), value) for spelling, value in extra.items())
    return spellings


PLATFORMS = _spellings(
    Platform,
    {
        "ESXi": Platform.VMWARE_ESXI,
        "ESX": Platform.VMWARE_ESXI,
        "vSphere": Platform.VMWARE_ESXI,
        "VMware ESXi": Platform.VMWARE_ESXI,
        "VMware ESX": Platform.VMWARE_ESXI,
        "VMware vSphere": Platform.VMWARE_ESXI,
        "vCenter": Platform.VMWARE_ESXI,
        "VMware Workstation": Platform.VMWARE_WORKSTATION,
        "VMware Workstation Pro": Platform.VMWARE_WORKSTATION,
        "Workstation": Platform.VMWARE_WORKSTATION,
        "VMware Fusion": Platform.VMWARE_WORKSTATION,
        "Fusion": Platform.VMWARE_WORKSTATION,
        "VMware Player": Platform.VMWARE_WORKSTATION,
        "Hyper-V": Platform.HYPERV,
        "Microsoft Hyper-V": Platform.HYPERV,
        "QEMU": Platform.KVM,
        "QEMU/KVM": Platform.KVM,
        "libvirt": Platform.KVM,
        "Proxmox": Platform.KVM,
        "Proxmox VE": Platform.KVM,
        "oVirt": Platform.KVM,
        "XenServer": Platform.XEN,
        "Citrix Hypervisor": Platform.XEN,
        "XCP-ng": Platform.XEN,
        "VBox": Platform.VIRTUALBOX,
        "Oracle VirtualBox": Platform.VIRTUALBOX,
        "Oracle VM VirtualBox": Platform.VIRTUALBOX,
        "AWS": Platform.CLOUD,
        "EC2": Platform.CLOUD,
        "Amazon": Platform.CLOUD,
        "Azure": Platform.CLOUD,
        "GCP": Platform.CLOUD,
        "Google Cloud": Platform.CLOUD,
        "OCI": Platform.CLOUD,
    },
)
PURPOSES = _spellings(
    VMPurpose, {"prod": VMPurpose.PRODUCTION, "dev": VMPurpose.DEVELOPMENT, "testing": VMPurpose.TEST}
)
STATUSES = _spellings(
    DeclaredVMStatus,
    {
        "on": DeclaredVMStatus.RUNNING,
        "powered on": DeclaredVMStatus.RUNNING,
        "poweredOn": DeclaredVMStatus.RUNNING,
        "off": DeclaredVMStatus.STOPPED,
        "powered off": DeclaredVMStatus.STOPPED,
        "poweredOff": DeclaredVMStatus.STOPPED,
        "suspended": DeclaredVMStatus.STOPPED,
        "decommissioned": DeclaredVMStatus.DECOMMISSIONED,
        "retired": DeclaredVMStatus.DECOMMISSIONED,
    },
)
DATA_CATEGORIES = _spellings(
    DataCategory,
    {"ePHI": DataCategory.EPHI, "PHI": DataCategory.EPHI, "PII": DataCategory.PERSONAL, "personal data": "personal"},
)


# How a problem names its row: ``RowProblem.unit`` is one of these (see "Row numbers" in the module docstring).
ROW_UNITS = {"": "row {}", "file": "line {} of the file", "sheet": "row {} of the sheet"}


@dataclass(frozen=True, order=True)
class RowProblem:
    """One bad cell (or row, or the whole input when ``row`` is 0), named so the person can fix it.

    ``column`` is the column's key (the grid marks the cell with it) or, for an
    unknown header, the header as written; ``str()`` names it as the grid does.
    """

    row: int
    column: str
    message: str
    unit: str = ""

    def __str__(self) -> str:
        where = [ROW_UNITS[self.unit].format(self.row)] if self.row else []
        if self.column:
            where.append(COLUMN_LABELS.get(self.column, self.column))
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class VMRow:
    """One good row, its values cleaned; ``row`` is where it came from (see the module docstring)."""

    row: int
    name: str
    address: str = ""
    platform: str = ""
    software: str = ""
    location: str = ""
    created_on: datetime.date | None = None
    created_by: str = ""
    purpose: str = ""
    purpose_other: str = ""
    status: str = ""
    owner: str = ""
    data_categories: list[str] = field(default_factory=list)
    notes: str = ""
    declared_vm_id: int | None = None

    def facts(self) -> dict[str, Any]:
        """The ``DeclaredVM`` field values of the row."""
        return {name: getattr(self, name) for name in COLUMNS}


@dataclass
class ParsedRows:
    rows: list[VMRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    unit: str = ""  # how row numbers read: a key of ROW_UNITS

    def add(self, row: int, column: str, message: str) -> None:
        self.problems.append(RowProblem(row, column, message, self.unit))

    def refuse(self, message: str) -> None:
        """The input as a whole is refused: no row comes back, only this problem."""
        self.rows.clear()
        self.problems[:] = [RowProblem(0, "", message, self.unit)]


@dataclass
class SaveResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    total: int = 0


# Cell values. Each parser takes a cell as read (str from the grid, paste and CSV; str, int, float, bool, date or
# datetime from xlsx) and returns the value, or raises ValueError with a message a person can act on.


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime.datetime):
        return raw.isoformat(sep=" ")
    if isinstance(raw, datetime.date):
        return raw.isoformat()
    return str(raw).strip()


def _choice(raw: Any, spellings: dict[str, str], accepted: str) -> str:
    text = _text(raw)
    if not text:
        return ""
    value = spellings.get(_key(text))
    if value is None:
        raise ValueError(f"{text!r} is not one of {accepted}")
    return str(value)


def _parse_platform(raw: Any) -> str:
    if _key(_text(raw)) == "vmware":
        raise ValueError("'VMware' alone could be ESXi or Workstation: write VMware ESXi or VMware Workstation")
    return _choice(raw, PLATFORMS, PLATFORMS_HELP)


def _parse_purpose(raw: Any) -> str:
    return _choice(raw, PURPOSES, PURPOSES_HELP)


def _parse_status(raw: Any) -> str:
    return _choice(raw, STATUSES, STATUSES_HELP)


def _parse_data_categories(raw: Any) -> list[str]:
    parts = [_text(item) for item in raw] if isinstance(raw, list | tuple) else re.split(r"[;,\n]", _text(raw))
    chosen: set[str] = set()
    for part in parts:
        part = part.strip()
        if not part:
            continue
        value = DATA_CATEGORIES.get(_key(part))
        if value is None:
            raise ValueError(f"{part!r} is not one of {DATA_CATEGORIES_HELP}")
        chosen.add(str(value))
    if DataCategory.NONE in chosen and len(chosen) > 1:
        raise ValueError("'None' cannot go with other data categories")
    return [value for value in DataCategory.values if value in chosen]


def _parse_date_text(text: str) -> datetime.date | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T].*)?", text):
        try:
            return datetime.date.fromisoformat(text[:10])
        except ValueError:
            return None
    for pattern in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _parse_slashed_date(text: str) -> datetime.date | None:
    """A D/M/YYYY or M/D/YYYY date read the one way it can be a date; None when it is none.

    Raises ValueError when it can be two different dates (3/5/2024); 5/5/2024 and 15/3/2024 are one date.
    """
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if match is None:
        return None
    first, second, year = (int(part) for part in match.groups())
    dates = set()
    for day, month in ((first, second), (second, first)):
        try:
            dates.add(datetime.date(year, month, day))
        except ValueError:
            continue
    if len(dates) > 1:
        raise ValueError(f"{text!r} is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATE_FORMATS_HELP}")
    return dates.pop() if dates else None


def _parse_date(raw: Any) -> datetime.date | None:
    if isinstance(raw, datetime.datetime):
        value = raw.date()
    elif isinstance(raw, datetime.date):
        value = raw
    else:
        text = re.sub(r"\s+", " ", _text(raw))
        if not text:
            return None
        value = _parse_date_text(text)
        if value is None:
            value = _parse_slashed_date(text)
        if value is None:
            raise ValueError(f"{text!r} is not a date: write it as {DATE_FORMATS_HELP}")
    if value > timezone.localdate():
        raise ValueError(f"{value.isoformat()} is in the future")
    return value


PARSERS = {
    "platform": _parse_platform,
    "created_on": _parse_date,
    "purpose": _parse_purpose,
    "status": _parse_status,
    "data_categories": _parse_data_categories,
}


def _row_clean(number: int, cells: dict[str, Any], result: ParsedRows) -> VMRow | None:
    """The row's values, or None (problems added) when any cell is bad."""
    values: dict[str, Any] = {}
    bad_columns: set[str] = set()
    for column in COLUMNS:
        raw = cells.get(column)
        try:
            if column in PARSERS:
                values[column] = PARSERS[column](raw)
            else:
                text = _text(raw)
                limit = MAX_LENGTHS[column]
                if len(text) > limit:
                    raise ValueError(f"is too long: {len(text):,} characters, at most {limit:,}")
                values[column] = text
        except ValueError as exc:
            result.add(number, column, str(exc))
            bad_columns.add(column)
    if "name" not in bad_columns and not values["name"]:
        result.add(number, "name", "is required")
        bad_columns.add("name")
    elif "name" not in bad_columns and re.search(r"[\r\n]", values["name"]):
        result.add(number, "name", "holds a line break: a VM name is one line (a quote left open?)")
        bad_columns.add("name")
    if values.get("purpose_other") and values.get("purpose") in ("", VMPurpose.OTHER):
        values["purpose"] = VMPurpose.OTHER.value
    elif values.get("purpose_other") and values.get("purpose"):
        purpose = VMPurpose(values["purpose"]).label
        result.add(number, "purpose_other", f"is only for purpose Other, not {purpose}")
        bad_columns.add("purpose_other")
    if bad_columns:
        return None
    return VMRow(row=number, **values)


def _is_blank(cells: Iterable[Any]) -> bool:
    """No cell holds anything (an empty list, from a grid's multiple choice, is empty too)."""
    return all(_is_blank(cell) if isinstance(cell, list | tuple) else not _text(cell) for cell in cells)


def _header_columns(cells: Sequence[Any]) -> list[str | None] | None:
    """The column of each cell when the record is a header line, else None."""
    keys = [_key(_text(cell)) for cell in cells]
    columns = [HEADERS.get(key) for key in keys]
    known = [column for column in columns if column]
    if "name" not in known:
        return None
    if len(set(known)) >= 2 or [key for key in keys if key] in (["name"], ["vmname"]):
        return columns
    return None


def _looks_like_header(cells: Sequence[Any]) -> bool:
    """A first line that is not a header but reads like one: it names a column, or it is words only and, read as
    data, it has bad cells (``Server,IP,Colour``)."""
    texts = [_text(cell) for cell in cells if _text(cell)]
    if any(_key(text) in HEADERS for text in texts):
        return True
    if not texts or any(re.search(r"\d", text) for text in texts):
        return False
    trial = ParsedRows()
    _row_clean(1, dict(zip(COLUMNS, cells, strict=False)), trial)
    return bool(trial.problems)


def _header_refusal(cells: Sequence[Any]) -> str:
    texts = [_text(cell) for cell in cells if _text(cell)]
    named = ", ".join(texts)
    if any(_key(text) in HEADERS for text in texts):
        return f"the first line names no {COLUMN_LABELS['name']} column: {named}; expected: {COLUMNS_HELP}"
    return f"the first line names no known column: {named}; expected: {COLUMNS_HELP}"


def _records_read(
    records: Iterator[tuple[int, Sequence[Any]]], result: ParsedRows, *, list_numbering: int | None
) -> None:
    """Read numbered records into ``result``: a header line if there is one, then data rows.

    ``list_numbering`` is the number of the first data row for the grid and
    pasted text; None keeps the records' own numbers (files).
    """
    columns: list[str | None] | None = None
    header_seen = False
    header_row = 0
    rows: list[tuple[int, dict[str, Any]]] = []
    first_data_line: int | None = None
    for number, cells in records:
        if not header_seen:
            if _is_blank(cells):
                continue
            header_seen = True
            columns = _header_columns(cells)
            if columns is None and _looks_like_header(cells):
                result.refuse(_header_refusal(cells))
                return
            if columns is not None:
                header_row = number
                where = 0 if list_numbering is not None else number
                for cell, column in zip(cells, columns, strict=True):
                    if column is None and _text(cell):
                        result.add(where, _text(cell), f"unknown column, ignored (columns: {COLUMNS_HELP})")
                seen: set[str] = set()
                for index, column in enumerate(columns):
                    if column is None:
                        continue
                    if column in seen:
                        result.add(where, column, "appears twice: only the first is read")
                        columns[index] = None
                    seen.add(column)
                continue
        if first_data_line is None:
            first_data_line = number
        if _is_blank(cells):
            continue
        if list_numbering is None:
            row_number = number
        else:
            row_number = list_numbering + number - (header_row + 1 if header_row else first_data_line)
        if len(rows) >= MAX_ROWS:
            result.refuse(f"more than {MAX_ROWS:,} rows: split the list")
            return
        if columns is None:
            cut = list(cells)
            while cut and not _text(cut[-1]):
                cut.pop()
            if len(cut) > len(COLUMNS):
                result.add(
                    row_number,
                    "",
                    f"has {len(cut)} cells, but without a header line the columns are {COLUMNS_HELP}",
                )
                continue
            rows.append((row_number, dict(zip(COLUMNS, cut, strict=False))))
        else:
            values: dict[str, Any] = {}
            for cell, column in zip(cells, columns, strict=False):
                if column is not None:
                    values[column] = cell
            rows.append((row_number, values))
    _rows_check(rows, result)


def _rows_check(rows: list[tuple[int, dict[str, Any]]], result: ParsedRows) -> None:
    seen: dict[tuple[str, str], int] = {}
    for number, cells in rows:
        row = _row_clean(number, cells, result)
        if row is None:
            continue
        identity = (row.name.casefold(), row.address.casefold())
        if identity in seen:
            result.add(number, "name", f"same name and address as row {seen[identity]}: only the first is kept")
            continue
        seen[identity] = number
        result.rows.append(row)


def _grid_records(grid: list[dict], start_row: int, result: ParsedRows) -> None:
    rows: list[tuple[int, dict[str, Any]]] = []
    ids: dict[int, int] = {}
    numbered = [(start_row + index, cells) for index, cells in enumerate(grid)]
    if sum(1 for _, cells in numbered if not isinstance(cells, dict) or not _is_blank(cells.values())) > MAX_ROWS:
        result.add(0, "", f"more than {MAX_ROWS:,} rows: split the list")
        return
    for number, cells in numbered:
        if not isinstance(cells, dict):
            result.add(number, "", "is not a row of cells")
            continue
        row_id = cells.get("id")
        values = {key: value for key, value in cells.items() if key != "id"}
        if _is_blank(values.values()):
            continue
        for key in sorted(set(values) - set(COLUMNS), key=str):
            result.add(number, str(key), "unknown column")
        if row_id not in (None, ""):
            try:
                ids[number] = int(row_id)
            except (TypeError, ValueError):
                result.add(number, "id", f"{row_id!r} is not a row id")
                continue
        rows.append((number, values))
    _rows_check(rows, result)
    for row in result.rows:
        row.declared_vm_id = ids.get(row.row)


def _delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    counts = {delimiter: first_line.count(delimiter) for delimiter in ("\t", ",", ";")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else "\t"


# A quoted CSV value from its opening quote: anything but quotes, and doubled quotes, up to the closing quote.
QUOTED_VALUE = re.compile(r'[^"]*(?:""[^"]*)*"')


def _unclosed_quote_line(text: str, delimiter: str) -> int | None:
    """The line where a quote opens and is never closed, else None.

    Read as ``csv`` reads: a quote opens a value only at the start of a cell,
    and a quote left open runs to the end of the text, swallowing the lines after it into one cell.
    """
    cell_end = re.compile(f"[{re.escape(delimiter)}\r\n]")
    position, cell_start = 0, True
    while position < len(text):
        if cell_start and text[position] == '"':
            match = QUOTED_VALUE.match(text, position + 1)
            if match is None:
                return len(re.findall(r"\r\n?|\n", text[:position])) + 1
            position, cell_start = match.end(), False
            continue
        match = cell_end.search(text, position)
        if match is None:
            return None
        position, cell_start = match.end(), True
    return None


def _text_records(text: str, result: ParsedRows, *, by_line: bool) -> Iterator[tuple[int, list[str]]]:
    """Records numbered as rows (a blank line is an empty row, a quoted value over several lines is one), or with
    ``by_line`` by the line of the text where each begins. A quote never closed refuses the whole text."""
    delimiter = _delimiter(text)
    open_line = _unclosed_quote_line(text, delimiter)
    if open_line is not None:
        result.refuse(f"a quote opened on line {open_line} is never closed: close it (or remove it); nothing was read")
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    try:
        for count, record in enumerate(reader, start=1):
            number = count if not by_line else number + 1
            yield number, record
            if by_line:
                number = reader.line_num
    except csv.Error as exc:
        result.add(number + 1, "", f"cannot be read: {exc}")


def _upload_max_bytes() -> int:
    return settings.QUESTIONNAIRE_UPLOAD_MAX_BYTES


def _megabytes(size: int) -> str:
    """A size as a person reads it: bytes, KB or MB (one decimal)."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1_048_576:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1_048_576:.1f} MB"


def _upload_read(upload: IO[bytes], result: ParsedRows) -> bytes | None:
    """The upload's bytes, or None (a problem added) when it is larger than the limit."""
    limit = _upload_max_bytes()
    size = getattr(upload, "size", None)
    if size is None or size <= limit:
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(limit + 1)
        size = len(data)
    if size > limit:
        result.add(0, "", f"the file is too large ({_megabytes(size)}); at most {_megabytes(limit)}")
        return None
    if not data:
        result.add(0, "", "the file is empty")
        return None
    return data


def _csv_text(data: bytes, result: ParsedRows) -> str | None:
    if data.startswith(b"PK\x03\x04"):
        result.add(0, "", "is a zip file (an xlsx workbook?), not CSV text: upload it as xlsx")
        return None
    if b"\x00" in data:
        result.add(0, "", "is a binary file, not CSV text")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.add(0, "", 'is not UTF-8 text: save it from Excel as "CSV UTF-8"')
        return None


def _xlsx_records(data: bytes, result: ParsedRows) -> Iterator[tuple[int, tuple]]:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        result.add(0, "", "is an old Excel .xls workbook: save it as .xlsx or CSV")
        return
    stream = io.BytesIO(data)
    if not zipfile.is_zipfile(stream):
        result.add(0, "", "is not an xlsx workbook")
        return
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        result.add(0, "", f"is not an xlsx workbook ({exc})")
        return
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        result.add(0, "", "is a zip file but not an xlsx workbook")
        return
    if expanded > XLSX_MAX_EXPANSION * _upload_max_bytes():
        result.add(0, "", f"unzips to {_megabytes(expanded)}, more than a VM list needs: save a smaller workbook")
        return
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds (KeyError, InvalidFileException, XML errors)
        result.add(0, "", f"is a zip file but not a readable xlsx workbook ({exc})")
        return
    try:
        if not workbook.worksheets:
            result.add(0, "", "the workbook has no worksheet")
            return
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # trust the cells, not the dimension the writer recorded
        try:
            yield from enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1)
        except Exception as exc:  # a damaged sheet part: report it, keep what was read
            result.add(0, "", f"the worksheet cannot be read to the end ({exc})")
    finally:
        workbook.close()


def vm_rows_parse(
    *,
    grid: list[dict] | None = None,
    text: str | None = None,
    csv_file: IO[bytes] | None = None,
    xlsx_file: IO[bytes] | None = None,
    start_row: int = 1,
) -> ParsedRows:
    """Read VM rows from exactly one input (see the module docstring); return the good rows and every problem.

    Nothing is written. A problem with the input as a whole (too large, not a
    workbook, too many rows) has row 0 and no rows come back.
    """
    inputs = {"grid": grid, "text": text, "csv_file": csv_file, "xlsx_file": xlsx_file}
    given = [name for name, value in inputs.items() if value is not None]
    if len(given) != 1:
        raise TypeError(f"vm_rows_parse takes exactly one input, got {', '.join(given) or 'none'}")
    result = ParsedRows()
    if grid is not None:
        _grid_records(grid, start_row, result)
    elif text is not None:
        size = len(text.encode())
        if size > _upload_max_bytes():
            result.add(0, "", f"the text is too large ({_megabytes(size)}); at most {_megabytes(_upload_max_bytes())}")
        else:
            _records_read(_text_records(text, result, by_line=False), result, list_numbering=start_row)
    else:
        result.unit = "file" if csv_file is not None else "sheet"
        data = _upload_read(csv_file if csv_file is not None else xlsx_file, result)
        if data is not None and csv_file is not None:
            decoded = _csv_text(data, result)
            if decoded is not None:
                _records_read(_text_records(decoded, result, by_line=True), result, list_numbering=None)
        elif data is not None:
            _records_read(_xlsx_records(data, result), result, list_numbering=None)
    result.problems.sort()
    return result


def _question_check_vm_list(question: Question) -> None:
    if question.kind != QuestionKind.VM_LIST:
        raise ValidationError(f"“{question.text}” is not a VM list", code="not_vm_list")


def _facts_differ(declared: DeclaredVM, facts: dict[str, Any]) -> bool:
    return any(getattr(declared, name) != value for name, value in facts.items())


@transaction.atomic
def declared_vms_save(
    *,
    assignment: Assignment,
    question: Question,
    rows: list[VMRow],
    user: User | None,
    replace: bool = True,
) -> SaveResult:
    """Write good rows into the assignment's VM list (a draft), renumbered from 1 in list order.

    A row edits an existing one when it carries its ``declared_vm_id``, else
    when it has the same name (any case) as a row not yet matched; other rows
    are added (disposition added). An edited row keeps its inventory link and
    disposition, except that a pre-filled row whose facts change becomes
    corrected. ``replace`` makes ``rows`` the list: rows typed before and not
    in it are deleted. Pre-filled rows are never deleted here (disown them):
    those not in ``rows`` stay, after the others. Without ``replace`` the rows
    are added after the list. At most ``MAX_ROWS`` rows not from inventory.

    Refused like ``answer_save``: campaign not active, assignment submitted
    or accepted (``ValidationError``), not the assignee (``PermissionDenied``).
    """
    assignment_lock_for_edit(assignment, user)
    assignment_question_check(assignment, question)
    _question_check_vm_list(question)
    listed = DeclaredVM.objects.filter(assignment=assignment, question=question)
    existing = list(listed.order_by("row", "id"))
    by_id = {declared.pk: declared for declared in existing}
    by_name: dict[str, list[DeclaredVM]] = {}
    # Pre-filled rows first: a pasted name most likely means the VM inventory already knows.
    for declared in sorted(existing, key=lambda declared: declared.inventory_vm_id is None):
        by_name.setdefault(declared.name.casefold(), []).append(declared)
    old_rows = {declared.pk: declared.row for declared in existing}
    edited: set[int] = set()
    used: set[int] = set()
    result = SaveResult()
    incoming: list[DeclaredVM] = []
    for row in rows:
        facts = row.facts()
        target = by_id.get(row.declared_vm_id) if row.declared_vm_id else None
        if target is None or target.pk in used:
            candidates = [d for d in by_name.get(row.name.casefold(), []) if d.pk not in used]
            target = candidates[0] if candidates else None
        if target is None:
            incoming.append(
                DeclaredVM(assignment=assignment, question=question, row=0, disposition=Disposition.ADDED, **facts)
            )
            result.created += 1
            continue
        used.add(target.pk)
        if _facts_differ(target, facts):
            for name, value in facts.items():
                setattr(target, name, value)
            if target.inventory_vm_id and target.disposition in (Disposition.PENDING, Disposition.CONFIRMED):
                target.disposition = Disposition.CORRECTED
            edited.add(target.pk)
            result.updated += 1
        else:
            result.unchanged += 1
        incoming.append(target)
    leftovers = [declared for declared in existing if declared.pk not in used]
    if replace:
        deleted = [declared.pk for declared in leftovers if declared.inventory_vm_id is None]
        final = incoming + [declared for declared in leftovers if declared.inventory_vm_id is not None]
    else:
        deleted = []
        final = existing + [declared for declared in incoming if not declared.pk]
    typed = sum(1 for declared in final if declared.inventory_vm_id is None)
    if typed > MAX_ROWS:
        raise ValidationError(f"a VM list may hold at most {MAX_ROWS:,} rows besides those from inventory ({typed:,})")
    for start in range(0, len(deleted), WRITE_BATCH_SIZE):
        DeclaredVM.objects.filter(pk__in=deleted[start : start + WRITE_BATCH_SIZE]).delete()
    result.deleted = len(deleted)
    for number, declared in enumerate(final, start=1):
        declared.row = number
    # Only rows that moved or changed are written: saving a grid with one edit is one UPDATE, not a whole list.
    moved = [declared.pk for declared in final if declared.pk and declared.row != old_rows[declared.pk]]
    for start in range(0, len(moved), WRITE_BATCH_SIZE):
        DeclaredVM.objects.filter(pk__in=moved[start : start + WRITE_BATCH_SIZE]).update(row=F("row") + RENUMBER_OFFSET)
    changed = [declared for declared in final if declared.pk in edited]
    if changed:
        DeclaredVM.objects.bulk_update(changed, ["row", *COLUMNS, "disposition"], batch_size=WRITE_BATCH_SIZE)
    moved_only_ids = set(moved) - edited
    moved_only = [declared for declared in final if declared.pk in moved_only_ids]
    if moved_only:
        DeclaredVM.objects.bulk_update(moved_only, ["row"], batch_size=WRITE_BATCH_SIZE)
    DeclaredVM.objects.bulk_create([d for d in final if not d.pk], batch_size=WRITE_BATCH_SIZE)
    result.total = len(final)
    assignment_mark_started(assignment)
    return result


@dataclass
class GridSave:
    """What a grid save did: the rows as parsed (with every problem) and what was written (None: nothing)."""

    parsed: ParsedRows
    saved: SaveResult | None


@transaction.atomic
def declared_vms_grid_save(
    *, assignment: Assignment, question: Question, grid: list[dict], user: User | None, replace: bool = True
) -> GridSave:
    """Save the rows of a VM grid (the page's autosave, the API): refused before any cell is named when the list
    may not change; the good rows are saved even when others are bad, and while any row has a problem nothing is
    deleted (the person is still fixing the list)."""
    assignment_lock_for_edit(assignment, user)
    parsed = vm_rows_parse(grid=grid)
    saved = None
    if parsed.rows or not parsed.problems:
        saved = declared_vms_save(
            assignment=assignment, question=question, rows=parsed.rows, user=user,
            replace=replace and not parsed.problems,
        )
    return GridSave(parsed=parsed, saved=saved)


POWER_STATUSES = {
    PowerState.ON: DeclaredVMStatus.RUNNING,
    PowerState.OFF: DeclaredVMStatus.STOPPED,
    PowerState.SUSPENDED: DeclaredVMStatus.STOPPED,
}
# Sources whose VMs are vSphere VMs: their ``platform`` is left empty by the collector and the RVTools reader.
VSPHERE_SOURCES = (SourceKind.VCENTER, SourceKind.RVTOOLS)
def _address(ip_addresses: list[str]) -> str:
    """The first IPv4 address, else the first address."""
    for address in ip_addresses:
        if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", address):
            return address
    return ip_addresses[0] if ip_addresses else ""


def _inventory_facts(vm: VirtualMachine) -> dict[str, Any]:
    """What inventory knows of a VM, as VM list values."""
    if vm.source.kind in VSPHERE_SOURCES:
        platform = Platform.VMWARE_ESXI.value
    elif vm.platform in Platform.values:
        platform = vm.platform
    else:
        platform = Platform.OTHER.value if vm.platform else ""
    purpose = PURPOSES.get(_key(vm.purpose), "") if vm.purpose else ""
    return {
        "name": vm.name[:255],
        "address": _address(vm.ip_addresses or []),
        "platform": platform,
        "software": vm.host.product[:200] if vm.host else "",
        "location": " / ".join(part.name for part in (vm.datacenter, vm.cluster) if part is not None)[:200],
        "created_on": timezone.localdate(vm.created_at) if vm.created_at else None,
        "created_by": vm.created_by[:200],
        "purpose": purpose or (VMPurpose.OTHER.value if vm.purpose else ""),
        "purpose_other": "" if purpose or not vm.purpose else vm.purpose[:200],
        "status": POWER_STATUSES.get(vm.power_state, ""),
        "owner": vm.owner.name[:200] if vm.owner else "",
        "data_categories": [],
        "notes": "",
    }


@transaction.atomic
def declared_vms_prefill(*, assignment: Assignment, question: Question) -> int:
    """Add to the VM list the VMs inventory attributes to the assignee's area; return how many were added.

    Attributed: owned by the assignee, or without an owner and under a
    cluster, folder or resource pool one of the assignee's area mappings
    patterns starts (any case); present or missing, not templates; not
    already in the list. Rows start pending, linked to the inventory VM, with
    its facts; the person confirms, corrects or disowns each. Safe to run
    again. Refused like ``answer_save`` (a system job: no user check).
    """
    assignment_lock_for_edit(assignment, None)
    assignment_question_check(assignment, question)
    _question_check_vm_list(question)
    listed = DeclaredVM.objects.filter(assignment=assignment, question=question)
    already = set(listed.exclude(inventory_vm=None).values_list("inventory_vm_id", flat=True))
    last_row = listed.aggregate(last=Max("row"))["last"] or 0
    vms = (
        VirtualMachine.objects.filter(
            vm_attributed_q(assignment.person),
            status__in=[VMStatus.PRESENT, VMStatus.MISSING],
            is_template=False,
        )
        .select_related("source", "datacenter", "cluster", "host", "owner")
        .order_by("name", "id")
    )
    new_rows = [
        DeclaredVM(
            assignment=assignment,
            question=question,
            row=last_row + number,
            disposition=Disposition.PENDING,
            inventory_vm=vm,
            **_inventory_facts(vm),
        )
        for number, vm in enumerate((vm for vm in vms if vm.pk not in already), start=1)
    ]
    DeclaredVM.objects.bulk_create(new_rows, batch_size=WRITE_BATCH_SIZE)
    return len(new_rows)


@transaction.atomic
def declared_vm_disposition_set(*, declared_vm: DeclaredVM, disposition: str, user: User | None) -> DeclaredVM:
    """Confirm, correct or disown a pre-filled row. Disowned rows stay in the list but do not count as declared.

    Rows the person added themselves have no disposition to set (delete them
    instead). Refused like ``answer_save``.
    """
    assignment = declared_vm.assignment
    assignment_lock_for_edit(assignment, user)
    if disposition not in Disposition.values:
        raise ValidationError(f"{disposition!r} is not a disposition", code="invalid_choice")
    if declared_vm.inventory_vm_id is None:
        raise ValidationError(f"{declared_vm.name}: a VM you added has no disposition to set", code="not_prefilled")
    allowed = (Disposition.CONFIRMED, Disposition.CORRECTED, Disposition.DISOWNED)
    if disposition not in allowed:
        raise ValidationError(
            f"{declared_vm.name}: a VM from inventory is confirmed, corrected or disowned, not {disposition}",
            code="invalid_choice",
        )
    if declared_vm.disposition != disposition:
        declared_vm.disposition = disposition
        declared_vm.save(update_fields=["disposition"])
    assignment_mark_started(assignment)
    return declared_vm


# What the bulk action may set on every row still to check: confirm them all, or disown them all.
BULK_DISPOSITIONS = (Disposition.CONFIRMED, Disposition.DISOWNED)


@transaction.atomic
def declared_vms_disposition_bulk_set(*, assignment: Assignment, question: Question, disposition: str,
                                      user: User | None) -> int:
    """Confirm (or disown) at once every pre-filled row of the list still to check; return how many changed.

    One UPDATE of the pending rows from inventory, in the audit trail (action
    ``vm_list.disposition_bulk_set``). Rows already confirmed, corrected or
    disowned, and rows the person added, are left alone. Refused like
    ``declared_vm_disposition_set``.
    """
    assignment_lock_for_edit(assignment, user)
    assignment_question_check(assignment, question)
    _question_check_vm_list(question)
    if disposition not in BULK_DISPOSITIONS:
        raise ValidationError(
            f"{disposition!r}: the rows still to check are all confirmed or all disowned at once", code="invalid_choice"
        )
    changed = DeclaredVM.objects.filter(
        assignment=assignment, question=question, inventory_vm__isnull=False, disposition=Disposition.PENDING
    ).update(disposition=disposition)
    if changed:
        audit_log(
            action="vm_list.disposition_bulk_set",
            actor=user,
            obj=assignment,
            details={"question": question.key, "disposition": disposition, "rows": changed},
        )
    assignment_mark_started(assignment)
    return changed


def _export_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def vm_rows_export_cells(value: Any) -> Any:
    """Neutralise formula injection in exported cells: a text starting with =, +, -, @, tab or CR gets a leading '.

    Takes one cell, or a row (list or tuple) of cells and returns a list;
    numbers, dates and None pass unchanged.
    """
    if isinstance(value, list | tuple):
        return [_export_cell(cell) for cell in value]
    return _export_cell(value)


def declared_vm_export_cells(declared_vm: DeclaredVM) -> list[Any]:
    """One row of an export, in ``EXPORT_COLUMNS`` order, safe to write to CSV or xlsx."""
    cells: list[Any] = []
    for name in EXPORT_COLUMNS:
        value = getattr(declared_vm, name)
        if name == "data_categories":
            value = "; ".join(value or [])
        elif name == "created_on":
            value = value.isoformat() if value else ""
        elif value is None:
            value = ""
        cells.append(value)
    return vm_rows_export_cells(cells)
