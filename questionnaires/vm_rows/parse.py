"""Reading VM rows from the grid, pasted text, a CSV or an xlsx upload into good rows and problems (see the package
docstring). Nothing here writes."""

import datetime
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.utils import timezone

from portal.tabular import cells, csv, xlsx
from portal.tabular.files import read_limited, size_text
from portal.tabular.problems import Numbering, Problem, Problems
from questionnaires.choices import DataCategory, VMPurpose
from questionnaires.vm_rows.columns import (
    COLUMN_LABELS,
    COLUMNS,
    COLUMNS_HELP,
    DATA_CATEGORIES,
    DATA_CATEGORIES_HELP,
    HEADERS,
    MAX_LENGTHS,
    PLATFORMS,
    PLATFORMS_HELP,
    PURPOSES,
    PURPOSES_HELP,
    STATUSES,
    STATUSES_HELP,
)

# One paste or upload: far more than any one manager's area, small enough to check and save in one request.
MAX_ROWS = 2_000
# xlsx columns read: the list has 13; people add a few of their own, and nobody needs column AY.
MAX_COLUMNS = 50
# An xlsx is a zip: its parts may unzip to at most this many times the upload limit (text XML compresses
# about 10:1), which stops a zip bomb before openpyxl inflates it.
XLSX_MAX_EXPANSION = 30
# Cells with a value (and different texts) an xlsx may hold: twice a full list's. openpyxl spends some 40 µs on
# each, so a small workbook of a million would hold the request for a minute; a full list takes about 1.5 s.
XLSX_MAX_CELLS = 2 * MAX_ROWS * len(COLUMNS)


@dataclass
class VMRow:
    """One good row, its values cleaned; ``row`` is where it came from (see the package docstring)."""

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
    uuid: str = ""
    vm_id: str = ""
    mac_address: str = ""
    declared_vm_id: int | None = None
    # The columns the input supplied for this row (a file's header, a grid row's keys): a row that edits a saved
    # one changes only these, and keeps the others.
    given: frozenset[str] = field(default=frozenset(COLUMNS), compare=False, repr=False)

    def facts(self) -> dict[str, Any]:
        """The ``DeclaredVM`` field values of the row."""
        return {name: getattr(self, name) for name in COLUMNS}

    def given_facts(self) -> dict[str, Any]:
        """The values of the columns the input supplied."""
        return {name: getattr(self, name) for name in COLUMNS if name in self.given}


@dataclass
class ParsedRows:
    """The good rows of an input and every problem; ``problems.numbering`` says how its rows are numbered."""

    rows: list[VMRow] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)

    def add(self, row: int, column: str, message: str) -> None:
        self.problems.add(row, column, message)

    def refuse(self, message: str) -> None:
        """The input as a whole is refused: no row comes back, only this problem."""
        self.rows.clear()
        self.problems[:] = [Problem("", 0, "", message, self.problems.numbering)]

    def problem_texts(self, file_name: str = "") -> list[str]:
        """Every problem as the page shows it, columns by their headings; one about an upload as a whole names it."""
        return [
            f"“{file_name}” {problem.message}"
            if file_name and not problem.row and not problem.column
            else problem.text(COLUMN_LABELS)
            for problem in self.problems
        ]


# Cell values. Each parser takes a cell as read (str from the grid, paste and CSV; str, int, float, bool, date or
# datetime from xlsx) and returns the value, or raises ValueError with a message a person can act on.


def _choice(raw: Any, spellings: dict[str, str], accepted: str) -> str:
    text = cells.text(raw)
    if not text:
        return ""
    value = spellings.get(cells.key(text))
    if value is None:
        raise ValueError(f"{cells.quoted(text)} is not one of {accepted}")
    return str(value)


def _parse_platform(raw: Any) -> str:
    if cells.key(cells.text(raw)) == "vmware":
        raise ValueError("'VMware' alone could be ESXi or Workstation: write VMware ESXi or VMware Workstation")
    return _choice(raw, PLATFORMS, PLATFORMS_HELP)


def _parse_purpose(raw: Any) -> str:
    return _choice(raw, PURPOSES, PURPOSES_HELP)


def _parse_status(raw: Any) -> str:
    return _choice(raw, STATUSES, STATUSES_HELP)


def _parse_data_categories(raw: Any) -> list[str]:
    parts = (
        [cells.text(item) for item in raw] if isinstance(raw, list | tuple) else re.split(r"[;,\n]", cells.text(raw))
    )
    chosen: set[str] = set()
    for part in parts:
        part = part.strip()
        if not part:
            continue
        value = DATA_CATEGORIES.get(cells.key(part))
        if value is None:
            raise ValueError(f"{cells.quoted(part)} is not one of {DATA_CATEGORIES_HELP}")
        chosen.add(str(value))
    if DataCategory.NONE in chosen and len(chosen) > 1:
        raise ValueError("'None' cannot go with other data categories")
    return [value for value in DataCategory.values if value in chosen]


def _parse_date(raw: Any) -> datetime.date | None:
    if not cells.text(raw):
        return None
    value = cells.date(raw)
    if value > timezone.localdate():
        raise ValueError(f"{value.isoformat()} is in the future")
    return value


def _parse_uuid(raw: Any) -> str:
    text = cells.text(raw)
    if text and not re.fullmatch(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}", text):
        raise ValueError(f"{cells.quoted(text[:80])} is not a UUID (32 hex digits, as 4210a1b2-c3d4-...)")
    return text.lower()


def _parse_mac(raw: Any) -> str:
    text = cells.text(raw)
    if not text:
        return ""
    digits = re.sub(r"[:.\-]", "", text)
    if not re.fullmatch(r"[0-9a-fA-F]{12}", digits):
        raise ValueError(f"{cells.quoted(text[:80])} is not a MAC address (as 00:50:56:ab:cd:ef)")
    return ":".join(digits[index : index + 2] for index in range(0, 12, 2)).lower()


PARSERS = {
    "platform": _parse_platform,
    "created_on": _parse_date,
    "purpose": _parse_purpose,
    "status": _parse_status,
    "data_categories": _parse_data_categories,
    "uuid": _parse_uuid,
    "mac_address": _parse_mac,
}


def _row_clean(number: int, row_cells: dict[str, Any], result: ParsedRows) -> VMRow | None:
    """The row's values, or None (problems added) when any cell is bad."""
    values: dict[str, Any] = {}
    bad_columns: set[str] = set()
    for column in COLUMNS:
        raw = row_cells.get(column)
        try:
            if column in PARSERS:
                values[column] = PARSERS[column](raw)
            else:
                text = cells.text(raw)
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
    given = set(row_cells) & set(COLUMNS)
    if values.get("purpose_other") and values.get("purpose") in ("", VMPurpose.OTHER):
        values["purpose"] = VMPurpose.OTHER.value
        given.add("purpose")
    elif values.get("purpose_other") and values.get("purpose"):
        purpose = VMPurpose(values["purpose"]).label
        result.add(number, "purpose_other", f"is only for purpose Other, not {purpose}")
        bad_columns.add("purpose_other")
    if bad_columns:
        return None
    if "purpose" in given and values["purpose"] != VMPurpose.OTHER:
        given.add("purpose_other")  # a purpose other than Other has no "purpose if other" to keep
    return VMRow(row=number, given=frozenset(given), **values)


def _header_columns(row_cells: Sequence[Any]) -> list[str | None] | None:
    """The column of each cell when the record is a header line, else None."""
    keys = [cells.key(cells.text(cell)) for cell in row_cells]
    columns = [HEADERS.get(key) for key in keys]
    known = [column for column in columns if column]
    if "name" not in known:
        return None
    if len(set(known)) >= 2 or [key for key in keys if key] in (["name"], ["vmname"]):
        return columns
    return None


def _looks_like_header(row_cells: Sequence[Any]) -> bool:
    """A first line that is not a header but reads like one: it names a column, or it is words only and, read as
    data, it has bad cells (``Server,IP,Colour``)."""
    texts = [cells.text(cell) for cell in row_cells if cells.text(cell)]
    if any(cells.key(text) in HEADERS for text in texts):
        return True
    if not texts or any(re.search(r"\d", text) for text in texts):
        return False
    trial = ParsedRows()
    _row_clean(1, dict(zip(COLUMNS, row_cells, strict=False)), trial)
    return bool(trial.problems)


def _header_refusal(row_cells: Sequence[Any]) -> str:
    texts = [cells.text(cell) for cell in row_cells if cells.text(cell)]
    named = ", ".join(texts)
    if any(cells.key(text) in HEADERS for text in texts):
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
    for number, row_cells in records:
        if not header_seen:
            if cells.is_blank(row_cells):
                continue
            header_seen = True
            columns = _header_columns(row_cells)
            if columns is None and _looks_like_header(row_cells):
                result.refuse(_header_refusal(row_cells))
                return
            if columns is not None:
                header_row = number
                where = 0 if list_numbering is not None else number
                for cell, column in zip(row_cells, columns, strict=True):
                    if column is None and cells.text(cell):
                        result.add(where, cells.text(cell), f"unknown column, ignored (columns: {COLUMNS_HELP})")
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
        if cells.is_blank(row_cells):
            continue
        if list_numbering is None:
            row_number = number
        else:
            row_number = list_numbering + number - (header_row + 1 if header_row else first_data_line)
        if len(rows) >= MAX_ROWS:
            result.refuse(f"more than {MAX_ROWS:,} rows: split the list")
            return
        if columns is None:
            cut = list(row_cells)
            while cut and not cells.text(cut[-1]):
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
            # Every column of the header is supplied, by each row, even where a short row ends before it.
            values: dict[str, Any] = {column: None for column in columns if column is not None}
            for cell, column in zip(row_cells, columns, strict=False):
                if column is not None:
                    values[column] = cell
            rows.append((row_number, values))
    _rows_check(rows, result)


def _rows_check(rows: list[tuple[int, dict[str, Any]]], result: ParsedRows) -> None:
    seen: dict[tuple[str, str], int] = {}
    for number, row_cells in rows:
        row = _row_clean(number, row_cells, result)
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
    numbered = [(start_row + index, row_cells) for index, row_cells in enumerate(grid)]
    if (
        sum(1 for _, values in numbered if not isinstance(values, dict) or not cells.is_blank(values.values()))
        > MAX_ROWS
    ):
        result.add(0, "", f"more than {MAX_ROWS:,} rows: split the list")
        return
    for number, row_cells in numbered:
        if not isinstance(row_cells, dict):
            result.add(number, "", "is not a row of cells")
            continue
        row_id = row_cells.get("id")
        values = {key: value for key, value in row_cells.items() if key != "id"}
        if cells.is_blank(values.values()):
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


def _upload_max_bytes() -> int:
    return settings.QUESTIONNAIRE_UPLOAD_MAX_BYTES


def _upload_read(upload: IO[bytes], result: ParsedRows) -> bytes | None:
    """The upload's bytes, or None (a problem added) when it is too large or empty."""
    data = read_limited(upload, result.problems, max_bytes=_upload_max_bytes())
    if data == b"":
        result.add(0, "", "is empty")
        return None
    return data


def _xlsx_read(data: bytes, result: ParsedRows) -> None:
    limits = {"max_expanded": XLSX_MAX_EXPANSION * _upload_max_bytes(), "max_cells": XLSX_MAX_CELLS}
    book = xlsx.workbook_open(data, result.problems, **limits)
    if book is None:
        return
    try:
        sheet = book.first_sheet()
        if sheet is None:
            result.add(0, "", "has no worksheet")
            return
        _records_read(xlsx.sheet_rows(sheet, result.problems, max_columns=MAX_COLUMNS), result, list_numbering=None)
    finally:
        book.close()


def vm_rows_parse(
    *,
    grid: list[dict] | None = None,
    text: str | None = None,
    csv_file: IO[bytes] | None = None,
    xlsx_file: IO[bytes] | None = None,
    start_row: int = 1,
) -> ParsedRows:
    """Read VM rows from exactly one input (see the package docstring); return the good rows and every problem.

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
            result.add(0, "", f"the text is too large ({size_text(size)}); at most {size_text(_upload_max_bytes())}")
        else:
            records = csv.records(text, result.problems, by_line=False)
            _records_read(records, result, list_numbering=start_row)
    elif csv_file is not None:
        result.problems.numbering = Numbering.FILE_LINE
        data = _upload_read(csv_file, result)
        decoded = None if data is None else csv.decode(data, result.problems)
        if decoded is not None:
            _records_read(csv.records(decoded, result.problems, by_line=True), result, list_numbering=None)
    else:
        result.problems.numbering = Numbering.SHEET_ROW
        data = _upload_read(xlsx_file, result)
        if data is not None:
            _xlsx_read(data, result)
    result.problems.sort()
    return result
