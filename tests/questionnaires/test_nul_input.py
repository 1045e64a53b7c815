"""A NUL character in a text answer, a VM cell or a review comment, on a page or through the API, is a 400 that
names where it is, and nothing is saved (PostgreSQL cannot store NUL; before, each was a 500)."""

import html
import json

import pytest

from questionnaires.services.assignments import assignment_submit
from tests.questionnaires import test_pages
from tests.questionnaires.factories import DeclaredVMFactory
from tests.questionnaires.test_pages import assignment_url, chain_vm_list, db_state, login

# The page tests' fixtures: the standard template, a campaign delegated down a chain, and its people.
discovery, chain, people, q, s = (test_pages.discovery, test_pages.chain, test_pages.people, test_pages.q,
                                  test_pages.s)

NUL_PROBLEM = "contains a NUL character (\\x00), which cannot be stored: remove it"


def test_a_text_answer_with_a_nul_on_the_page_is_refused(chain, people, q, s):
    before = db_state()

    response = login(people["vp_a"]).post(assignment_url(chain.head, f"sections/{s['comments'].pk}/"),
                                          {"question": q["comments"].pk, "value": "two lab VMs\x00"})

    assert response.status_code == 400
    assert f"the form field 'value' {NUL_PROBLEM}" in html.unescape(response.content.decode())
    assert db_state() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(json.dumps({"rows": [{"id": None, "name": "web\x0001"}]}), "application/json"),
     ({"op": "paste", "text": "name\nweb\x0001\n"}, None)],
)
def test_a_vm_cell_with_a_nul_on_the_page_is_refused(chain, people, body, content_type):
    before = db_state()

    client = login(people["lead_a1"])
    url = assignment_url(chain.part, f"vms/{chain_vm_list(chain).pk}/")
    response = client.post(url, body, content_type=content_type) if content_type else client.post(url, body)

    assert response.status_code == 400
    assert NUL_PROBLEM in html.unescape(response.content.decode())
    assert db_state() == before


def test_a_review_comment_with_a_nul_on_the_page_is_refused(chain, people):
    DeclaredVMFactory(assignment=chain.part, question=chain_vm_list(chain), name="web01")
    assignment_submit(assignment=chain.part, user=people["lead_a1"])
    before = db_state()

    response = login(people["vp_a"]).post(assignment_url(chain.part, "review/"),
                                          {"decision": "return", "comment": "fix\x00 it"})

    assert response.status_code == 400
    assert db_state() == before


@pytest.mark.parametrize(
    ("suffix", "body", "where"),
    [
        ("answers/", {"question": "comments", "value": "lab\x00"}, "value"),
        ("declared-vms/", {"rows": [{"name": "ok01"}, {"name": "web\x0001"}]}, "rows[1].name"),
    ],
)
def test_the_api_refuses_a_nul_in_an_answer_or_a_vm_cell(chain, people, suffix, body, where):
    target = chain.head if suffix == "answers/" else chain.part
    user = people["vp_a"] if suffix == "answers/" else people["lead_a1"]
    before = db_state()

    response = login(user).post(f"/api/v1/assignments/{target.pk}/{suffix}", json.dumps(body),
                                content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": f"The request was refused: the JSON body at {where} {NUL_PROBLEM}."}
    assert db_state() == before
