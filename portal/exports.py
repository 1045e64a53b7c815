"""Tables leaving the portal as CSV or xlsx, the same way for every app.

A person opening an export in Excel reads labels, not codes; dates that sort as dates; a header row that stays in
view with filters on it; and a first sheet saying what this is, when it was made, by whom, with which filters and
how many rows. No cell is ever read by a spreadsheet as a formula (``export_cell``), and the CSV starts with a
byte-order mark so that Excel reads it as UTF-8.
"""

import csv
import datetime
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class ExportColumn:
    """One column: its heading as people read it, and its width in characters in xlsx."""

    label: str
    width: int = 16


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


def export_cell(value: Any) -> Any:
    """A cell made safe and plain: a text a spreadsheet would run as a formula gets a leading ', an aware
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


def export_csv_response(export: Export) -> StreamingHttpResponse:
    """The rows as a streamed CSV download: a byte-order mark, the header, then one line per row."""
    writer = csv.writer(_Echo())
    header = [column.label for column in export.columns]
    lines = itertools.chain(
        ["\ufeff", writer.writerow(header)],
        (writer.writerow([_csv_text(export_cell(value)) for value in row]) for row in export.rows),
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}.csv"'
    return response


def _about_rows(export: Export, written: int) -> Iterator[list[Any]]:
    yield ["Export", export.title]
    yield ["Made", timezone.localtime().replace(tzinfo=None, microsecond=0)]
    yield ["By", str(export.user)]
    yield ["Rows", written]
    if export.filters:
        for label, value in export.filters.items():
            yield [f"Filter: {label}", value]
    else:
        yield ["Filters", "none: everything you may read"]


def export_xlsx_bytes(export: Export) -> bytes:
    """The rows as an xlsx workbook: an About sheet first, then the data with a frozen header row, filters on it
    and set column widths. Evidence packs embed these bytes; pages send them with ``export_xlsx_response``."""
    workbook = Workbook(write_only=True)
    about = workbook.create_sheet("About")
    about.column_dimensions["A"].width = 18
    about.column_dimensions["B"].width = MAX_COLUMN_WIDTH
    sheet = workbook.create_sheet(export.sheet[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(export.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(column.width, MAX_COLUMN_WIDTH)
    bold = Font(bold=True)
    sheet.append([_bold(sheet, column.label, bold) for column in export.columns])
    written = 0
    for row in export.rows:
        sheet.append([export_cell(value) for value in row])
        written += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(len(export.columns), 1))}{written + 1}"
    for label, value in _about_rows(export, written):
        about.append([_bold(about, label, bold), export_cell(value)])
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def export_xlsx_response(export: Export) -> HttpResponse:
    """The rows as an xlsx download (``export_xlsx_bytes``)."""
    response = HttpResponse(export_xlsx_bytes(export), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}.xlsx"'
    return response


def _bold(sheet, value: str, font: Font) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=export_cell(value))
    cell.font = font
    return cell
