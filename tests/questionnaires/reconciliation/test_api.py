"""The reconciliation API: runs and items with their filters and the caller's reach, answers and routing through
the services with their refusals (403 / 400 / 404 in the service's words, nothing changed), and its queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import VirtualMachine
from portal.models import AuditEvent
from questionnaires.choices import ReconciliationState, ReconciliationTrigger
from questionnaires.models import ReconciliationItem
from questionnaires.services.reconciliation import reconciliation_run
from tests.factories import VirtualMachineFactory
from tests.questionnaires.reconciliation.conftest import declare

pytestmark = pytest.mark.django_db

State = ReconciliationState
ITEMS = "/api/v1/reconciliation-items/"
RUNS = "/api/v1/reconciliation-runs/"


def db_state() -> dict:
    return {
        "items": list(ReconciliationItem.objects.order_by("id").values()),
        "vms": list(VirtualMachine.objects.order_by("id").values("id", "owner_id", "purpose", "data_categories")),
        "audit": AuditEvent.objects.count(),
    }


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(item["declared_vm_name"] or item["vm_name"] for item in response.json()["results"])


def test_an_item_shows_how_it_matched_why_who_declared_it_and_who_is_asked(recon, client_for):
    close, web_01, rex = recon.item("web-01"), recon["vms"]["web_01"], recon["people"]["rex"]

    body = client_for("compliance_officer").get(f"{ITEMS}{close.pk}/").json()

    assert body == {
        "id": close.pk, "campaign": recon["campaign"].pk, "campaign_name": "Census 2027", "key": close.key,
        "state": "not_found", "declared_vm": close.declared_vm_id, "declared_vm_name": "web-01",
        "declared_vm_row": close.declared_vm.row, "assignment": recon["parts"]["rex"].pk, "declarer": rex.pk,
        "declarer_name": "Rex Report", "vm": None, "vm_name": None, "match_key": "", "match_value": "",
        "reasons": [{"code": "similar_name", "message": "no VM is named 'web-01'; similar: web_01"}],
        "candidates": [web_01.pk], "routed_to": rex.pk, "routed_to_name": "Rex Report", "resolution": "",
        "resolution_note": "", "resolved_by": None, "resolved_at": None, "linked_vm": None,
    }


def test_items_filter_by_campaign_state_part_vm_answer_and_routed_person(recon, client_for):
    officer = client_for("compliance_officer")
    people, vms = recon["people"], recon["vms"]
    officer.post(f"{ITEMS}answer/", {"ids": [recon.item("olga-ghost").pk], "resolution": "retired"},
                 content_type="application/json")

    assert names(officer.get(ITEMS, {"campaign": recon["campaign"].pk, "state": "not_found"})) == [
        "olga-ghost", "rex-ghost", "web-01",
    ]
    assert names(officer.get(ITEMS, {"subtree": people["dana"].pk, "state": "undeclared"})) == ["rex-vm", "web_01"]
    assert names(officer.get(ITEMS, {"vm": vms["shared01"].pk})) == ["shared01", "shared01"]
    assert names(officer.get(ITEMS, {"resolution": "retired"})) == ["olga-ghost"]
    assert names(officer.get(ITEMS, {"routed_to": people["ceo"].pk})) == ["shared01", "shared01"]
    assert names(officer.get(ITEMS, {"status": "open", "routed_to": people["olga"].pk})) == ["olga-vm"]
    assert names(officer.get(ITEMS, {"campaign": recon["campaign"].pk + 1})) == []


def test_a_bad_filter_is_a_400_naming_it(recon, client_for):
    response = client_for("compliance_officer").get(ITEMS, {"subtree": 0, "campaign": "x", "state": "lost"})

    assert response.status_code == 400
    assert set(response.json()) == {"subtree", "campaign", "state"}


def test_a_manager_reads_the_items_of_their_part_only(recon):
    dana = recon.login("dana")

    assert names(dana.get(ITEMS)) == ["app01", "rex-ghost", "rex-vm", "shared01", "web-01", "web_01"]
    assert dana.get(f"{ITEMS}{recon.item('olga-ghost').pk}/").status_code == 404
    assert names(dana.get(ITEMS, {"subtree": recon["people"]["olga"].pk})) == []


def test_runs_are_listed_with_who_asked_and_their_counts(recon, client_for):
    officer = client_for("compliance_officer")
    run = reconciliation_run(campaign=recon["campaign"], trigger=ReconciliationTrigger.PAGE,
                             user=recon["users"]["officer"])

    body = officer.get(RUNS, {"campaign": recon["campaign"].pk}).json()

    assert [entry["id"] for entry in body["results"]] == [run.pk, recon["run"].pk]
    latest = body["results"][0]
    assert (latest["trigger"], latest["requested_by"], latest["changed"]) == ("page", "compliance_officer", 0)
    assert latest["counts"] == {"matched": 1, "undeclared": 3, "not_found": 3, "not_found_unscanned": 0,
                                "conflict": 2, "mismatch": 0}
    assert body["results"][1]["requested_by"] is None


# --- answers and routing -----------------------------------------------------------------------------------------


def test_a_manager_answers_items_of_their_part_and_gets_them_back(recon):
    dana = recon.login("dana")
    ghost = recon.item("rex-ghost")

    response = dana.post(f"{ITEMS}answer/", {"ids": [ghost.pk], "resolution": "retired", "note": "gone in May"},
                         content_type="application/json")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    answered = [(item["id"], item["resolution"], item["resolution_note"], item["resolved_by"])
                for item in body["items"]]
    assert answered == [(ghost.pk, "retired", "gone in May", "dana")]
    assert AuditEvent.objects.filter(action="reconciliation.answered", object_id=str(ghost.pk)).count() == 1


def test_answering_items_outside_ones_part_is_a_404_and_changes_nothing(recon):
    dana = recon.login("dana")
    before = db_state()

    response = dana.post(f"{ITEMS}answer/", {
        "ids": [recon.item("rex-ghost").pk, recon.item("olga-ghost").pk], "resolution": "retired",
    }, content_type="application/json")

    assert response.status_code == 404
    assert response.json() == {
        "detail": f"No item {recon.item('olga-ghost').pk} among those you can read: nothing was changed."
    }
    assert db_state() == before


def test_an_answer_unfit_for_an_item_is_a_400_in_the_services_words(recon):
    before = db_state()

    response = recon.login("rex").post(
        f"{ITEMS}answer/", {"ids": [recon.item("rex-ghost").pk], "resolution": "claimed", "purpose": "x"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json() == {"resolution": [
        "rex-ghost: Not found (platform we scan): a not found (platform we scan) item can be answered with "
        "confirmed retired, runs on a platform not scanned, linked to an inventory VM by hand."
    ]}
    assert db_state() == before


def test_linking_to_a_vm_outside_ones_part_is_a_403_and_changes_nothing(recon):
    before = db_state()

    response = recon.login("dana").post(f"{ITEMS}answer/", {
        "ids": [recon.item("rex-ghost").pk], "resolution": "linked", "vm": recon["vms"]["olga-vm"].pk,
    }, content_type="application/json")

    assert response.status_code == 403
    assert response.json() == {"detail": "That VM is not in your part of the organisation."}
    assert db_state() == before


def test_a_security_admin_reads_every_item_but_answers_only_their_part(recon, client_for):
    secadmin = client_for("security_admin")
    assert len(names(secadmin.get(ITEMS))) == 9
    before = db_state()

    response = secadmin.post(f"{ITEMS}answer/", {"ids": [recon.item("rex-ghost").pk], "resolution": "retired"},
                             content_type="application/json")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "rex-ghost: Not found (platform we scan): not in your part of the organisation."
    }
    assert db_state() == before


def test_an_auditor_reads_and_never_answers_or_routes(recon, client_for):
    auditor = client_for("auditor")
    assert len(names(auditor.get(ITEMS))) == 9
    before = db_state()
    ids = [recon.item("rex-ghost").pk]

    answered = auditor.post(f"{ITEMS}answer/", {"ids": ids, "resolution": "retired"}, content_type="application/json")
    routed = auditor.post(f"{ITEMS}route/", {"ids": ids, "to_person": recon["people"]["rex"].pk},
                          content_type="application/json")

    assert (answered.status_code, routed.status_code) == (403, 403)
    assert db_state() == before


def test_routing_sends_items_on_within_ones_reach(recon, client_for):
    olga_ghost, rex_ghost = recon.item("olga-ghost"), recon.item("rex-ghost")

    sent = client_for("compliance_officer").post(f"{ITEMS}route/", {
        "ids": [olga_ghost.pk], "to_person": recon["people"]["rex"].pk,
    }, content_type="application/json")
    assert sent.status_code == 200
    assert sent.json()["items"][0]["routed_to_name"] == "Rex Report"

    before = db_state()
    refused = recon.login("dana").post(f"{ITEMS}route/", {
        "ids": [rex_ghost.pk], "to_person": recon["people"]["olga"].pk,
    }, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Olga Other is not in your part of the organisation."}
    assert db_state() == before


def test_a_malformed_answer_is_a_400_by_field(recon, client_for):
    response = client_for("compliance_officer").post(f"{ITEMS}answer/", {
        "ids": [], "resolution": "maybe", "vm": 0, "data_categories": ["secret"],
    }, content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"ids", "resolution", "vm", "data_categories"}


def test_the_item_list_costs_the_same_queries_for_5_or_50_items(recon):
    dana = recon.login("dana")
    counts = []
    for extra in (0, 45):
        for index in range(extra):
            VirtualMachineFactory(name=f"more{index:02d}", owner=recon["people"]["rex"], mac_addresses=[])
            declare(recon["parts"]["rex"], recon["question"], f"ghost{index:02d}")
        if extra:
            reconciliation_run(campaign=recon["campaign"], trigger=ReconciliationTrigger.COMMAND)
        dana.get(ITEMS)
        with CaptureQueriesContext(connection) as queries:
            response = dana.get(ITEMS, {"page_size": 200})
        assert response.status_code == 200
        counts.append((len(response.json()["results"]), len(queries)))

    assert counts[0][0] == 6 and counts[1][0] == 96
    assert counts[0][1] == counts[1][1]


def test_runs_of_campaigns_one_takes_no_part_in_are_not_listed(recon):
    outsider = recon.login("olga")

    assert [run["id"] for run in outsider.get(RUNS).json()["results"]] == [recon["run"].pk]
    recon["parts"]["olga"].delete()
    assert outsider.get(RUNS).json()["results"] == []
    assert outsider.get(f"{RUNS}{recon['run'].pk}/").status_code == 404
