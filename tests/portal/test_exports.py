"""The shared exporter: what a spreadsheet opens is safe, typed and labelled (``portal/exports.py``)."""

import datetime
import io

import pytest
from openpyxl import load_workbook

from portal.exports import Export, ExportColumn, export_cell, export_xlsx_response
from tests.factories import UserFactory


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("web01", "web01"),
        ("a=b", "a=b"),
        ("", ""),
        (-2, -2),
        (None, None),
        (datetime.date(2024, 1, 2), datetime.date(2024, 1, 2)),
    ],
)
def test_a_csv_cell_a_spreadsheet_would_run_gets_an_apostrophe(cell, expected):
    assert export_cell(cell) == expected


def test_the_xlsx_keeps_formula_like_text_as_typed_text_and_shows_labels(db):
    export = Export(
        title="Test", filename="test", user=UserFactory(username="u"), count=2,
        columns=[ExportColumn("Name"), ExportColumn("Kind", choices={"a": "Alpha", "b": "Beta"})],
        rows=[['=HYPERLINK("http://evil")', "a"], ["-2", ["a", "b"]]],
    )

    workbook = load_workbook(io.BytesIO(export_xlsx_response(export).content))

    sheet = workbook["Data"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)] == [
        ['=HYPERLINK("http://evil")', "Alpha"], ["-2", "Alpha; Beta"],
    ]
    assert {cell.data_type for row in sheet.iter_rows(min_row=2) for cell in row} == {"s"}
    assert list(workbook["Codes"].iter_rows(values_only=True)) == [
        ("Column", "Code", "Label"), ("Kind", "a", "Alpha"), ("Kind", "b", "Beta"),
    ]
