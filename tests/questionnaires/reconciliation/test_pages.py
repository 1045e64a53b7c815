"""The reconciliation pages as people use them: a campaign's figures, drill-down and list for each role, the bulk
answers, links and routing with their refusals, Reconcile now, the exports, the follow-ups page, the navigation
badge, the assignment page's card and the VM page's panel, and the queries the pages cost."""

import csv
import datetime
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from inventory.models import VirtualMachine
from portal.models import AuditEvent
from questionnaires.choices import ReconciliationState, ReconciliationTrigger, Resolution
from questionnaires.models import ReconciliationItem, ReconciliationRun
from questionnaires.services.reconciliation import reconciliation_run
from tests.factories import PersonFactory, VirtualMachineFactory
from tests.page_reading import links, read, rows
from tests.questionnaires.reconciliation.conftest import declare

pytestmark = pytest.mark.django_db

State = ReconciliationState
HYPERLINK = '=HYPERLINK("http://evil.example/x","click me")'


def page_of(recon) -> str:
    return f"/questionnaires/campaigns/{recon['campaign'].pk}/reconciliation/"


def get_page(client, url, params=None):
    response = client.get(url, params or {})
    assert response.status_code == 200
    return read(response.content.decode())


def state_lines(page) -> dict[str, list[str]]:
    """The figures table: each state's label with its items, waiting and answered."""
    return {cells[0]: cells[1:] for cells in rows(page.find("table", css_class="state-lines"))}


def item_rows(page) -> list[list[str]]:
    table = page.find("table", css_class="reconciliation-items")
    return [row for row in rows(table) if len(row) > 1]


def keys(page) -> list[str]:
    """The keys of the items listed, in order."""
    table = page.find("table", css_class="reconciliation-items")
    return [row.attrs["data-item"] for row in table.find("tbody").find_all("tr") if "data-item" in row.attrs]


def db_state() -> dict:
    """What an answer, a route or a run may write: a refused request leaves all of it as it was."""
    return {
        "items": list(ReconciliationItem.objects.order_by("id").values()),
        "vms": list(VirtualMachine.objects.order_by("id").values("id", "owner_id", "purpose", "data_categories")),
        "runs": ReconciliationRun.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def follow(client, response):
    assert response.status_code == 302, response.status_code
    return client.get(response["Location"])


# --- what each role reads ----------------------------------------------------------------------------------------


def test_the_officer_reads_every_item_with_a_bar_and_a_line_per_state(recon, client_for):
    page = get_page(client_for("compliance_officer"), page_of(recon))

    # Rex: app01 matched, rex-ghost and web-01 not found, shared01 in conflict; Olga: olga-ghost not found, shared01
    # in conflict; rex-vm, web_01 and olga-vm undeclared. Only the matched item waits for no answer.
    assert state_lines(page) == {
        "Matched": ["1", "—", "0"], "Mismatch": ["0", "0", "0"], "Conflict": ["2", "2", "0"],
        "Undeclared": ["3", "3", "0"], "Not found (platform we scan)": ["3", "3", "0"],
        "Not found (platform we do not scan)": ["0", "0", "0"],
    }
    totals = page.find("table", css_class="state-lines").find("tfoot").text()
    assert totals == "All 9 8 0"
    bar = page.find("section", aria_labelledby="figures-title").find("div", css_class="reconciliation-bar")
    assert [segment.attrs["title"] for segment in bar.find_all("div", css_class="progress")] == [
        "Matched: 1", "Conflict: 2", "Undeclared: 3", "Not found (platform we scan): 3",
    ]
    assert len(item_rows(page)) == 9
    assert "Items (9)" in page.text()


def test_a_manager_reads_only_their_part_and_drills_down_by_person(recon):
    dana = recon.login("dana")

    page = get_page(dana, page_of(recon))

    # Rex's four declarations and his two undeclared VMs; none of Olga's.
    expected = [recon.item(name).key for name in ("app01", "rex-ghost", "web-01", "rex-vm", "web_01")]
    expected.append(recon.item("shared01", declarer=recon["people"]["rex"]).key)
    assert sorted(keys(page)) == sorted(expected)
    people = page.find("ul", css_class="reconciliation-people")
    assert links(people) == [("Rex Report", f"?subtree={recon['people']['rex'].pk}")]
    assert "6 items · 5 open" in people.text()


def test_clicking_a_person_narrows_the_figures_the_people_and_the_list_to_their_part(recon, client_for):
    officer = client_for("compliance_officer")
    top = get_page(officer, page_of(recon))
    cleo = recon["people"]["ceo"]
    assert links(top.find("ul", css_class="reconciliation-people")) == [("Cleo CEO", f"?subtree={cleo.pk}")]

    page = get_page(officer, page_of(recon), {"subtree": recon["people"]["dana"].pk})

    assert page.find("table", css_class="state-lines").find("tfoot").text() == "All 6 5 0"
    people = page.find("ul", css_class="reconciliation-people")
    assert [text for text, _ in links(people)] == ["Rex Report"]
    path = page.find("nav", aria_label="Part of the organisation")
    assert [text for text, _ in links(path)] == ["The whole campaign", "Cleo CEO"]
    assert "Dana Director" in path.text()
    assert len(item_rows(page)) == 6


def test_a_person_outside_the_campaign_narrows_the_figures_and_the_list_alike_to_nothing(recon, client_for):
    stranger = PersonFactory(name="Nina Nobody")

    page = get_page(client_for("compliance_officer"), page_of(recon), {"subtree": stranger.pk})

    assert page.find("table", css_class="state-lines").find("tfoot").text() == "All 0 0 0"
    assert item_rows(page) == []
    assert "Nina Nobody" in page.find("nav", aria_label="Part of the organisation").text()


def test_the_list_filters_by_state_answer_and_name_and_keeps_the_filters_when_paging(recon, client_for):
    officer = client_for("compliance_officer")
    for index in range(55):
        VirtualMachineFactory(name=f"stray{index:02d}", owner=recon["people"]["olga"])
    reconciliation_run(campaign=recon["campaign"], trigger=ReconciliationTrigger.COMMAND)

    not_found = get_page(officer, page_of(recon), {"state": State.NOT_FOUND, "ordering": "name"})
    ghosts = get_page(officer, page_of(recon), {"q": "ghost", "ordering": "-name"})
    undeclared = get_page(officer, page_of(recon), {"state": State.UNDECLARED})

    assert [row[1].split(" row ")[0] for row in item_rows(not_found)] == ["olga-ghost", "rex-ghost", "web-01"]
    assert [row[1].split(" row ")[0] for row in item_rows(ghosts)] == ["rex-ghost", "olga-ghost"]
    assert len(item_rows(undeclared)) == 50 and "Page 1 of 2" in undeclared.text()
    assert ("Next", "?state=undeclared&page=2") in links(undeclared)
    second = get_page(officer, page_of(recon), {"state": State.UNDECLARED, "page": 2})
    assert len(item_rows(second)) == 58 - 50  # rex-vm, web_01, olga-vm and the 55 strays


def test_the_list_shows_what_waits_for_an_answer_first_then_the_answered_then_the_matched(recon, client_for):
    officer = client_for("compliance_officer")
    officer.post(page_of(recon) + "answer/", {"item": recon.item("olga-ghost").pk, "resolution": "retired"})

    page = get_page(officer, page_of(recon))

    states = [row[3] for row in item_rows(page)]
    answers = [row[-1] for row in item_rows(page)]
    assert states == ["Conflict"] * 2 + ["Not found (platform we scan)"] * 2 + ["Undeclared"] * 3 + [
        "Not found (platform we scan)", "Matched",
    ]
    assert answers[:7] == ["waiting"] * 7
    assert answers[7].startswith("Confirmed retired") and answers[8] == "nothing to answer"


def test_a_bad_filter_is_named_and_ignored_and_the_good_ones_still_apply(recon, client_for):
    officer = client_for("compliance_officer")

    page = get_page(officer, page_of(recon), {"state": "lost", "status": "someday"})
    narrowed = get_page(officer, page_of(recon), {"state": "lost", "subtree": recon["people"]["dana"].pk})

    assert "Filter ignored: state:" in page.text() and "Filter ignored: status:" in page.text()
    assert len(item_rows(page)) == 9
    assert len(item_rows(narrowed)) == 6
    assert narrowed.find("table", css_class="state-lines").find("tfoot").text() == "All 6 5 0"


# --- answers, links and routing ----------------------------------------------------------------------------------


def test_a_manager_retires_the_ticked_items_of_their_part_with_a_note(recon):
    dana = recon.login("dana")
    ghost, close = recon.item("rex-ghost"), recon.item("web-01")
    audit_before = AuditEvent.objects.count()

    response = dana.post(page_of(recon) + "answer/", {
        "item": [ghost.pk, close.pk], "resolution": Resolution.RETIRED, "note": "retired in March",
        "next": page_of(recon) + "?state=not_found",
    })

    assert response["Location"] == page_of(recon) + "?state=not_found"
    page = follow(dana, response)
    assert messages_of(page) == ["2 items answered: confirmed retired."]
    for item in (ghost, close):
        item.refresh_from_db()
        assert (item.resolution, item.resolution_note, item.resolved_by) == (
            Resolution.RETIRED, "retired in March", recon["users"]["dana"],
        )
    assert AuditEvent.objects.count() == audit_before + 2
    row = next(row for row in item_rows(read(page.content.decode())) if row[1].startswith("rex-ghost"))
    assert "Confirmed retired" in row[-1] and "retired in March" in row[-1]


def test_a_manager_cannot_answer_an_item_outside_their_part_and_nothing_changes(recon):
    dana = recon.login("dana")
    before = db_state()

    response = dana.post(page_of(recon) + "answer/", {
        "item": [recon.item("rex-ghost").pk, recon.item("olga-ghost").pk], "resolution": Resolution.RETIRED,
    })

    assert messages_of(follow(dana, response)) == [
        "Nothing was changed: 1 of the 2 chosen items is not in your part of the organisation: nothing was changed."
    ]
    assert db_state() == before


def test_an_answer_that_does_not_fit_an_item_is_refused_naming_it_and_nothing_changes(recon):
    dana = recon.login("dana")
    before = db_state()

    response = dana.post(page_of(recon) + "answer/", {
        "item": [recon.item("rex-ghost").pk, recon.item("rex-vm").pk], "resolution": Resolution.RETIRED,
    })

    assert messages_of(follow(dana, response)) == [
        "Nothing was changed: rex-vm: Undeclared: an undeclared item can be answered with claimed: it is mine, "
        "not mine."
    ]
    assert db_state() == before


def test_a_declaration_is_linked_to_one_of_its_candidates_from_its_row(recon):
    dana = recon.login("dana")
    close, web_01 = recon.item("web-01"), recon["vms"]["web_01"]
    page = get_page(dana, page_of(recon))
    row = page.find("tr", id=f"item-{close.pk}")
    assert links(row.find_all("td")[6]) == [("web_01", f"/inventory/vms/{web_01.pk}/")]
    link_form = row.find("form", css_class="link-form")
    assert [option.attrs["value"] for option in link_form.find_all("option")] == [str(web_01.pk)]

    response = dana.post(page_of(recon) + "answer/", {"item": close.pk, "resolution": "linked", "vm": web_01.pk})

    assert messages_of(follow(dana, response)) == ["1 item answered: linked to an inventory VM by hand."]
    close.refresh_from_db()
    assert (close.resolution, close.linked_vm) == (Resolution.LINKED, web_01)


def test_a_link_to_a_vm_outside_ones_part_is_refused_and_nothing_changes(recon):
    dana = recon.login("dana")
    before = db_state()

    response = dana.post(page_of(recon) + "answer/", {
        "item": recon.item("rex-ghost").pk, "resolution": "linked", "vm": recon["vms"]["olga-vm"].pk,
    })

    assert messages_of(follow(dana, response)) == [
        "Nothing was changed: That VM is not in your part of the organisation."
    ]
    assert db_state() == before


def test_an_officer_sends_items_to_anybody_a_manager_only_within_their_part(recon, client_for):
    officer, dana = client_for("compliance_officer"), recon.login("dana")
    olga_ghost, rex_ghost = recon.item("olga-ghost"), recon.item("rex-ghost")

    sent = officer.post(page_of(recon) + "route/", {"item": olga_ghost.pk, "to_person": "rex@example.com"})
    assert messages_of(follow(officer, sent)) == ["1 item sent to Rex Report."]
    olga_ghost.refresh_from_db()
    assert olga_ghost.routed_to == recon["people"]["rex"]

    before = db_state()
    refused = dana.post(page_of(recon) + "route/", {"item": rex_ghost.pk, "to_person": "Olga Other <olga@example.com>"})

    assert messages_of(follow(dana, refused)) == [
        "Nothing was changed: Olga Other is not in your part of the organisation."
    ]
    assert db_state() == before


def test_an_auditor_reads_the_page_without_forms_and_never_posts(recon, client_for):
    auditor = client_for("auditor")
    page = get_page(auditor, page_of(recon))
    assert not page.find("main").find_all("form", method="post")
    before = db_state()

    ghost = recon.item("rex-ghost").pk
    answered = auditor.post(page_of(recon) + "answer/", {"item": ghost, "resolution": "retired"})
    routed = auditor.post(page_of(recon) + "route/", {"item": ghost, "to_person": "rex@example.com"})
    run = auditor.post(page_of(recon) + "run/")

    assert (answered.status_code, routed.status_code, run.status_code) == (403, 403, 403)
    assert db_state() == before


def test_the_owner_reconciles_now_and_the_page_names_who_asked(recon, client_for, django_capture_on_commit_callbacks):
    officer = client_for("compliance_officer")
    assert [button.text() for button in get_page(officer, page_of(recon)).find("main").find_all("button")][0] == (
        "Reconcile now"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = officer.post(page_of(recon) + "run/")

    run = ReconciliationRun.objects.latest("id")
    assert (run.trigger, run.requested_by) == (ReconciliationTrigger.PAGE, recon["users"]["officer"])
    page = follow(officer, response)
    assert messages_of(page)[0].startswith("Reconciliation of “Census 2027” started")
    last_run = read(page.content.decode()).find("p", data_figure="last-run").text()
    assert "button in the portal by compliance_officer" in last_run and "0 items changed" in last_run


def test_a_manager_cannot_reconcile_now_and_nothing_runs(recon, django_capture_on_commit_callbacks):
    dana = recon.login("dana")
    assert "Reconcile now" not in get_page(dana, page_of(recon)).text()
    before = db_state()

    with django_capture_on_commit_callbacks(execute=True):
        response = dana.post(page_of(recon) + "run/")

    assert messages_of(follow(dana, response)) == [
        "Nothing was changed: Only the owner of “Census 2027” or an admin starts its reconciliation."
    ]
    assert db_state() == before


# --- exports -------------------------------------------------------------------------------------------------------


def test_the_csv_export_is_the_filtered_list_with_labels_safe_cells_and_an_audit_event(recon, client_for):
    declare(recon["parts"]["rex"], recon["question"], HYPERLINK)
    reconciliation_run(campaign=recon["campaign"], trigger=ReconciliationTrigger.COMMAND)
    officer = client_for("compliance_officer")

    response = officer.get(page_of(recon) + "items.csv", {"state": State.NOT_FOUND})

    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    names = sorted(row["Declared name"] for row in table)
    assert names == sorted(["'" + HYPERLINK, "olga-ghost", "rex-ghost", "web-01"])
    assert {(row["State"], row["State (code)"]) for row in table} == {("Not found (platform we scan)", "not_found")}
    close = next(row for row in table if row["Declared name"] == "web-01")
    assert (close["Declared by"], close["Candidates (VM ids)"], close["Routed to"]) == (
        "Rex Report", str(recon["vms"]["web_01"].pk), "Rex Report",
    )
    event = AuditEvent.objects.filter(action="reconciliation.exported").get()
    assert event.details == {"export": "csv", "filters": {"State": "Not found (platform we scan)"}, "rows": 4}
    assert event.actor == recon["users"]["officer"]


def test_a_managers_export_holds_only_their_part(recon):
    response = recon.login("dana").get(page_of(recon) + "items.csv")

    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode().removeprefix("\ufeff"))))
    assert len(table) == 6
    assert "Olga Other" not in {row["Declared by"] for row in table} | {row["Routed to"] for row in table}


def test_the_xlsx_export_has_an_about_sheet_a_frozen_filtered_header_and_typed_cells(recon):
    dana = recon.login("dana")
    dana.post(page_of(recon) + "answer/", {"item": recon.item("rex-ghost").pk, "resolution": "retired"})

    response = dana.get(page_of(recon) + "items.xlsx", {"status": "answered", "subtree": recon["people"]["rex"].pk})

    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["About", "Items", "Codes"]
    about = {label: value for label, value in workbook["About"].iter_rows(values_only=True)}
    assert (about["Export"], about["Campaign"]) == ("Reconciliation items of Census 2027", "Census 2027")
    assert (about["By"], about["Rows"]) == ("dana", 1)
    assert (about["Filter: Answer"], about["Filter: Part of"]) == ("Answered", "Rex Report")
    assert isinstance(about["Made"], datetime.datetime)
    items = workbook["Items"]
    assert (items.freeze_panes, items.auto_filter.ref) == ("A2", "A1:R2")
    header, row = list(items.iter_rows(values_only=True))
    record = dict(zip(header, row, strict=True))
    assert (record["Declared name"], record["Answer"], record["Answered by"]) == (
        "rex-ghost", "Confirmed retired", "dana",
    )
    assert isinstance(record["Answered at"], datetime.datetime) and isinstance(record["Row"], int)
    assert items.column_dimensions["K"].width == 60  # the reasons
    assert response["Content-Disposition"].startswith('attachment; filename="Census-2027-reconciliation-')
    codes = list(workbook["Codes"].iter_rows(values_only=True))
    assert ("Answer", "retired", "Confirmed retired") in codes
    assert ("State", "not_found", State.NOT_FOUND.label) in codes


# --- follow-ups --------------------------------------------------------------------------------------------------


def test_the_follow_ups_page_asks_each_question_and_lists_the_answered_ones_below(recon):
    rex = recon.login("rex")
    rex.post("/questionnaires/follow-ups/answer/", {"item": recon.item("web-01").pk, "resolution": "retired"})

    page = get_page(rex, "/questionnaires/follow-ups/")

    questions = [section.find("h2").text() for section in page.find_all("section", css_class="follow-up")]
    assert sorted(questions) == sorted([
        "You declared “rex-ghost”, no scanner sees it: where does it run? is it retired?",
        "A scanner sees “rex-vm” in your area and nobody declared it: is it yours? what is it for?",
        "A scanner sees “web_01” in your area and nobody declared it: is it yours? what is it for?",
    ])
    answered = rows(page.find("table", css_class="answered-follow-ups"))
    assert [(row[0], row[3]) for row in answered] == [("web-01", "Confirmed retired")]
    ghost = page.find("section", id=f"item-{recon.item('rex-ghost').pk}")
    assert [button.text() for button in ghost.find_all("button")] == [
        "It is retired", "It runs on a platform nobody scans",
    ]
    stray = page.find("section", id=f"item-{recon.item('rex-vm').pk}")
    assert [button.text() for button in stray.find_all("button")] == ["Yes, it is mine", "Not mine"]


def test_claiming_a_vm_makes_one_its_owner_with_what_it_is_for(recon):
    rex = recon.login("rex")
    stray = recon.item("rex-vm")
    recon["vms"]["rex-vm"].owner = None
    recon["vms"]["rex-vm"].save(update_fields=["owner"])

    response = rex.post("/questionnaires/follow-ups/answer/", {
        "item": stray.pk, "resolution": "claimed", "purpose": "Build server", "data_categories": ["personal"],
    })

    assert messages_of(follow(rex, response)) == ["1 item answered: claimed: it is mine."]
    vm = VirtualMachine.objects.get(pk=recon["vms"]["rex-vm"].pk)
    assert (vm.owner, vm.purpose, vm.data_categories) == (recon["people"]["rex"], "Build server", ["personal"])


def test_a_claim_without_a_purpose_is_refused_and_nothing_changes(recon):
    rex = recon.login("rex")
    before = db_state()

    response = rex.post("/questionnaires/follow-ups/answer/", {"item": recon.item("rex-vm").pk,
                                                                "resolution": "claimed"})

    assert messages_of(follow(rex, response)) == [
        "Nothing was changed: Say what it is for: that is what the auditors will ask."
    ]
    assert db_state() == before


def test_a_follow_up_of_somebody_else_is_refused_on_the_follow_ups_page_too(recon):
    rex = recon.login("rex")
    before = db_state()

    response = rex.post("/questionnaires/follow-ups/answer/", {"item": recon.item("olga-ghost").pk,
                                                                "resolution": "retired"})

    assert "not in your part of the organisation" in messages_of(follow(rex, response))[0]
    assert db_state() == before


def test_the_navigation_counts_the_follow_ups_waiting_for_everybody(recon, client_for):
    # Rex is asked about rex-ghost and web-01 (declared, not seen) and rex-vm and web_01 (seen, not declared).
    rex_nav = get_page(recon.login("rex"), "/").find("ul", css_class="navbar-nav")
    auditor_nav = get_page(client_for("auditor"), "/").find("ul", css_class="navbar-nav")

    assert ("Follow-ups 4", "/questionnaires/follow-ups/") in links(rex_nav)
    assert ("Follow-ups", "/questionnaires/follow-ups/") in links(auditor_nav)


def test_the_assignees_page_shows_their_open_follow_ups_of_the_campaign(recon):
    url = f"/questionnaires/assignments/{recon['parts']['rex'].pk}/"

    own = get_page(recon.login("rex"), url)
    managers = get_page(recon.login("dana"), url)

    card = own.find("div", css_class="follow-ups-card")
    assert card.text().startswith("4 VMs to check after reconciliation")
    assert ("Answer them", "/questionnaires/follow-ups/") in links(card)
    assert not managers.find_all("div", css_class="follow-ups-card")


def test_the_campaign_page_links_to_its_reconciliation_with_the_open_count(recon, client_for):
    officer = get_page(client_for("compliance_officer"), f"/questionnaires/campaigns/{recon['campaign'].pk}/")
    dana = get_page(recon.login("dana"), f"/questionnaires/campaigns/{recon['campaign'].pk}/")

    assert officer.find("a", data_link="reconciliation").text() == "Reconciliation 8"
    assert dana.find("a", data_link="reconciliation").text() == "Reconciliation 5"


# --- the VM page ------------------------------------------------------------------------------------------------


def test_the_vm_page_shows_what_each_campaign_says_of_the_vm_as_far_as_the_reader_may_see(recon, client_for):
    shared = recon["vms"]["shared01"]

    officer = get_page(client_for("compliance_officer"), f"/inventory/vms/{shared.pk}/")
    dana = get_page(recon.login("dana"), f"/inventory/vms/{shared.pk}/")

    entries = declarations(officer)
    assert len(entries) == 2
    assert all(entry.startswith("Census 2027 Conflict Declared as shared01 by ") for entry in entries)
    assert sorted(entry.split(" by ")[1].split(",")[0] for entry in entries) == ["Olga Other", "Rex Report"]
    assert "matched by name, unique in the person's area shared01" in " ".join(entries)
    assert [entry.split(" by ")[1].split(",")[0] for entry in declarations(dana)] == ["Rex Report"]


def declarations(page) -> list[str]:
    """The entries of the VM page's "Declared in campaigns" panel."""
    panel = page.find("div", data_panel="declarations")
    return [element.text() for element in panel.iter() if "data-item" in element.attrs]


def test_inventory_never_imports_questionnaires():
    for path in Path(settings.BASE_DIR, "inventory").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from questionnaires" not in text and "import questionnaires" not in text, path


# --- queries -----------------------------------------------------------------------------------------------------


def count_queries(client, url, params=None) -> int:
    client.get(url, params or {})  # warm the caches (content types, the session)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


def test_the_reconciliation_and_follow_ups_pages_cost_the_same_queries_for_5_or_50_items(recon, client_for):
    officer, dana, rex = client_for("compliance_officer"), recon.login("dana"), recon.login("rex")
    asked = ReconciliationItem.objects.filter(routed_to=recon["people"]["rex"]).exclude(state=State.MATCHED)
    assert asked.count() == 4
    figures = {}
    for size in ("few", "many"):
        if size == "many":
            for index in range(46):
                VirtualMachineFactory(name=f"more{index:02d}", owner=recon["people"]["rex"])
                declare(recon["parts"]["rex"], recon["question"], f"zz-ghost{index:02d}")
            reconciliation_run(campaign=recon["campaign"], trigger=ReconciliationTrigger.COMMAND)
        figures[size] = (
            count_queries(officer, page_of(recon)),
            count_queries(dana, page_of(recon), {"subtree": recon["people"]["rex"].pk}),
            count_queries(rex, "/questionnaires/follow-ups/"),
        )

    assert asked.count() == 96
    assert figures["few"] == figures["many"]
