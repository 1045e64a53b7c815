"""Reading VM rows typed, pasted or uploaded: every bad cell named, the good rows kept; export cells made safe."""

import datetime
import io
import os
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from inventory.choices import Platform
from portal.tabular.problems import Numbering, Problem
from questionnaires.choices import DataCategory, DeclaredVMStatus, VMPurpose
from questionnaires.vm_rows import columns
from questionnaires.vm_rows.columns import COLUMN_LABELS
from questionnaires.vm_rows.parse import MAX_ROWS, ParsedRows, VMRow, vm_rows_parse
from tests.xlsx_files import cell, crafted

PLATFORMS_HELP = "VMware ESXi, VMware Workstation, Hyper-V, KVM, Xen, VirtualBox, Cloud or Other"
DATES_HELP = "YYYY-MM-DD (2024-03-05), YYYY/MM/DD, D.M.YYYY or 5 Mar 2024"
CATEGORIES_HELP = "ePHI, Financial reporting, Customer financial data, Personal data or None"
COLUMNS_HELP = (
    "Name, Host name or IP, Platform, Software and version, Where it runs, Created on, Created by, Purpose, "
    "Purpose if other, Status, Owner, Data handled, Notes, UUID, VM ID (moref), MAC address"
)


def _key(text: str) -> str:
    return "".join(character for character in text.casefold() if character.isalnum())


def problems(parsed) -> list[tuple[int, str, str]]:
    return [(problem.row, problem.column, problem.message) for problem in parsed.problems]


# --- parsing: paste ---------------------------------------------------------------------------------------------


def twenty_rows_from_excel() -> str:
    """20 VMs as Excel copies them (tab-separated, CRLF), with a header line and three bad cells."""
    lines = ["VM name\tHostname\tPlatform\tCreated\tPurpose\tStatus\tOwner\tData handled"]
    for number in range(1, 21):
        platform = "VirtualBox" if number % 2 else "Hyper-V"
        created = f"2024-01-{number:02d}"
        data = "ePHI; Financial reporting" if number % 5 == 0 else ""
        if number == 4:
            platform = "Parallels"
        if number == 9:
            created = "3/5/2024"
        if number == 15:
            data = "ePHI, HIPAA stuff"
        lines.append(f"lab{number:02d}\t10.1.0.{number}\t{platform}\t{created}\tTest\tRunning\tAnn Lead\t{data}")
    return "\r\n".join(lines) + "\r\n"


def test_twenty_pasted_rows_with_three_bad_cells_keep_seventeen_and_name_the_three():
    parsed = vm_rows_parse(text=twenty_rows_from_excel())

    assert problems(parsed) == [
        (4, "platform", f"'Parallels' is not one of {PLATFORMS_HELP}"),
        (9, "created_on", f"'3/5/2024' is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATES_HELP}"),
        (15, "data_categories", f"'HIPAA stuff' is not one of {CATEGORIES_HELP}"),
    ]
    assert [row.row for row in parsed.rows] == [number for number in range(1, 21) if number not in (4, 9, 15)]
    assert parsed.rows[0] == VMRow(
        row=1,
        name="lab01",
        address="10.1.0.1",
        platform="virtualbox",
        created_on=datetime.date(2024, 1, 1),
        purpose="test",
        status="running",
        owner="Ann Lead",
    )
    assert (parsed.rows[1].platform, parsed.rows[3].data_categories) == ("hyperv", ["ephi", "financial_reporting"])
    assert parsed.problem_texts()[0] == f"row 4, Platform: 'Parallels' is not one of {PLATFORMS_HELP}"


def test_a_paste_without_header_is_read_in_the_documented_order_from_start_row():
    text = (
        "web01\tweb01.example.com\tESXi\tESXi 8.0\tDC1\t2023-06-01\tjdoe\tProduction\t\tRunning\tIT\tPII\tfront\n"
        "\n"
        "exp\t\tvmware workstation 17\t\tlaptop\t5 Mar 2024\t\t\tTraining\tpowered off\t\tnone\n"
        "toolong\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\t14\t15\t16\n"
    )

    parsed = vm_rows_parse(text=text, start_row=11)

    assert parsed.rows == [
        VMRow(
            row=11,
            name="web01",
            address="web01.example.com",
            platform="vmware-esxi",
            software="ESXi 8.0",
            location="DC1",
            created_on=datetime.date(2023, 6, 1),
            created_by="jdoe",
            purpose="production",
            status="running",
            owner="IT",
            data_categories=["personal"],
            notes="front",
        ),
    ]
    assert problems(parsed) == [
        (13, "platform", f"'vmware workstation 17' is not one of {PLATFORMS_HELP}"),
        (
            14,
            "",
            f"has 17 cells, but without a header line the columns are {COLUMNS_HELP}",
        ),
    ]


def test_cells_are_checked_one_by_one():
    text = (
        "name\tplatform\tcreated_on\tpurpose\tpurpose_other\tstatus\tdata_categories\tcolour\n"
        "\tkvm\t\t\t\t\t\tred\n"
        "a\tVMware\t2024-02-30\tprod\ttraining\tasleep\tnone; ephi\t\n"
        "b\tProxmox\t2999-01-01\t\tTraining lab\toff\tPHI, SOX\t\n"
        "c\tAWS\t5.3.2024\tdev\t\tretired\tCustomer financial data\t\n"
        "c\t\t\t\t\t\t\t\n"
        f"{'x' * 256}\t\t\t\t\t\t\t\n"
    )

    parsed = vm_rows_parse(text=text)

    assert problems(parsed) == [
        (0, "colour", f"unknown column, ignored (columns: {COLUMNS_HELP})"),
        (1, "name", "is required"),
        (2, "created_on", "'2024-02-30' is not a date that exists (February 2024 has 29 days)"),
        (2, "data_categories", "'None' cannot go with other data categories"),
        (2, "platform", "'VMware' alone could be ESXi or Workstation: write VMware ESXi or VMware Workstation"),
        (2, "purpose_other", "is only for purpose Other, not Production"),
        (2, "status", "'asleep' is not one of Running, Stopped or Decommissioned"),
        (3, "created_on", "2999-01-01 is in the future"),
        (3, "data_categories", f"'SOX' is not one of {CATEGORIES_HELP}"),
        (5, "name", "same name and address as row 4: only the first is kept"),
        (6, "name", "is too long: 256 characters, at most 255"),
    ]
    assert [
        (row.row, row.name, row.platform, row.created_on, row.purpose, row.status, row.data_categories)
        for row in parsed.rows
    ] == [(4, "c", "cloud", datetime.date(2024, 3, 5), "development", "decommissioned", ["customer_financial"])]


def test_a_purpose_other_alone_means_purpose_other_and_duplicates_are_named():
    text = "name\taddress\tpurpose_other\nlab\t10.0.0.1\tTraining\nLAB\t10.0.0.1\t\nlab\t10.0.0.2\t\n"

    parsed = vm_rows_parse(text=text)

    assert [(row.row, row.name, row.address, row.purpose, row.purpose_other) for row in parsed.rows] == [
        (1, "lab", "10.0.0.1", "other", "Training"),
        (3, "lab", "10.0.0.2", "", ""),
    ]
    assert problems(parsed) == [(2, "name", "same name and address as row 1: only the first is kept")]


def test_a_column_named_twice_is_read_once():
    parsed = vm_rows_parse(text="Name\tVM name\tHostname\nweb01\tweb-01\t10.0.0.1\n")

    assert [(row.name, row.address) for row in parsed.rows] == [("web01", "10.0.0.1")]
    assert problems(parsed) == [(0, "name", "appears twice: only the first is read")]


def test_more_than_the_row_limit_is_refused_whole():
    text = "name\n" + "".join(f"vm{number}\n" for number in range(MAX_ROWS + 1))

    parsed = vm_rows_parse(text=text)

    assert parsed.rows == []
    assert problems(parsed) == [(0, "", "more than 2,000 rows: split the list")]


def test_exactly_one_input_is_taken():
    with pytest.raises(TypeError, match="exactly one input, got grid, text"):
        vm_rows_parse(text="a", grid=[])


# --- parsing: grid ----------------------------------------------------------------------------------------------


def test_grid_rows_keep_their_ids_and_name_their_bad_cells():
    grid = [
        {"id": "41", "name": "web01", "platform": "vmware-esxi", "data_categories": ["ephi", "personal"]},
        {"id": "", "name": "", "address": "", "platform": "", "data_categories": []},
        {"name": "lab", "created_on": "yesterday", "cpu": "4"},
        {"id": "x", "name": "bad-id"},
        {"name": "desk", "status": "Stopped"},
        ["not", "a", "row"],
    ]

    parsed = vm_rows_parse(grid=grid, start_row=5)

    assert [(row.row, row.name, row.declared_vm_id, row.data_categories, row.status) for row in parsed.rows] == [
        (5, "web01", 41, ["ephi", "personal"], ""),
        (9, "desk", None, [], "stopped"),
    ]
    assert problems(parsed) == [
        (7, "cpu", "unknown column"),
        (7, "created_on", f"'yesterday' is not a date: write it as {DATES_HELP}"),
        (8, "id", "'x' is not a row id"),
        (10, "", "is not a row of cells"),
    ]


# --- parsing: what a new user ran into ----------------------------------------------------------------------

UNCLOSED_QUOTE = 'name,address,platform\n"unterminated,10.0.0.1,kvm\nok-vm-2,10.0.0.2,kvm\n'


def test_a_quote_never_closed_refuses_the_upload_and_names_its_line():
    parsed = vm_rows_parse(csv_file=SimpleUploadedFile("vms.csv", UNCLOSED_QUOTE.encode()))

    assert parsed.rows == []
    assert problems(parsed) == [
        (0, "", "a quote opened on line 2 is never closed: close it (or remove it); nothing was read")
    ]


def test_a_quote_never_closed_refuses_pasted_text_too():
    text = 'name\taddress\nweb01\t10.0.0.1\n"db01\t10.0.0.2\nok-vm-2\t10.0.0.3\n'

    parsed = vm_rows_parse(text=text)

    assert parsed.rows == []
    assert problems(parsed) == [
        (0, "", "a quote opened on line 3 is never closed: close it (or remove it); nothing was read")
    ]


def test_quotes_closed_or_inside_a_cell_are_read_as_before():
    text = 'name,notes\n"web, 01","said ""hi""\non two lines"\n6\'2" rack,x\n'

    parsed = vm_rows_parse(text=text)

    assert problems(parsed) == []
    assert [(row.name, row.notes) for row in parsed.rows] == [
        ("web, 01", 'said "hi"\non two lines'),
        ("6'2\" rack", "x"),
    ]


def test_a_vm_name_with_a_line_break_is_refused_on_its_row():
    parsed = vm_rows_parse(text='name,address\n"web\n01",10.0.0.1\nweb02,10.0.0.2\n')

    assert [row.name for row in parsed.rows] == ["web02"]
    assert problems(parsed) == [
        (1, "name", "holds a line break: a VM name is one line (a quote left open?)"),
    ]


@pytest.mark.parametrize(
    ("first_line", "expected"),
    [
        ("Server,Rack,Colour", f"the first line names no known column: Server, Rack, Colour; expected: {COLUMNS_HELP}"),
        # "IP" is a known header (the address), but there is no name column.
        ("Server,IP,Colour", f"the first line names no Name column: Server, IP, Colour; expected: {COLUMNS_HELP}"),
    ],
)
def test_a_first_line_that_reads_as_a_header_but_is_not_one_refuses_the_input(first_line, expected):
    content = f"{first_line}\nweb01,10.0.0.1,red\n"

    pasted = vm_rows_parse(text=content)
    uploaded = vm_rows_parse(csv_file=SimpleUploadedFile("vms.csv", content.encode()))

    assert (pasted.rows, problems(pasted)) == ([], [(0, "", expected)])
    assert (uploaded.rows, problems(uploaded)) == ([], [(0, "", expected)])


def test_a_first_line_of_good_data_is_still_data():
    parsed = vm_rows_parse(text="web01,10.0.0.1,KVM\nweb02,10.0.0.2,Xen\n")

    assert problems(parsed) == []
    assert [(row.row, row.name, row.platform) for row in parsed.rows] == [(1, "web01", "kvm"), (2, "web02", "xen")]


@pytest.mark.parametrize(
    ("help_text", "spellings", "choices"),
    [
        (columns.PLATFORMS_HELP, columns.PLATFORMS, Platform),
        (columns.PURPOSES_HELP, columns.PURPOSES, VMPurpose),
        (columns.STATUSES_HELP, columns.STATUSES, DeclaredVMStatus),
        (columns.DATA_CATEGORIES_HELP, columns.DATA_CATEGORIES, DataCategory),
    ],
)
def test_the_values_problems_suggest_are_labels_that_are_read_back(help_text, spellings, choices):
    suggested = help_text.replace(" or ", ", ").split(", ")

    read = {spellings[_key(text)] for text in suggested}

    assert read == set(choices.values)
    assert not set(suggested) & set(choices.values) - {"kvm"}  # labels, not codes ("KVM" is both)


def test_the_grid_headings_are_read_as_headers():
    header = "\t".join(COLUMN_LABELS.values())
    row = "web01\t10.0.0.1\tHyper-V\tWin 2022\tDC1\t2024-01-02\tjo\tOther\tlab\tRunning\tIT\tPersonal data\tx"

    parsed = vm_rows_parse(text=f"{header}\n{row}\n")

    assert problems(parsed) == []
    assert parsed.rows[0].facts() == {
        "name": "web01",
        "address": "10.0.0.1",
        "platform": "hyperv",
        "software": "Win 2022",
        "location": "DC1",
        "created_on": datetime.date(2024, 1, 2),
        "created_by": "jo",
        "purpose": "other",
        "purpose_other": "lab",
        "status": "running",
        "owner": "IT",
        "data_categories": ["personal"],
        "notes": "x",
        "uuid": "",
        "vm_id": "",
        "mac_address": "",
    }


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("15/13/2024", "'15/13/2024' is not a date that exists (there is no month 13 or 15)"),
        ("31/02/2024", "'31/02/2024' is not a date that exists (February 2024 has 29 days)"),
        ("3/5/2024", f"'3/5/2024' is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATES_HELP}"),
        ("15/3/2024", datetime.date(2024, 3, 15)),
        ("3/15/2024", datetime.date(2024, 3, 15)),
        ("5/5/2024", datetime.date(2024, 5, 5)),
    ],
)
def test_only_a_slashed_date_that_can_be_two_dates_is_ambiguous(cell, expected):
    parsed = vm_rows_parse(text=f"name\tcreated_on\nvm\t{cell}\n")

    if isinstance(expected, datetime.date):
        assert (problems(parsed), parsed.rows[0].created_on) == ([], expected)
    else:
        assert problems(parsed) == [(1, "created_on", expected)]


# --- parsing: uploads -------------------------------------------------------------------------------------------

CSV_TEXT = (
    "Name;IP address;Platform;Created;Comments\n"
    'db01;10.2.0.1;Hyper-V;2022/11/30;"Finance DB; monthly close"\n'
    "db02;10.2.0.2;Xen Server;2022-12-01;\n"
    'db03;10.2.0.3;xcp-ng;1.12.2022;"two\nlines"\n'
    "db04;10.2.0.4;KVM;01/12/2022;\n"
)


def test_a_csv_upload_with_a_bom_and_semicolons_names_lines_of_the_file():
    upload = SimpleUploadedFile("vms.csv", ("\ufeff" + CSV_TEXT).encode("utf-8"))

    parsed = vm_rows_parse(csv_file=upload)

    assert [(row.row, row.name, row.platform, row.created_on, row.notes) for row in parsed.rows] == [
        (2, "db01", "hyperv", datetime.date(2022, 11, 30), "Finance DB; monthly close"),
        (3, "db02", "xen", datetime.date(2022, 12, 1), ""),
        (4, "db03", "xen", datetime.date(2022, 12, 1), "two\nlines"),
    ]
    # db03's notes run over lines 4 and 5: db04 is on line 6 of the file, as a text editor shows it.
    assert problems(parsed) == [
        (6, "created_on", f"'01/12/2022' is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATES_HELP}"),
    ]
    assert parsed.problem_texts()[0].startswith("line 6 of the file, Created on: '01/12/2022' is ambiguous")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (os.urandom(64).replace(b"\x00", b"\x01") + b"\x00\x00", "is a binary file, not CSV text"),
        ("name\nCafé\n".encode("cp1252"), 'is not UTF-8 text: save it as "CSV UTF-8"'),
        (b"PK\x03\x04" + b"\x01" * 40, "is a zip file (an xlsx workbook?), not CSV text"),
        (b"", "is empty"),
    ],
    ids=["binary", "cp1252", "zip", "empty"],
)
def test_a_csv_that_is_not_utf8_text_is_refused(content, expected):
    parsed = vm_rows_parse(csv_file=SimpleUploadedFile("vms.csv", content))

    assert (parsed.rows, problems(parsed)) == ([], [(0, "", expected)])


def xlsx_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def test_an_xlsx_upload_reads_date_and_number_cells():
    content = xlsx_bytes(
        [
            ["Name", "Address", "Platform", "Created on", "Status", "Notes"],
            ["app01", "10.3.0.1", "vSphere", datetime.datetime(2021, 4, 5, 10, 30), "Running", None],
            [],
            [1234, "10.3.0.2", "VBox", "2021-04-06", "Stopped", 42],
            ["app03", "10.3.0.3", "OpenStack", None, None, '=HYPERLINK("http://x")'],
        ]
    )

    parsed = vm_rows_parse(xlsx_file=SimpleUploadedFile("vms.xlsx", content))

    assert [(row.row, row.name, row.platform, row.created_on, row.status, row.notes) for row in parsed.rows] == [
        (2, "app01", "vmware-esxi", datetime.date(2021, 4, 5), "running", ""),
        (4, "1234", "virtualbox", datetime.date(2021, 4, 6), "stopped", "42"),
    ]
    assert problems(parsed) == [(5, "platform", f"'OpenStack' is not one of {PLATFORMS_HELP}")]
    assert parsed.problem_texts()[0].startswith("row 5 of the sheet, Platform: 'OpenStack'")


def test_a_zip_that_is_not_a_workbook_and_an_old_xls_are_refused():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "hello")

    not_xlsx = vm_rows_parse(xlsx_file=SimpleUploadedFile("vms.xlsx", archive.getvalue()))
    old_xls = vm_rows_parse(xlsx_file=SimpleUploadedFile("vms.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 50))

    assert problems(not_xlsx) == [(0, "", "is a zip file but not an xlsx workbook")]
    assert problems(old_xls) == [(0, "", "is an old Excel .xls workbook: save it as .xlsx or CSV")]


def test_random_bytes_named_xlsx_are_refused():
    parsed = vm_rows_parse(xlsx_file=SimpleUploadedFile("vms.xlsx", b"\x13\x37" + os.urandom(500)))

    assert (parsed.rows, problems(parsed)) == ([], [(0, "", "is not an xlsx workbook")])


def test_a_damaged_workbook_is_refused():
    content = bytearray(xlsx_bytes([["name"], ["a"]]))
    start = content.index(b"xl/workbook.xml")
    # Keep the zip directory (so the names are there) but break the parts' data.
    content[60 : start - 40] = b"\xff" * (start - 100)

    parsed = vm_rows_parse(xlsx_file=SimpleUploadedFile("vms.xlsx", bytes(content)))

    assert parsed.rows == []
    assert len(parsed.problems) == 1
    assert parsed.problems[0].row == 0
    assert parsed.problems[0].message.startswith(("is not an xlsx workbook", "is a zip file but not"))


def test_an_oversized_upload_is_refused_before_it_is_read(settings):
    settings.QUESTIONNAIRE_UPLOAD_MAX_BYTES = 1_048_576
    too_big = SimpleUploadedFile("vms.csv", b"name\n" + b"vm\n" * 600_000)

    parsed = vm_rows_parse(csv_file=too_big)

    assert problems(parsed) == [(0, "", "is too large (1.7 MB); at most 1.0 MB")]


def test_an_oversized_stream_without_a_size_is_cut_at_the_limit(settings):
    settings.QUESTIONNAIRE_UPLOAD_MAX_BYTES = 100

    csv_parsed = vm_rows_parse(csv_file=io.BytesIO(b"name\n" + b"vm\n" * 100))
    text_parsed = vm_rows_parse(text="name\n" + "vm\n" * 100)

    assert problems(csv_parsed) == [(0, "", "is too large (101 bytes); at most 100 bytes")]
    assert problems(text_parsed) == [(0, "", "the text is too large (305 bytes); at most 100 bytes")]


def test_a_5_kb_sheet_reaching_xfd1048576_keeps_its_rows_and_says_where_reading_stopped():
    rows = b'<row r="1">' + cell("A1", "name") + cell("B1", "notes") + b'</row><row r="2">' + cell("A2", "vm1")
    far = b'</row><row r="1048576">' + cell("XFD1048576", "vm2") + b"</row>"
    content = crafted(rows, far, dimension="A1:XFD1048576")

    parsed = vm_rows_parse(xlsx_file=SimpleUploadedFile("vms.xlsx", content))

    assert [(row.row, row.name) for row in parsed.rows] == [(2, "vm1")]
    assert parsed.problem_texts("vms.xlsx") == [
        "row 1002 of the sheet: 1,000 empty rows in a row: reading stopped here, rows below are not read "
        "(delete the empty rows if more follow)"
    ]


def test_a_zip_bomb_is_refused_before_it_is_inflated(settings):
    settings.QUESTIONNAIRE_UPLOAD_MAX_BYTES = 10_000
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("[Content_Types].xml", "<Types/>")
        zipped.writestr("xl/workbook.xml", "<workbook/>")
        zipped.writestr("xl/worksheets/sheet1.xml", " " * 400_000)

    parsed = vm_rows_parse(xlsx_file=SimpleUploadedFile("vms.xlsx", archive.getvalue()))

    assert problems(parsed) == [(0, "", "unzips to 391 KB, more than the 293 KB allowed: save a smaller one")]


def test_problems_read_with_the_grids_headings_and_an_upload_named():
    parsed = ParsedRows()
    parsed.add(3, "platform", "bad")
    parsed.add(0, "colour", "unknown column")
    parsed.add(0, "", "is empty")

    assert parsed.problem_texts() == ["row 3, Platform: bad", "colour: unknown column", "is empty"]
    assert parsed.problem_texts("vms.csv") == ["row 3, Platform: bad", "colour: unknown column", "“vms.csv” is empty"]
    assert Problem("", 3, "created_on", "bad", Numbering.FILE_LINE).text(COLUMN_LABELS) == (
        "line 3 of the file, Created on: bad"
    )
    assert Problem("", 3, "data_categories", "bad", Numbering.SHEET_ROW).text(COLUMN_LABELS) == (
        "row 3 of the sheet, Data handled: bad"
    )
