"""CSV files and pasted text: their encoding, their delimiter and their records, read one way for every importer."""

import codecs
import csv
import io
import re
from collections.abc import Iterator

from portal.tabular.cells import MAX_CELL_CHARACTERS, too_long
from portal.tabular.problems import Problems

# Tried in this order, which also breaks ties: cells copied from a spreadsheet are tab-separated, and a tab is
# the separator least likely to be inside a value when the first line has none of them.
DELIMITERS = ("\t", ",", ";")
# More than one NUL byte, and more than one byte in this many: binary (or UTF-16 without a BOM), not text with
# a stray NUL.
NUL_SHARE_OF_BINARY = 100
NUL_PROBLEM = "holds a NUL character (\\x00), which cannot be stored: remove it; nothing was read"
# PowerShell's Export-Csv (without -NoTypeInformation) writes this line before the header.
POWERSHELL_TYPE_LINE = "#TYPE"
# A quoted value from its opening quote: anything but quotes, and doubled quotes, up to the closing quote.
QUOTED_VALUE = re.compile(r'[^"]*(?:""[^"]*)*"')


def decode(data: bytes, problems: Problems, *, windows_1252: bool = False, sheet: str = "") -> str | None:
    """The text of a file: UTF-8 with or without a BOM, or UTF-16 with its BOM; with ``windows_1252``
    (for writers known to use Windows' code page: RVTools) Windows-1252 when it is not UTF-8.

    None, with a problem, for anything else: a zip, a binary file, another encoding (guessed, "José" from
    another code page would be imported as "JosÃ©" or "Jos‚" without a word).
    """
    if data.startswith(b"PK\x03\x04"):
        problems.add(0, "", "is a zip file (an xlsx workbook?), not CSV text", sheet=sheet)
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            problems.add(0, "", "starts as UTF-16 text but is not UTF-16", sheet=sheet)
            return None
    first_nul = data.find(b"\x00")
    if first_nul >= 0:
        # Text in UTF-16 without its BOM, or a binary file, is full of NULs; a text file with one stray NUL
        # (which no database stores) is named by its line, so the person can find and remove it.
        nuls = data.count(b"\x00")
        if nuls > 1 and nuls * NUL_SHARE_OF_BINARY > len(data):
            problems.add(0, "", "is a binary file, not CSV text", sheet=sheet)
        else:
            problems.add(data.count(b"\n", 0, first_nul) + 1, "", NUL_PROBLEM, sheet=sheet)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if windows_1252:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            problems.add(0, "", "is neither UTF-8 nor Windows-1252 text", sheet=sheet)
            return None
    problems.add(0, "", 'is not UTF-8 text: save it as "CSV UTF-8"', sheet=sheet)
    return None


def delimiter(text: str) -> str:
    """The most frequent of tab, comma and semicolon on the first line that is not blank (a PowerShell ``#TYPE``
    line is not the header); ties in the order of ``DELIMITERS``, and tab when the line has none."""
    for line in io.StringIO(text):
        if not line.strip() or line.startswith(POWERSHELL_TYPE_LINE):
            continue
        counts = {candidate: line.count(candidate) for candidate in DELIMITERS}
        best = max(DELIMITERS, key=counts.__getitem__)
        return best if counts[best] else DELIMITERS[0]
    return DELIMITERS[0]


def records(text: str, problems: Problems, *, by_line: bool, sheet: str = "") -> Iterator[tuple[int, list[str]]]:
    """The records of a CSV text, each with its number: with ``by_line``, the line where it begins (a value quoted
    over several lines counts each line, as a text editor does), else its row (a blank line is an empty row, a
    quoted value over several lines one row, as a spreadsheet shows them).

    A PowerShell ``#TYPE`` first line is skipped. A quote opened at the start of a cell and never closed would
    swallow every line after it into one cell: the whole text is refused, naming the line where it opens. A
    record with a cell longer than a spreadsheet cell holds is a problem, and is not returned.
    """
    separator = delimiter(text)
    open_line = _unclosed_quote_line(text, separator) if '"' in text else None
    if open_line is not None:
        problems.add(
            0,
            "",
            f"a quote opened on line {open_line} is never closed: close it (or remove it); nothing was read",
            sheet=sheet,
        )
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    number, next_line = 0, 1
    try:
        for count, record in enumerate(reader, start=1):
            number = next_line if by_line else count
            next_line = reader.line_num + 1
            if count == 1 and record and record[0].startswith(POWERSHELL_TYPE_LINE):
                continue
            long_cell = too_long(record)
            if long_cell is not None:
                problems.add(number, f"column {long_cell[0] + 1}", long_cell[1], sheet=sheet)
                continue
            yield number, record
    except csv.Error as exc:
        where = next_line if by_line else number + 1
        if "field larger than field limit" in str(exc):
            message = f"holds a cell of more than {csv.field_size_limit():,} characters; a cell holds at most "
            message += f"{MAX_CELL_CHARACTERS:,}"
        else:
            message = f"is not valid CSV: {exc}"
        problems.add(where, "", message, sheet=sheet)


def _unclosed_quote_line(text: str, separator: str) -> int | None:
    """The line where a quote opens and is never closed, else None.

    Read as ``csv`` reads: a quote opens a value only at the start of a cell, and a quote left open runs to the
    end of the text.
    """
    cell_end = re.compile(f"[{re.escape(separator)}\r\n]")
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
