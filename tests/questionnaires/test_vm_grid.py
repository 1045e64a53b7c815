"""The VM grid's autosave on the page: one JSON body that scales to a full list of 2,000 rows (as form fields, 14 a
row, it hit Django's 1,000-field limit at about 71 rows: a 400 TooManyFieldsSent on a 308-row list), a body that is
not a grid refused whole with its row and column named, and nothing saved."""

import html
import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from questionnaires.models import DeclaredVM
from questionnaires.vm_rows.parse import MAX_ROWS
from tests.page_reading import read
from tests.questionnaires import test_pages
from tests.questionnaires.test_pages import assignment_url, chain_vm_list, db_state, login, post_grid

pytestmark = pytest.mark.django_db

discovery, chain, people = test_pages.discovery, test_pages.chain, test_pages.people


def full_row(number: int) -> dict:
    """A row as a person fills it: every column, with values of a usual length."""
    return {
        "id": None, "name": f"app-server-{number:04d}", "address": f"10.{number // 250}.{number % 250}.17",
        "platform": "vmware-esxi", "software": "VMware ESXi 8.0 Update 2", "location": "Leeds DC2 / cluster-b",
        "created_on": "2023-11-05", "created_by": "Ann Lead", "purpose": "production", "purpose_other": "",
        "status": "running", "owner": "Finance applications team", "data_categories": "Financial reporting",
        "notes": "Nightly batch; patched monthly by the platform team.",
        "uuid": f"4210aaaa-bbbb-cccc-dddd-{number:012d}", "vm_id": f"vm-{1000 + number}",
        "mac_address": f"00:50:56:aa:{number // 256:02x}:{number % 256:02x}",
    }


def vm_url(chain) -> str:
    return assignment_url(chain.part, f"vms/{chain_vm_list(chain).pk}/")


def test_a_grid_of_2000_full_rows_is_saved_in_one_autosave_and_saved_again_with_one_edit(
    chain, people, django_assert_max_num_queries
):
    client = login(people["lead_a1"])
    grid = [full_row(number) for number in range(1, MAX_ROWS + 1)]
    assert len(json.dumps({"rows": grid})) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # a full list fits one body

    # Batched statements, not one per row: SQLite's INSERTs are cut by its parameter limit (some 45 for 2,000 rows
    # of 20 fields), PostgreSQL's by the write batch (4).
    with django_assert_max_num_queries(70):
        response = post_grid(client, vm_url(chain), grid)

    assert response.status_code == 200
    assert "✓ Saved" in response.content.decode()
    assert '<strong data-figure="vm-rows">2000</strong> rows' in response.content.decode()
    saved = DeclaredVM.objects.filter(assignment=chain.part).order_by("row")
    assert saved.count() == MAX_ROWS
    last = saved.last()
    assert (last.row, last.name, last.owner, last.vm_id) == (2000, "app-server-2000", "Finance applications team",
                                                           "vm-3000")

    ids = dict(saved.values_list("name", "id"))
    for row in grid:
        row["id"] = ids[row["name"]]
    grid[1499]["owner"] = "Payroll team"
    response = post_grid(client, vm_url(chain), grid)

    assert response.status_code == 200
    assert DeclaredVM.objects.filter(assignment=chain.part).count() == MAX_ROWS
    assert DeclaredVM.objects.get(assignment=chain.part, row=1500).owner == "Payroll team"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "the grid did not come as JSON"),
        (json.dumps([{"name": "web01"}]), 'the grid comes as {"rows": [...]}'),
        (json.dumps({"rows": [{"name": "web01"}, ["web02"]]}), "row 2: is not a row of cells"),
        (json.dumps({"rows": [{"name": "web01", "owner": 7}]}), "row 1, Owner: is not text"),
        (json.dumps({"rows": [{"name": "web01"}, {"name": "web02", "colour": "red"}]}),
         "row 2, colour: unknown column"),
        (json.dumps({"rows": [{"id": "12; drop", "name": "web01"}]}), "row 1, id: is not a row id"),
        (json.dumps({"rows": [{"name": ""}] * (2 * MAX_ROWS + 1)}), "more than 2,000 rows: split the list"),
    ],
)
def test_a_body_that_is_not_a_grid_is_refused_whole_naming_the_row_and_column(chain, people, body, problem):
    client = login(people["lead_a1"])
    post_grid(client, vm_url(chain), [{"id": None, "name": "kept01", "owner": "Ann Lead"}])
    before = db_state()

    response = client.post(vm_url(chain), body, content_type="application/json")

    assert response.status_code == 400
    assert problem in html.unescape(response.content.decode())
    assert db_state() == before  # nothing saved, nothing deleted


def test_a_grid_posted_as_form_fields_is_refused_and_saves_nothing(chain, people):
    before = db_state()

    response = login(people["lead_a1"]).post(vm_url(chain), {"op": "grid", "rows-1-name": "web01"})

    assert response.status_code == 400
    assert "the grid is sent as JSON by the page's script" in html.unescape(response.content.decode())
    assert db_state() == before


def test_a_grid_body_over_the_size_limit_is_refused_before_it_is_read(chain, people, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = db_state()

    response = post_grid(login(people["lead_a1"]), vm_url(chain), [full_row(number) for number in range(1, 100)])

    assert response.status_code == 400
    assert "its body is over 10,000 bytes" in response.content.decode()
    assert db_state() == before


def test_nobody_outside_the_parts_chain_saves_the_grid(chain, people):
    """The assignee saves, and so may the managers above who answer for them; a peer elsewhere may not."""
    before = db_state()

    response = post_grid(login(people["lead_b1"]), vm_url(chain), [{"id": None, "name": "rogue01"}])

    assert response.status_code == 403
    assert db_state() == before


# --- identity columns, for power users pasting from RVTools --------------------------------------------------


def test_rvtools_identity_columns_pasted_are_kept_and_shown_and_bad_ones_named(chain, people):
    text = ("VM\tVM UUID\tVM ID\tMac Address\n"
            "db01\t4210AAAA-BBBB-CCCC-DDDD-000000000001\tvm-1042\t00-50-56-AB-CD-EF\n"
            "db02\tnot-a-uuid\tvm-1043\t00:50:56\n")

    response = login(people["lead_a1"]).post(vm_url(chain), {"op": "paste", "text": text})

    page = html.unescape(response.content.decode())
    assert "row 2, UUID: 'not-a-uuid' is not a UUID" in page
    assert "row 2, MAC address: '00:50:56' is not a MAC address (as 00:50:56:ab:cd:ef)" in page
    db01 = DeclaredVM.objects.get(assignment=chain.part)
    assert (db01.name, db01.uuid, db01.vm_id, db01.mac_address) == (
        "db01", "4210aaaa-bbbb-cccc-dddd-000000000001", "vm-1042", "00:50:56:ab:cd:ef")
    assert 'value="vm-1042"' in page and ">VM ID (moref)</" in page  # the grid has the columns (hidden at first)


# --- a re-upload keeps what the file does not have ----------------------------------------------------------


def upload(client, url, name: str, text: str):
    return client.post(url, {"op": "upload", "file": SimpleUploadedFile(name, text.encode(), "text/csv")})


def test_a_second_csv_with_fewer_columns_keeps_the_others_and_says_row_by_row_what_changed(chain, people):
    client = login(people["lead_a1"])
    upload(client, vm_url(chain), "first.csv",
           "Name,Owner,Data handled,Purpose,Notes\nweb01,Ann Lead,ePHI,Test,front end\ndb01,Bo Ops,PII,Production,\n")

    response = upload(client, vm_url(chain), "second.csv",
                      "Name,Purpose\nweb01,Production\ndb01,Production\nnew01,Test\n")

    page = read(response.content.decode())
    assert page.find(data_notice="").text() == "1 row added, 1 updated, 1 unchanged from “second.csv”."
    assert [item.text() for item in page.find(data_changes="").find_all("li")] == [
        "line 2 of the file, web01: Purpose changed from “Test” to “Production”; kept: Owner, Data handled, Notes",
        "line 3 of the file, db01: unchanged; kept: Owner, Data handled",
    ]
    rows = DeclaredVM.objects.filter(assignment=chain.part).order_by("row")
    assert [(vm.name, vm.owner, vm.data_categories, vm.purpose, vm.notes) for vm in rows] == [
        ("web01", "Ann Lead", ["ephi"], "production", "front end"),
        ("db01", "Bo Ops", ["personal"], "production", ""),
        ("new01", "", [], "test", ""),
    ]


def test_a_column_the_file_has_but_leaves_empty_is_emptied_and_said_so(chain, people):
    client = login(people["lead_a1"])
    upload(client, vm_url(chain), "first.csv", "Name,Owner\nweb01,Ann Lead\n")

    response = upload(client, vm_url(chain), "second.csv", "Name,Owner\nweb01,\n")

    changes = read(response.content.decode()).find(data_changes="").find_all("li")
    assert [item.text() for item in changes] == ["line 2 of the file, web01: Owner emptied (was “Ann Lead”)"]
    assert DeclaredVM.objects.get(assignment=chain.part).owner == ""


def test_the_manager_above_answering_for_their_report_saves_the_grid(chain, people):
    response = post_grid(login(people["vp_a"]), vm_url(chain), [{"id": None, "name": "lab01"}])

    assert response.status_code == 200
    assert list(chain.part.declared_vms.values_list("name", flat=True)) == ["lab01"]


def test_an_api_row_without_a_column_keeps_its_saved_value(chain, people):
    client = login(people["lead_a1"])
    url = f"/api/v1/assignments/{chain.part.pk}/declared-vms/"
    client.post(url, json.dumps({"rows": [{"name": "web01", "owner": "Ann Lead"}]}), content_type="application/json")

    response = client.post(url, json.dumps({"rows": [{"name": "web01", "purpose": "test"}]}),
                           content_type="application/json")

    assert response.status_code == 200
    web01 = DeclaredVM.objects.get(assignment=chain.part)
    assert (web01.owner, web01.purpose) == ("Ann Lead", "test")
