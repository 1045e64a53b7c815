"""Tables leaving the portal as CSV or xlsx, the same way for every app.

A person opening an export in Excel reads labels, not codes (a column with ``choices`` shows the label; the codes
are in a "Codes" sheet of the xlsx, and in a "(code)" column beside it in the CSV); dates that sort as dates; a
header row that stays in view with filters on it; and a first sheet saying what this is, when it was made, by
whom, with which filters and how many rows. No cell is ever read by a spreadsheet as a formula: the xlsx writes
every text as a typed string cell (shown as typed, no apostrophe), the CSV puts a ' before a text a spreadsheet
would run (``export_cell``). The CSV starts with a byte-order mark so that Excel reads it as UTF-8.
"""

import csv
import datetime
import io
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.forms.utils import pretty_name
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# A text starting with one of these is a formula (or turns into one) for Excel, LibreOffice and Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Widest column an xlsx export sets, in characters: long notes wrap in Excel rather than push the rest away.
MAX_COLUMN_WIDTH = 60


# Between the values of a cell that holds several (a VM's data categories), and their codes.
MANY_SEPARATOR = "; "


@dataclass(frozen=True)
class ExportColumn:
    """One column: its heading as people read it, its width in characters in xlsx, and for a coded column the
    label of each code (``choices``): its cells hold a code, a list of codes or None."""

    label: str
    width: int = 16
    choices: Mapping[str, str] | None = None

    def shown(self, value: Any) -> Any:
        """What a person reads in the cell: a code's label (several joined), any other value as it is."""
        if self.choices is None or value is None:
            return value
        codes = value if isinstance(value, list | tuple) else [value]
        return MANY_SEPARATOR.join(str(self.choices.get(code, code)) for code in codes) or None

    def codes(self, value: Any) -> Any:
        if value is None:
            return None
        return MANY_SEPARATOR.join(value) if isinstance(value, list | tuple) else value


@dataclass
class Export:
    """What leaves the portal: ``rows`` of typed cells (text, numbers, dates, datetimes, None) under ``columns``;
    ``title``, ``user``, ``filters`` (label → value, as the person chose them) and ``count`` for the About sheet."""

    title: str
    filename: str  # without the extension
    columns: Sequence[ExportColumn]
    rows: Iterable[Sequence[Any]]
    user: Any
    count: int
    filters: dict[str, str] = field(default_factory=dict)
    sheet: str = "Data"
    # More facts for the About sheet (label → value), e.g. the campaign the rows come from.
    facts: dict[str, Any] = field(default_factory=dict)


def export_cell(value: Any) -> Any:
    """A CSV cell made safe and plain: a text a spreadsheet would run as a formula gets a leading ', an aware
    datetime becomes local time (spreadsheets have no time zones), None stays empty; numbers and dates pass."""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


def export_filename(text: str) -> str:
    """A file name from a title: letters, digits, - _ and . only, spaces as -."""
    return "".join(character for character in text.replace(" ", "-") if character.isalnum() or character in "-_.")


def _csv_text(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return "" if value is None else value


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _csv_row(columns: Sequence[ExportColumn], row: Sequence[Any]) -> list[Any]:
    cells: list[Any] = []
    for column, value in zip(columns, row, strict=True):
        cells.append(_csv_text(export_cell(column.shown(value))))
        if column.choices is not None:
            cells.append(_csv_text(export_cell(column.codes(value))))
    return cells


def export_csv_response(export: Export) -> StreamingHttpResponse:
    """The rows as a streamed CSV download: a byte-order mark, the header, then one line per row; a coded column
    is followed by its codes ("Platform", "Platform (code)")."""
    writer = csv.writer(_Echo())
    header: list[str] = []
    for column in export.columns:
        header.append(column.label)
        if column.choices is not None:
            header.append(f"{column.label} (code)")
    lines = itertools.chain(
        ["\ufeff", writer.writerow(header)],
        (writer.writerow(_csv_row(export.columns, row)) for row in export.rows),
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}.csv"'
    return response


def _about_rows(exports: Sequence[Export], written: list[int]) -> Iterator[list[Any]]:
    first = exports[0]
    yield ["Export", first.title]
    yield from ([label, value] for label, value in first.facts.items())
    yield ["Made", timezone.localtime().replace(tzinfo=None, microsecond=0)]
    yield ["By", _person_name(first.user)]
    for export, count in zip(exports, written, strict=True):
        yield ["Rows" if len(exports) == 1 else f"Rows ({export.sheet})", count]
    if first.filters:
        for label, value in first.filters.items():
            yield [f"Filter: {label}", value]
    else:
        yield ["Filters", "none: everything you may read"]


def _person_name(user: Any) -> str:
    """Who made the export, as a person reads it: their full name and login."""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    login = user.get_username() if hasattr(user, "get_username") else str(user)
    return f"{full} ({login})" if full else login


def _xlsx_cell(sheet, value: Any, font: Font | None = None) -> WriteOnlyCell:
    """A typed cell: a text is a string cell whatever it starts with (never a formula, shown as typed)."""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value).replace(tzinfo=None)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell


def export_xlsx_bytes(export: Export, *more: Export) -> bytes:
    """The rows as an xlsx workbook: an About sheet first, then a sheet of data per export (``export`` and
    ``more``) with a frozen header row, filters on it and set column widths, then the codes of the coded columns.
    Evidence packs embed these bytes; pages send them with ``export_xlsx_response``."""
    exports = [export, *more]
    workbook = Workbook(write_only=True)
    about = workbook.create_sheet("About")
    about.column_dimensions["A"].width = 18
    about.column_dimensions["B"].width = MAX_COLUMN_WIDTH
    bold = Font(bold=True)
    written: list[int] = []
    for each in exports:
        sheet = workbook.create_sheet(each.sheet[:31])
        sheet.freeze_panes = "A2"
        for index, column in enumerate(each.columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = min(column.width, MAX_COLUMN_WIDTH)
        sheet.append([_xlsx_cell(sheet, column.label, bold) for column in each.columns])
        count = 0
        for row in each.rows:
            sheet.append([_xlsx_cell(sheet, column.shown(value)) for column, value in zip(each.columns, row,
                                                                                           strict=True)])
            count += 1
        sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(each.columns), 1))}{count + 1}"
        written.append(count)
    coded = [(each, column) for each in exports for column in each.columns if column.choices is not None]
    if coded:
        codes = workbook.create_sheet("Codes")
        for letter, width in zip("ABC", (24, 24, MAX_COLUMN_WIDTH), strict=True):
            codes.column_dimensions[letter].width = width
        codes.freeze_panes = "A2"
        codes.append([_xlsx_cell(codes, label, bold) for label in ("Column", "Code", "Label")])
        for each, column in coded:
            name = column.label if len(exports) == 1 else f"{each.sheet}: {column.label}"
            for code, label in column.choices.items():
                codes.append([_xlsx_cell(codes, name), _xlsx_cell(codes, code), _xlsx_cell(codes, str(label))])
    for label, value in _about_rows(exports, written):
        about.append([_xlsx_cell(about, label, bold), _xlsx_cell(about, value)])
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def export_xlsx_response(export: Export, *more: Export) -> HttpResponse:
    """The rows as an xlsx download (``export_xlsx_bytes``)."""
    response = HttpResponse(export_xlsx_bytes(export, *more), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}.xlsx"'
    return response


def export_filters(filterset) -> dict[str, str]:
    """The filters a person chose on a list page, as they read them (label → value), for the About sheet and the
    audit trail: a choice by its label, a chosen object by its name; filters left empty or invalid are left out."""
    if not filterset.is_bound:
        return {}
    filterset.is_valid()  # the valid filters apply (and are named), the bad ones are left out
    labels: dict[str, str] = {}
    form = filterset.form
    for name, value in getattr(form, "cleaned_data", {}).items():
        if value in (None, "", [], ()):
            continue
        field_ = form.fields[name]
        choices = {str(code): label for code, label in getattr(field_, "choices", None) or [] if code != ""}
        values = value if isinstance(value, list | tuple) else [value]
        labels[str(field_.label or pretty_name(name))] = ", ".join(str(choices.get(str(item), item)) for item in values)
    return labels
