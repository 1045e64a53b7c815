"""The VM list of a long list, in a real browser (issues 7 §4 and 11): an edit on row 120 autosaves (as form fields
the grid failed above about 71 rows), a filter and a sort find a row, a CSV with fewer columns keeps the others and
says what it changed, a removed row comes back with Undo, and a cell typed just before leaving the page is saved."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.choices import Role
from questionnaires.models import Assignment, DeclaredVM, Question
from questionnaires.services.answers import answer_save
from questionnaires.services.campaigns import campaign_create, campaign_launch
from questionnaires.services.declared_vms import declared_vms_save
from questionnaires.services.templates import DATA_DIR, template_load
from questionnaires.vm_rows.parse import vm_rows_parse
from tests.factories import TEST_PASSWORD, PersonFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROWS = 120  # past the old limit: as form fields, 14 a row, the grid failed above about 71 rows
# A round trip that renders the list again (an upload) takes a few seconds for 120 rows on an idle machine (the
# browser swaps some 4,000 elements); a busy one running the suite may take many times that.
SLOW = {"timeout": 30_000}


@pytest.fixture
def long_list():
    """Ann Lead's part of a live campaign, her VM list already holding 120 rows she typed."""
    version = template_load(path=DATA_DIR / "vm_discovery.json")
    ann = PersonFactory(name="Ann Lead", user=UserFactory(username="ann", role=Role.MANAGER))
    officer = UserFactory(username="officer", role=Role.COMPLIANCE_OFFICER)
    campaign = campaign_create(name="VM census 2027", version=version, scope=ann, owner=officer,
                               due_date=timezone.localdate() + datetime.timedelta(days=14), cascade=False)
    campaign_launch(campaign=campaign, user=officer)
    assignment = Assignment.objects.get(campaign=campaign, person=ann)
    question = Question.objects.get(section__version=version, key="vm_list")
    runs_vms = Question.objects.get(section__version=version, key="runs_vms")
    answer_save(assignment=assignment, question=runs_vms, raw="yes", user=ann.user)
    lines = ["Name\tOwner\tPurpose\tSoftware\tWhere it runs"] + [
        f"srv{number:03d}\tAnn Lead\tTest\tVMware ESXi 7.0.3 build-21930508\tWEST-DC1 / west-dc1-cl1"
        for number in range(1, ROWS + 1)
    ]
    declared_vms_save(assignment=assignment, question=question, rows=vm_rows_parse(text="\n".join(lines)).rows,
                      user=ann.user)
    return assignment


def saved(assignment, name: str) -> DeclaredVM:
    return DeclaredVM.objects.get(assignment=assignment, name=name)


def test_a_long_list_is_edited_filtered_reuploaded_and_a_removed_row_restored(page, live_server, log_in, long_list,
                                                                             tmp_path):
    log_in("ann", TEST_PASSWORD)
    page.goto(f"{live_server.url}/questionnaires/assignments/{long_list.pk}/")
    grid = page.locator(".vm-grid-form")
    expect(page.locator("[data-figure=vm-rows]")).to_have_text(str(ROWS))

    # An edit on the last of 120 rows autosaves.
    page.get_by_role("textbox", name=f"Owner, row {ROWS}").fill("Bo Ops")
    page.get_by_role("textbox", name=f"Notes, row {ROWS}").click()
    expect(page.locator("[data-saved=grid]")).to_contain_text("Saved", **SLOW)
    assert saved(long_list, "srv120").owner == "Bo Ops"

    # The filter finds rows by any cell's value; a sort by name, descending, puts srv120 first; the list keeps its
    # order.
    page.get_by_label("Filter the rows of the VM list").fill("bo ops")
    expect(grid.locator("tbody tr:visible")).to_have_count(1)
    expect(page.locator("[data-vm-shown]")).to_have_text(f"1 of {ROWS} rows shown")
    page.get_by_label("Filter the rows of the VM list").fill("")
    grid.get_by_role("button", name="Name *").click()
    grid.get_by_role("button", name="Name *").click()
    expect(grid.locator("tbody tr").first.locator('[data-column="name"]')).to_have_value("srv120")
    assert saved(long_list, "srv120").row == ROWS

    # A CSV with only Name and Purpose changes the purposes and keeps the owners.
    csv = tmp_path / "purposes.csv"
    csv.write_text("Name,Purpose\nsrv001,Production\nsrv120,Production\n")
    page.get_by_text("Upload a CSV or xlsx file", exact=True).click()
    page.get_by_label("The first sheet of an .xlsx").set_input_files(str(csv))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("[data-notice]")).to_have_text("0 rows added, 2 updated from “purposes.csv”.", **SLOW)
    changes = page.locator("[data-changes]")
    expect(changes).to_contain_text("line 3 of the file, srv120: Purpose changed from “Test” to “Production”; "
                                    "kept: Software and version, Where it runs, Owner")
    assert (saved(long_list, "srv120").owner, saved(long_list, "srv120").purpose) == ("Bo Ops", "production")

    # A row added, removed, and brought back with Undo.
    page.get_by_role("button", name="+ Add a row").click()
    page.get_by_role("textbox", name=f"Name *, row {ROWS + 1}").fill("scratch01")
    page.keyboard.press("Tab")
    expect(page.locator("[data-figure=vm-rows]")).to_have_text(str(ROWS + 1), **SLOW)
    page.get_by_role("button", name=f"Remove row {ROWS + 1}").click()
    expect(page.locator("[data-figure=vm-rows]")).to_have_text(str(ROWS), **SLOW)
    expect(page.locator("[data-undo]")).to_contain_text("Row “scratch01” removed.")
    assert not DeclaredVM.objects.filter(assignment=long_list, name="scratch01").exists()
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("[data-figure=vm-rows]")).to_have_text(str(ROWS + 1), **SLOW)
    expect(page.locator("[data-undo]")).to_be_hidden()
    assert saved(long_list, "scratch01").row == ROWS + 1


def test_a_cell_typed_just_before_leaving_is_saved_and_the_person_is_asked(page, live_server, log_in, long_list):
    log_in("ann", TEST_PASSWORD)
    page.goto(f"{live_server.url}/questionnaires/assignments/{long_list.pk}/")
    asked = []

    def leave(dialog):
        asked.append(dialog.type)
        dialog.accept()

    page.on("dialog", leave)
    page.get_by_role("textbox", name="Notes, row 1", exact=True).press_sequentially("retire in June")
    page.locator("#nav").get_by_role("link", name="Dashboard").click()  # at once: before the autosave's delay

    expect(page).to_have_url(re.compile(r"/$"))
    assert asked == ["beforeunload"]
    for _ in range(50):  # the save was sent as the page was left; the server may still be writing it
        if saved(long_list, "srv001").notes == "retire in June":
            break
        page.wait_for_timeout(100)
    assert saved(long_list, "srv001").notes == "retire in June"


def test_the_read_only_list_shows_its_columns_without_scrolling_and_remembers_the_ones_chosen(page, live_server,
                                                                                               log_in, long_list):
    log_in("officer", TEST_PASSWORD)  # the campaign's owner reads Ann's part: the list is read-only to them
    page.goto(f"{live_server.url}/questionnaires/assignments/{long_list.pk}/")
    table = page.locator(".vm-readonly")
    table.scroll_into_view_if_needed()
    for heading in ("Disposition", "Purpose", "Status", "Owner", "Data handled"):
        expect(table.get_by_role("button", name=heading, exact=True)).to_be_in_viewport()
    expect(table.get_by_role("button", name="UUID")).to_be_hidden()  # identity columns: shown on request

    page.get_by_role("button", name="Columns").click()
    page.get_by_label("UUID").check()
    page.get_by_label("Software and version").uncheck()
    page.reload()

    expect(table.get_by_role("button", name="UUID")).to_be_visible()
    expect(table.get_by_role("button", name="Software and version")).to_be_hidden()
    expect(table.locator("tbody tr").first.locator("td.col-software")).to_be_hidden()
