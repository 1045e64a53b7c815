"""xlsx workbooks: opened once their zip and their sheets' declared sizes are checked, read in openpyxl's read-only
mode, row by row, and no further than a sheet holds data.

A few kilobytes of xlsx can declare a million rows or a gigabyte of XML; each guard here stops one way of
holding a request for seconds, before the work is done rather than during it:

- the zip's directory says how large each part unzips to: a workbook larger in all than the caller allows, or
  a part that swells more than ``ZIP_BOMB_RATIO`` times, is refused before anything is inflated;
- openpyxl spends some 40 µs on each cell holding a text and on each of the workbook's shared texts (all read
  before the first cell): a caller that reads a few thousand cells says how many it takes (``max_cells``), and
  both are counted before openpyxl reads them, in C, in milliseconds;
- openpyxl reads a sheet's size from its ``<dimension>``, and reads the whole sheet to find it when there is
  none: a sheet without one is refused unless it is small (``UNSIZED_SHEET_MAX``);
- reading stops after ``EMPTY_ROWS_STOP`` empty rows in a row (reported: rows below may hold data), at Excel's
  last row and at the caller's last column (openpyxl makes every row as wide as that); a cell longer than a
  spreadsheet's is a problem, its row skipped.
"""

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from portal.tabular.cells import is_blank, too_long
from portal.tabular.files import size_text
from portal.tabular.problems import Problems

EXCEL_ROWS = 1_048_576
# Empty rows in a row after which a sheet is taken to hold nothing more: far more than anybody leaves between
# rows, few enough to read in milliseconds.
EMPTY_ROWS_STOP = 1_000
# Workbook parts unzip to about 15 times their compressed size (XML with a cell reference in every cell); a
# zip bomb swells hundreds of times. Parts under ZIP_BOMB_MIN_BYTES are too small to matter.
ZIP_BOMB_RATIO = 100
ZIP_BOMB_MIN_BYTES = 1_048_576
# openpyxl sizes a sheet without a <dimension> by reading all of it; this much XML it reads in milliseconds.
UNSIZED_SHEET_MAX = 262_144
# Where a sheet's <dimension> is: before <sheetData>, after a few small elements.
SHEET_HEAD_BYTES = 65_536
EMPTY_ROWS_MESSAGE = (
    f"{EMPTY_ROWS_STOP:,} empty rows in a row: reading stopped here, rows below are not read "
    "(delete the empty rows if more follow)"
)
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"
WORKSHEET_ROOT = re.compile(rb"<(\w+:)?worksheet[\s>]")
SHEET_DATA = re.compile(rb"<(?:\w+:)?sheetData[\s>/]")
SHARED_TEXTS_ROOT = re.compile(rb"<(\w+:)?sst[\s>]")
DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s[^>]*\bref=")


class Workbook:
    """An open workbook and its worksheets by title (any case, surrounding spaces ignored)."""

    def __init__(self, workbook: Any):
        self._workbook = workbook
        self.worksheets: dict[str, Any] = {}
        for worksheet in workbook.worksheets:
            self.worksheets.setdefault(worksheet.title.strip().casefold(), worksheet)

    def sheet(self, title: str) -> Any | None:
        return self.worksheets.get(title.strip().casefold())

    def titles(self) -> list[str]:
        """The titles of its worksheets, as spelt in it."""
        return [worksheet.title for worksheet in self._workbook.worksheets]

    def first_sheet(self) -> Any | None:
        return self._workbook.worksheets[0] if self._workbook.worksheets else None

    def close(self) -> None:
        self._workbook.close()


def workbook_open(
    data: bytes, problems: Problems, *, max_expanded: int, max_cells: int | None = None
) -> Workbook | None:
    """The workbook in ``data``, or None (a problem added) when it is not one, or not one to open (see the module
    docstring). ``max_expanded`` is the most its parts may unzip to, in all; ``max_cells`` the most cells with a
    value, and different texts, it may hold (None: any number). Close what it returns."""
    if data.startswith(OLD_EXCEL_MAGIC):
        problems.add(0, "", "is an old Excel .xls workbook: save it as .xlsx or CSV")
        return None
    stream = io.BytesIO(data)
    if not zipfile.is_zipfile(stream):
        problems.add(0, "", "is not an xlsx workbook")
        return None
    try:
        with zipfile.ZipFile(stream) as archive:
            refusal = _archive_refusal(archive, max_expanded, max_cells)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, NotImplementedError) as exc:  # damaged
        refusal = f"is not an xlsx workbook ({exc})"
    if refusal:
        problems.add(0, "", refusal)
        return None
    try:
        return Workbook(load_workbook(stream, read_only=True, data_only=True))
    except Exception as exc:  # openpyxl raises many kinds (KeyError, InvalidFileException, XML errors)
        problems.add(0, "", f"is a zip file but not a readable xlsx workbook ({exc})")
        return None


def _archive_refusal(archive: zipfile.ZipFile, max_expanded: int, max_cells: int | None) -> str:
    """Why the zip is not a workbook to open, from its directory; "" when it is."""
    parts = archive.infolist()
    names = {part.filename for part in parts}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        return "is a zip file but not an xlsx workbook"
    expanded = sum(part.file_size for part in parts)
    if expanded > max_expanded:
        return f"unzips to {size_text(expanded)}, more than the {size_text(max_expanded)} allowed: save a smaller one"
    for part in parts:
        if part.file_size > ZIP_BOMB_MIN_BYTES and part.file_size > ZIP_BOMB_RATIO * max(part.compress_size, 1):
            return (
                f"has a part that unzips to {size_text(part.file_size)} from {size_text(part.compress_size)}: "
                "a zip bomb, not a workbook a spreadsheet wrote"
            )
    return _parts_refusal(archive, max_cells)


def _parts_refusal(archive: zipfile.ZipFile, max_cells: int | None) -> str:
    """Why its sheets or its texts make the workbook one not to open: a large sheet without a dimension, more cells
    with a value or more different texts than ``max_cells``; "" when none does."""
    cells = texts = 0
    for part in archive.infolist():
        if not part.filename.endswith(".xml"):
            continue
        with archive.open(part) as source:
            head = source.read(SHEET_HEAD_BYTES)
        # A cell with a value ends with </c> (<c r="A1" s="1"/> only carries a format, and costs openpyxl little),
        # a text with </si>; a writer may put the namespace's prefix on every tag.
        if sheet := WORKSHEET_ROOT.search(head):
            data_start = SHEET_DATA.search(head)
            declared = DIMENSION.search(head, 0, data_start.start() if data_start else len(head))
            if part.file_size > UNSIZED_SHEET_MAX and not declared:
                return (
                    "has a sheet that does not say how large it is (no dimension): "
                    "open the workbook in Excel or LibreOffice and save it again"
                )
            if max_cells is not None:
                cells += archive.read(part).count(b"</" + (sheet[1] or b"") + b"c>")
        elif max_cells is not None and (table := SHARED_TEXTS_ROOT.search(head)):
            texts += archive.read(part).count(b"</" + (table[1] or b"") + b"si>")
    if max_cells is not None and cells > max_cells:
        return f"holds {cells:,} cells with a value, more than the {max_cells:,} it may: save a smaller one"
    if max_cells is not None and texts > max_cells:
        return f"holds {texts:,} different texts, more than the {max_cells:,} it may: save a smaller one"
    return ""


def sheet_rows(worksheet: Any, problems: Problems, *, max_columns: int, sheet: str = "") -> Iterator[tuple[int, tuple]]:
    """The rows that hold something, as (row number, values of the first ``max_columns`` columns), up to where the
    sheet stops holding data (see the module docstring). Problems name the sheet ``sheet``."""
    worksheet.reset_dimensions()  # trust the cells, not the dimension the writer recorded: some record too little
    empty_run = number = 0
    try:
        for number, values in enumerate(
            worksheet.iter_rows(values_only=True, max_col=max_columns, max_row=EXCEL_ROWS), start=1
        ):
            # Counting Nones is done in C: an empty row is the common case among many read.
            if values.count(None) == len(values) or is_blank(values):
                empty_run += 1
                if empty_run == EMPTY_ROWS_STOP:
                    problems.add(number, "", EMPTY_ROWS_MESSAGE, sheet=sheet)
                    return
                continue
            empty_run = 0
            long_cell = too_long(values)
            if long_cell is not None:
                problems.add(number, f"column {get_column_letter(long_cell[0] + 1)}", long_cell[1], sheet=sheet)
                continue
            yield number, values
    except Exception as exc:  # a damaged sheet part (bad XML, a bad number): report it, keep what was read
        problems.add(number + 1, "", f"the sheet cannot be read from here on ({exc})", sheet=sheet)
