"""Reading tables (docs/tabular.md): one rule for each kind of cell, CSV text, xlsx workbooks and hostile files."""

import datetime
import io
import random
import zipfile

import pytest
from openpyxl import Workbook

from portal.tabular import cells, csv, xlsx
from portal.tabular.files import read_limited
from portal.tabular.problems import ImportRefused, Numbering, Problem, Problems
from portal.tabular.sheets import Sheet
from tests.xlsx_files import cell, crafted, xlsx_bytes

UTC = datetime.UTC
DATES_HELP = "YYYY-MM-DD (2024-03-05), YYYY/MM/DD, D.M.YYYY or 5 Mar 2024"
EMPTY_ROWS_STOP = (
    "1,000 empty rows in a row: reading stopped here, rows below are not read (delete the empty rows if more follow)"
)


def found(problems: Problems) -> list[tuple[str, int, str, str]]:
    return [(problem.sheet, problem.row, problem.column, problem.message) for problem in problems]


# --- problems ---------------------------------------------------------------------------------------------------


def test_a_problem_reads_as_where_then_what():
    assert str(Problem("vInfo", 3, "CPUs", "bad")) == "vInfo row 3, CPUs: bad"
    assert str(Problem("vInfo", 0, "", "no VM")) == "vInfo: no VM"
    assert str(Problem("", 4, "vm_id", "is required", Numbering.LINE)) == "line 4, vm_id: is required"
    assert str(Problem("", 0, "", "is empty")) == "is empty"
    assert str(Problem("", 0, "colour", "unknown column")) == "colour: unknown column"
    assert str(Problem("", 3, "", "has 14 cells", Numbering.FILE_LINE)) == "line 3 of the file: has 14 cells"
    labelled = Problem("", 3, "created_on", "bad", Numbering.SHEET_ROW)
    assert labelled.text({"created_on": "Created on"}) == "row 3 of the sheet, Created on: bad"


def test_problems_are_numbered_as_their_input_and_a_refusal_sorts_them():
    problems = Problems(Numbering.LINE)
    problems.add(4, "vm_id", "is required")
    problems.add(0, "", "is empty")
    problems.add(2, "name", "is required", sheet="csv")

    refused = ImportRefused(problems)

    assert str(refused) == "3 problem(s); nothing was imported"
    assert [str(problem) for problem in refused.problems] == [
        "is empty",
        "line 4, vm_id: is required",
        "csv line 2, name: is required",
    ]


# --- cells: text and keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (None, ""),
        ("  web01 \u00a0", "web01"),
        (4.0, "4"),
        (4.5, "4.5"),
        (42, "42"),
        (True, "TRUE"),
        (False, "FALSE"),
        (datetime.datetime(2024, 3, 5), "2024-03-05"),
        (datetime.datetime(2024, 3, 5, 14, 30), "2024-03-05 14:30:00"),
        (datetime.date(2024, 3, 5), "2024-03-05"),
        (datetime.time(14, 30), "14:30:00"),
    ],
)
def test_a_cell_reads_as_a_person_reads_it(cell, expected):
    assert cells.text(cell) == expected


def test_headers_and_spellings_are_keyed_by_their_letters_and_digits_in_any_case():
    assert {cells.key(header) for header in ("VM UUID", "vm_uuid", "VmUuid", " vm-uuid ")} == {"vmuuid"}
    assert cells.key("Hyper-V") == cells.key("hyper v") == "hyperv"
    assert cells.key("Größe") == "grösse"


def test_a_long_cell_is_quoted_by_its_start_and_its_length():
    assert cells.quoted("web01") == "'web01'"
    assert cells.quoted("x" * 100) == f"'{'x' * 60}'… (100 characters)"


# --- cells: booleans and whole numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("True", True), ("FALSE", False), ("yes", True), ("No", False), ("1", True), ("0", False),
        (True, True), (False, False), (1, True), (0.0, False),
    ],
)  # fmt: skip
def test_booleans_are_true_false_yes_no_or_1_0_in_any_case(cell, expected):
    assert cells.boolean(cell) is expected


@pytest.mark.parametrize(("cell", "expected"), [("maybe", "'maybe'"), ("on", "'on'"), (2, "'2'")])
def test_anything_else_is_not_a_boolean(cell, expected):
    with pytest.raises(ValueError, match=f"^{expected} is not True or False$"):
        cells.boolean(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("4096", 4096), ("4,096", 4096), ("4.096", 4096), ("4 096", 4096), ("4\u00a0096", 4096), ("4'096", 4096),
        ("1,048,576", 1_048_576), ("4096.0", 4096), ("4096,00", 4096), ("0", 0), (4096, 4096), (4096.0, 4096),
    ],
)  # fmt: skip
def test_whole_numbers_may_group_thousands_with_one_separator(cell, expected):
    assert cells.whole_number(cell) == expected


@pytest.mark.parametrize("cell", ["1.5", "-1", "four", "4,09", "1,000.000", "4,096.5", "1.000,000", -1, 2.5, True])
def test_anything_else_is_not_a_whole_number(cell):
    with pytest.raises(ValueError, match=r"is not a whole number \(0 or more\)$"):
        cells.whole_number(cell)


# --- cells: dates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-03-05", datetime.date(2024, 3, 5)),
        ("2024-3-5", datetime.date(2024, 3, 5)),
        ("2024/03/05", datetime.date(2024, 3, 5)),
        ("5.3.2024", datetime.date(2024, 3, 5)),
        ("5 Mar 2024", datetime.date(2024, 3, 5)),
        ("5 march 2024", datetime.date(2024, 3, 5)),
        ("5-Mar-2024", datetime.date(2024, 3, 5)),
        ("Mar 5, 2024", datetime.date(2024, 3, 5)),
        ("March 5 2024", datetime.date(2024, 3, 5)),
        ("Sept 5, 2024", datetime.date(2024, 9, 5)),
        ("15/3/2024", datetime.date(2024, 3, 15)),
        ("3/15/2024", datetime.date(2024, 3, 15)),
        ("5/5/2024", datetime.date(2024, 5, 5)),
        ("3/5/2024 2:00 PM", datetime.date(2024, 3, 5)),  # AM/PM marks the US form: March 5
        ("2024-03-05 14:30", datetime.date(2024, 3, 5)),
        ("2024-03-05T23:30:00-05:00", datetime.date(2024, 3, 5)),  # the date as written
        (datetime.datetime(2024, 3, 5, 14, 30), datetime.date(2024, 3, 5)),
        (datetime.date(2024, 3, 5), datetime.date(2024, 3, 5)),
        (45356, datetime.date(2024, 3, 5)),  # an Excel serial number
    ],
)
def test_a_date_is_read_the_one_way_it_can_be(cell, expected):
    assert cells.date(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-02-30", "'2024-02-30' is not a date that exists (February 2024 has 29 days)"),
        ("2023-02-29", "'2023-02-29' is not a date that exists (February 2023 has 28 days)"),
        ("2024-04-31", "'2024-04-31' is not a date that exists (April 2024 has 30 days)"),
        ("2024-13-01", "'2024-13-01' is not a date that exists (there is no month 13)"),
        ("31.02.2024", "'31.02.2024' is not a date that exists (February 2024 has 29 days)"),
        ("31/02/2024", "'31/02/2024' is not a date that exists (February 2024 has 29 days)"),
        ("15/13/2024", "'15/13/2024' is not a date that exists (there is no month 13 or 15)"),
        ("3/5/2024", f"'3/5/2024' is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATES_HELP}"),
        ("3/5/2024 14:00", f"'3/5/2024 14:00' is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATES_HELP}"),
        ("yesterday", f"'yesterday' is not a date: write it as {DATES_HELP}"),
        ("5 Marsh 2024", f"'5 Marsh 2024' is not a date: write it as {DATES_HELP}"),
        ("2024-03-05 garbage", f"'2024-03-05 garbage' is not a date: write it as {DATES_HELP}"),
        ("05-03-2024", f"'05-03-2024' is not a date: write it as {DATES_HELP}"),
        (2024, f"'2024' is a number, not a date: format the cell as a date, or write {DATES_HELP}"),
    ],
)
def test_a_date_that_does_not_exist_or_could_be_two_is_refused_saying_why(cell, expected):
    with pytest.raises(ValueError) as refused:
        cells.date(cell)

    assert str(refused.value) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-03-01T20:30:15+02:00", datetime.datetime(2024, 3, 1, 18, 30, 15, tzinfo=UTC)),
        ("2024-03-01T20:30:15Z", datetime.datetime(2024, 3, 1, 20, 30, 15, tzinfo=UTC)),
        ("2024-03-01 20:30:15.250 -0500", datetime.datetime(2024, 3, 2, 1, 30, 15, 250_000, tzinfo=UTC)),
        ("2024-03-01 20:30", datetime.datetime(2024, 3, 1, 20, 30, tzinfo=UTC)),
        ("2024-03-01", datetime.datetime(2024, 3, 1, tzinfo=UTC)),
        ("3/1/2024 8:30:15 PM", datetime.datetime(2024, 3, 1, 20, 30, 15, tzinfo=UTC)),
        ("03/01/2024 12:05 a.m.", datetime.datetime(2024, 3, 1, 0, 5, tzinfo=UTC)),
        ("3/1/2024 12:05 PM", datetime.datetime(2024, 3, 1, 12, 5, tzinfo=UTC)),
        ("13/1/2024 08:30:15", datetime.datetime(2024, 1, 13, 8, 30, 15, tzinfo=UTC)),
        ("1.3.2024 20:30", datetime.datetime(2024, 3, 1, 20, 30, tzinfo=UTC)),
        ("1 March 2024 20:30", datetime.datetime(2024, 3, 1, 20, 30, tzinfo=UTC)),
        (datetime.datetime(2024, 3, 1, 20, 30), datetime.datetime(2024, 3, 1, 20, 30, tzinfo=UTC)),
        (datetime.date(2024, 3, 1), datetime.datetime(2024, 3, 1, tzinfo=UTC)),
        (45366.5, datetime.datetime(2024, 3, 15, 12, 0, tzinfo=UTC)),
    ],
)
def test_a_date_and_time_is_a_date_then_a_time_in_utc_unless_it_says_otherwise(cell, expected):
    assert cells.datetime_utc(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("3/1/2024 20:30:15", f"'3/1/2024 20:30:15' is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATES_HELP}"),
        ("2024-03-01 25:00", "'2024-03-01 25:00' is not a time of day that exists"),
        ("3/1/2024 13:00 PM", "'3/1/2024 13:00 PM' is not a time of day that exists"),
        (
            "yesterday",
            f"'yesterday' is not a date and time: write it as {DATES_HELP}, then the time if any "
            "(14:30, 14:30:15 or 2:30 PM)",
        ),
    ],
)
def test_a_date_and_time_that_is_not_one_is_refused_saying_why(cell, expected):
    with pytest.raises(ValueError) as refused:
        cells.datetime_utc(cell)

    assert str(refused.value) == expected


# --- files and CSV text -----------------------------------------------------------------------------------------


class Upload(io.BytesIO):
    """A Django upload as far as reading goes: bytes, and the size it declares."""

    def __init__(self, data: bytes, size: int):
        super().__init__(data)
        self.size = size


def test_a_file_is_read_only_within_its_limit():
    problems = Problems()

    assert read_limited(Upload(b"name\n", 5), problems, max_bytes=100) == b"name\n"
    assert read_limited(Upload(b"", 2_000_000), problems, max_bytes=1_048_576) is None
    assert read_limited(io.BytesIO(b"x" * 200), problems, max_bytes=100) is None
    assert read_limited(io.BytesIO(b""), problems, max_bytes=100) == b""
    assert [str(problem) for problem in problems] == [
        "is too large (1.9 MB); at most 1.0 MB",
        "is too large (101 bytes); at most 100 bytes",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("name\nJosé\n".encode(), "name\nJosé\n"),
        ("\ufeffname\nJosé\n".encode(), "name\nJosé\n"),
        ("name\nJosé\n".encode("utf-16"), "name\nJosé\n"),  # with its BOM, as Excel's "Unicode Text"
        ("name\nJosé\n".encode("utf-16-be").join([b"\xfe\xff", b""]), "name\nJosé\n"),
    ],
)
def test_text_is_utf8_with_or_without_a_bom_or_utf16_with_its_bom(data, expected):
    problems = Problems()

    assert (csv.decode(data, problems), problems) == (expected, [])


@pytest.mark.parametrize(
    ("data", "windows_1252", "expected"),
    [
        ("name\nJosé\n".encode("cp1252"), False, 'is not UTF-8 text: save it as "CSV UTF-8"'),
        (b"name\n\x81\n", True, "is neither UTF-8 nor Windows-1252 text"),
        (b"PK\x03\x04" + b"\x01" * 40, False, "is a zip file (an xlsx workbook?), not CSV text"),
        ("name\nweb01\n".encode("utf-16-le"), False, "is a binary file, not CSV text"),
    ],
    ids=["windows-1252", "undefined-in-1252", "zip", "utf-16-without-bom"],
)
def test_other_bytes_are_refused(data, windows_1252, expected):
    problems = Problems()

    assert csv.decode(data, problems, windows_1252=windows_1252) is None
    assert found(problems) == [("", 0, "", expected)]


def test_a_stray_nul_in_text_is_refused_naming_its_line():
    problems = Problems()

    assert csv.decode(b"name\nweb01\nweb\x0002\n", problems) is None
    assert found(problems) == [("", 3, "", csv.NUL_PROBLEM)]


def test_windows_1252_is_read_only_when_the_writer_is_known_to_use_it():
    assert csv.decode("VM\nsrv-é\n".encode("cp1252"), Problems(), windows_1252=True) == "VM\nsrv-é\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,address,platform;x\tz\n", ","),
        ("name;address;platform\n", ";"),
        ("name\taddress\n", "\t"),
        ("\n\nname;address\n", ";"),  # the first line that is not blank
        ("#TYPE Selected.Microsoft.HyperV.PowerShell.VirtualMachine\nname;vm_id\n", ";"),
        ("name,a;b\n", ","),  # a tie: comma before semicolon
        ("name\ta,b\n", "\t"),  # a tie: tab first
        ("name\nweb, 01\n", "\t"),  # none on the first line: tab, never inside a value
    ],
)
def test_the_delimiter_is_the_most_frequent_on_the_first_line(text, expected):
    assert csv.delimiter(text) == expected


TEXT = 'name,notes\n\nweb01,"two\nlines"\nweb02,x\n'


def test_records_are_numbered_by_row_or_by_the_line_where_they_begin():
    by_row = list(csv.records(TEXT, Problems(), by_line=False))
    by_line = list(csv.records(TEXT, Problems(), by_line=True))

    assert by_row == [(1, ["name", "notes"]), (2, []), (3, ["web01", "two\nlines"]), (4, ["web02", "x"])]
    assert by_line == [(1, ["name", "notes"]), (2, []), (3, ["web01", "two\nlines"]), (5, ["web02", "x"])]


def test_a_powershell_type_line_is_skipped_and_still_counted():
    text = '#TYPE Selected.System.Management.Automation.PSCustomObject\n"name","vm_id"\n"web01","1"\n'

    assert list(csv.records(text, Problems(), by_line=True)) == [(2, ["name", "vm_id"]), (3, ["web01", "1"])]


def test_a_quote_never_closed_refuses_the_whole_text_naming_its_line():
    problems = Problems(Numbering.LINE)

    records = list(csv.records('name,address\nweb01,1\n"db01,2\nweb02,3\n', problems, by_line=True))

    assert records == []
    assert [str(problem) for problem in problems] == [
        "a quote opened on line 3 is never closed: close it (or remove it); nothing was read"
    ]


def test_quotes_inside_a_cell_or_closed_are_read():
    text = 'name,notes\n"web, 01","said ""hi"""\n6\'2" rack,x\n'

    assert list(csv.records(text, Problems(), by_line=False))[1:] == [
        (2, ["web, 01", 'said "hi"']),
        (3, ["6'2\" rack", "x"]),
    ]


def test_a_cell_longer_than_a_spreadsheet_cell_is_a_problem_and_its_row_is_not_read():
    problems = Problems(Numbering.LINE)
    text = f"name,notes\nweb01,{'x' * 40_000}\nweb02,ok\nweb03,{'y' * 200_000}\nweb04,never read\n"

    records = list(csv.records(text, problems, by_line=True))

    assert records == [(1, ["name", "notes"]), (3, ["web02", "ok"])]
    assert found(problems) == [
        ("", 2, "column 2", "holds 40,000 characters; a cell holds at most 32,767"),
        ("", 4, "", "holds a cell of more than 131,072 characters; a cell holds at most 32,767"),
    ]


# --- sheets read by their header --------------------------------------------------------------------------------


def test_a_sheet_finds_its_columns_by_header_in_any_spelling_and_names_them_as_spelt():
    records = iter([(1, []), (2, ["VM Name", " memory  MB ", "Notes", ""]), (3, ["web01", "four", "x"]), (4, [])])
    problems = Problems()
    sheet = Sheet(records, problems, name="vInfo")

    rows = list(sheet.rows())

    assert (sheet.header_row, sheet.column(("Memory", "Memory MB")), sheet.has("vm_name"), sheet.has("VM")) == (
        2,
        "memory  MB",  # as spelt, without the spaces around it
        True,
        False,
    )
    assert [(row.number, row.text("vmname"), row.parse(cells.whole_number, "memorymb")) for row in rows] == [
        (3, "web01", None)
    ]
    assert [str(problem) for problem in problems] == [
        "vInfo row 3, memory  MB: 'four' is not a whole number (0 or more)"
    ]


def test_a_row_knows_when_it_holds_more_than_the_header_names():
    sheet = Sheet(iter([(1, ["name", "vm_id"]), (2, ["a", "1", ""]), (3, ["b", "2", "x"])]), Problems())

    assert [row.beyond_header() for row in sheet.rows()] == [False, True]


def test_a_sheet_without_a_header_is_empty():
    sheet = Sheet(iter([(1, ["", None]), (2, [])]), Problems())

    assert (sheet.empty, sheet.header_row, list(sheet.rows())) == (True, 1, [])


# --- xlsx workbooks ---------------------------------------------------------------------------------------------

LIMIT = 60 * 1024 * 1024
HEADER_AND_ONE_VM = b'<row r="1">' + cell("A1", "name") + b'</row><row r="2">' + cell("A2", "vm1") + b"</row>"


def read(data: bytes, *, max_columns: int = 50, **limits) -> tuple[list[tuple[int, tuple]], Problems]:
    problems = Problems()
    book = xlsx.workbook_open(data, problems, max_expanded=limits.pop("max_expanded", LIMIT), **limits)
    if book is None:
        return [], problems
    try:
        return list(xlsx.sheet_rows(book.first_sheet(), problems, max_columns=max_columns, sheet="vInfo")), problems
    finally:
        book.close()


def test_a_workbook_gives_its_rows_that_hold_something_with_their_numbers():
    data = xlsx_bytes([["name", "created"], [], ["web01", datetime.datetime(2024, 3, 5)], ["web02", 4, "x"]])

    rows, problems = read(data, max_columns=2)

    assert rows == [(1, ("name", "created")), (3, ("web01", datetime.datetime(2024, 3, 5))), (4, ("web02", 4))]
    assert problems == []


def test_a_sheet_is_found_by_its_title_in_any_case():
    workbook = Workbook()
    workbook.active.title = " vInfo "
    workbook.create_sheet("vHost")
    stream = io.BytesIO()
    workbook.save(stream)

    book = xlsx.workbook_open(stream.getvalue(), Problems(), max_expanded=LIMIT)

    assert (book.sheet("VINFO").title, book.sheet("vhost").title, book.sheet("vTools")) == (" vInfo ", "vHost", None)
    book.close()


def zip_of(parts: dict[str, str]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as written:
        for name, content in parts.items():
            written.writestr(name, content)
    return archive.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 50, "is an old Excel .xls workbook: save it as .xlsx or CSV"),
        (b"name,address\nweb01,10.0.0.1\n", "is not an xlsx workbook"),
        (zip_of({"RVTools_tabvInfo.csv": "VM\n"}), "is a zip file but not an xlsx workbook"),
        (
            zip_of({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}),
            "is a zip file but not a readable xlsx workbook",
        ),
    ],
    ids=["xls", "text", "zip", "parts"],
)
def test_what_is_not_an_xlsx_workbook_is_refused_before_openpyxl_reads_it(data, expected):
    rows, problems = read(data)

    assert rows == []
    assert [problem.message.split(" (")[0] for problem in problems] == [expected]


def test_a_damaged_sheet_keeps_the_rows_read_before_the_damage():
    data = crafted(HEADER_AND_ONE_VM, b'<row r="3">' + cell("A3", "vm2") + b"</row><row r='4'><c r='A4'><v>x", b"")

    rows, problems = read(data, max_columns=1)

    assert rows == [(1, ("name",)), (2, ("vm1",)), (3, ("vm2",))]
    assert [(problem.row, problem.message.split(" (")[0]) for problem in problems] == [
        (4, "the sheet cannot be read from here on")
    ]


def test_columns_past_the_callers_last_are_not_read():
    rows, _ = read(xlsx_bytes([["name", "a", "b", "c"], ["web01", 1, 2, 3]]), max_columns=2)

    assert rows == [(1, ("name", "a")), (2, ("web01", 1))]


# --- xlsx: hostile files, each stopped before it costs ----------------------------------------------------------


def test_a_5_kb_sheet_with_cells_at_a1_and_xfd1048576_stops_after_1000_empty_rows():
    data = crafted(
        HEADER_AND_ONE_VM, b'<row r="1048576">' + cell("XFD1048576", "x") + b"</row>", dimension="A1:XFD1048576"
    )
    assert len(data) < 6_000

    rows, problems = read(data)

    assert rows == [(1, ("name",) + (None,) * 49), (2, ("vm1",) + (None,) * 49)]
    assert found(problems) == [("vInfo", 1002, "", EMPTY_ROWS_STOP)]


def test_a_sheet_of_1_2_million_empty_rows_is_refused_as_the_zip_bomb_it_is():
    data = crafted(HEADER_AND_ONE_VM, b"<row/>" * 1_200_000, dimension=None)
    assert len(data) < 20_000

    rows, problems = read(data)

    assert rows == []
    assert found(problems) == [
        ("", 0, "", "has a part that unzips to 6.9 MB from 10 KB: a zip bomb, not a workbook a spreadsheet wrote")
    ]


def numbered_empty_rows(first: int, last: int) -> bytes:
    """Empty rows with their numbers: XML that compresses like a real sheet's (about 8 to 1), not like a bomb."""
    return b"".join(b'<row r="%d"/>' % number for number in range(first, last + 1))


def test_a_sheet_of_empty_rows_that_declares_its_size_is_read_until_1000_empty_rows():
    far = b'<row r="200001">' + cell("A200001", "far") + b"</row>"
    data = crafted(HEADER_AND_ONE_VM, numbered_empty_rows(3, 200_000), far)

    rows, problems = read(data)

    assert rows == [(1, ("name",) + (None,) * 49), (2, ("vm1",) + (None,) * 49)]
    assert found(problems) == [("vInfo", 1002, "", EMPTY_ROWS_STOP)]


def test_a_large_sheet_without_a_dimension_is_refused_a_small_one_is_read():
    large = crafted(HEADER_AND_ONE_VM, numbered_empty_rows(3, 200_000), dimension=None)
    small = crafted(HEADER_AND_ONE_VM, numbered_empty_rows(3, 500), dimension=None)

    large_rows, large_problems = read(large)
    small_rows, small_problems = read(small, max_columns=1)

    assert (large_rows, found(large_problems)) == (
        [],
        [
            (
                "",
                0,
                "",
                "has a sheet that does not say how large it is (no dimension): open the workbook in Excel or "
                "LibreOffice and save it again",
            )
        ],
    )
    assert (small_rows, small_problems) == ([(1, ("name",)), (2, ("vm1",))], [])


def test_a_zip_bomb_is_refused_from_the_zip_directory():
    bomb = crafted(HEADER_AND_ONE_VM, *(b" " * 1_048_576 for _ in range(20)))

    too_large = xlsx_bytes([["name"], ["x" * 30_000]])
    unzipped = sum(part.file_size for part in zipfile.ZipFile(io.BytesIO(too_large)).infolist())

    rows, problems = read(bomb)
    _, within_ratio_but_too_large = read(too_large, max_expanded=20_000)

    assert (rows, [problem.message for problem in problems]) == (
        [],
        ["has a part that unzips to 20.0 MB from 20 KB: a zip bomb, not a workbook a spreadsheet wrote"],
    )
    assert [problem.message for problem in within_ratio_but_too_large] == [
        f"unzips to {unzipped / 1024:.0f} KB, more than the 20 KB allowed: save a smaller one"
    ]


def test_a_sheet_xml_with_a_nul_byte_is_refused_where_it_stands():
    rows, problems = read(crafted(HEADER_AND_ONE_VM, b'<row r="3">' + cell("A3", "web\x0001") + b"</row>"))

    assert rows == [(1, ("name",) + (None,) * 49), (2, ("vm1",) + (None,) * 49)]
    assert [(problem.row, problem.message.split(" (")[0]) for problem in problems] == [
        (3, "the sheet cannot be read from here on")
    ]


def test_a_10_mb_string_cell_is_refused():
    compressible = crafted(HEADER_AND_ONE_VM, b'<row r="3">' + cell("A3", "x" * 10_485_760) + b"</row>")
    text = "".join(random.Random(7).choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(40_000))
    incompressible = crafted(HEADER_AND_ONE_VM, b'<row r="3">' + cell("B3", text) + b"</row>")

    bomb_rows, bomb_problems = read(compressible)
    rows, problems = read(incompressible, max_columns=2)

    assert (bomb_rows, [problem.message.split(":")[0] for problem in bomb_problems]) == (
        [],
        ["has a part that unzips to 10.0 MB from 10 KB"],
    )
    assert rows == [(1, ("name", None)), (2, ("vm1", None))]
    assert found(problems) == [("vInfo", 3, "column B", "holds 40,000 characters; a cell holds at most 32,767")]


def shared_strings_workbook(texts: list[bytes]) -> bytes:
    """A workbook whose shared string table holds ``texts``."""
    base = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["name"]])))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as written:
        for part in base.infolist():
            content = base.read(part)
            if part.filename == "[Content_Types].xml":
                content = content.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
                )
            if part.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://schemas.openxmlformats'
                    b'.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>',
                )
            written.writestr(part.filename, content)
        table = b"".join(b"<si><t>" + text + b"</t></si>" for text in texts)
        written.writestr(
            "xl/sharedStrings.xml",
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + table + b"</sst>",
        )
    return archive.getvalue()


def test_more_cells_than_the_caller_takes_are_refused_before_openpyxl_reads_them():
    header = b'<row r="1">' + cell("A1", "name") + b'</row><row r="2">'
    one_wide_row = header + b"".join(cell("B2", f"x{number}") for number in range(2_001)) + b"</row>"
    formatting = header + b'<c r="B2" s="1"/>' * 5_000 + b"</row>"

    _, refused = read(crafted(one_wide_row), max_cells=2_000)
    _, formatted = read(crafted(formatting), max_cells=2_000)

    assert [problem.message for problem in refused] == [
        "holds 2,002 cells with a value, more than the 2,000 it may: save a smaller one"
    ]
    assert formatted == []  # empty cells that only carry a format are not counted


def test_more_different_texts_than_the_caller_takes_are_refused_before_openpyxl_reads_them():
    texts = [b"vm%d" % number for number in range(2_001)]

    _, refused = read(shared_strings_workbook(texts), max_cells=2_000)
    _, read_all = read(shared_strings_workbook(texts), max_cells=None)

    assert [problem.message for problem in refused] == [
        "holds 2,001 different texts, more than the 2,000 it may: save a smaller one"
    ]
    assert read_all == []
