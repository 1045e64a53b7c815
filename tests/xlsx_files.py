"""Write xlsx workbooks for tests, by openpyxl or by hand (a sheet's XML written as a hostile file would be).

    crafted(b'<row r="1">' + cell("A1", "name") + b"</row>", dimension="A1:XFD1048576")
"""

import io
import zipfile

from openpyxl import Workbook

SHEET_OPEN = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)
SHEET_CLOSE = b"</sheetData></worksheet>"


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def cell(reference: str, value: str) -> bytes:
    return f'<c r="{reference}" t="inlineStr"><is><t>{value}</t></is></c>'.encode()


def crafted(*sheet_data: bytes, dimension: str | None = "A1:B2", title: str = "Sheet") -> bytes:
    """A workbook whose one sheet, ``title``, is written by hand: ``dimension`` (None: no <dimension>), then rows."""
    workbook = Workbook()
    workbook.active.title = title
    stream = io.BytesIO()
    workbook.save(stream)
    base = zipfile.ZipFile(stream)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as written:
        for part in base.infolist():
            if part.filename != "xl/worksheets/sheet1.xml":
                written.writestr(part.filename, base.read(part))
                continue
            with written.open(part.filename, "w") as sheet:
                sheet.write(SHEET_OPEN)
                if dimension:
                    sheet.write(f'<dimension ref="{dimension}"/>'.encode())
                sheet.write(b"<sheetData>")
                for chunk in sheet_data:
                    sheet.write(chunk)
                sheet.write(SHEET_CLOSE)
    return archive.getvalue()
