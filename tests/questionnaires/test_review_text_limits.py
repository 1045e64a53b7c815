"""A review comment and the reason a manager answers a part themselves are copied into the audit trail, the
notification and its e-mail: each is at most 5,000 characters, on the page, in the API and in the services."""

import html
import json

import pytest
from django.core.exceptions import ValidationError

from questionnaires.models import REVIEW_TEXT_MAX_LENGTH
from questionnaires.services.assignments import (
    assignment_answer_for,
    assignment_delegate,
    assignment_review,
    assignment_submit,
)
from tests.questionnaires import test_pages
from tests.questionnaires.factories import DeclaredVMFactory
from tests.questionnaires.test_pages import assignment_url, chain_vm_list, db_state, login

discovery, chain, people, q, s = (test_pages.discovery, test_pages.chain, test_pages.people, test_pages.q,
                                  test_pages.s)
TOO_LONG = "x" * 5001


@pytest.fixture
def submitted(chain, people):
    """Ann Lead's part, submitted to Alice VP for review."""
    DeclaredVMFactory(assignment=chain.part, question=chain_vm_list(chain), name="web01")
    assignment_submit(assignment=chain.part, user=people["lead_a1"])
    return chain.part


def test_the_limit_is_five_thousand_characters():
    assert REVIEW_TEXT_MAX_LENGTH == 5000


@pytest.mark.parametrize("accept", [True, False])
def test_a_review_comment_over_the_limit_is_refused_by_the_service_and_changes_nothing(submitted, people, accept):
    before = db_state()

    with pytest.raises(ValidationError) as refusal:
        assignment_review(assignment=submitted, user=people["vp_a"], accept=accept, comment=TOO_LONG)

    assert refusal.value.message_dict == {"comment": ["At most 5,000 characters (this one has 5,001)."]}
    assert db_state() == before


def test_a_comment_of_exactly_the_limit_is_kept_whole(submitted, people):
    assignment_review(assignment=submitted, user=people["vp_a"], accept=False, comment="y" * 5000)

    submitted.refresh_from_db()
    assert submitted.review_comment == "y" * 5000


def test_a_reason_over_the_limit_is_refused_by_the_service_and_changes_nothing(chain, people):
    before = db_state()

    with pytest.raises(ValidationError) as refusal:
        assignment_answer_for(assignment=chain.part, user=people["vp_a"], reason=TOO_LONG)

    assert refusal.value.message_dict == {"reason": ["At most 5,000 characters (this one has 5,001)."]}
    assert db_state() == before


def test_a_huge_comment_on_the_page_is_refused_with_a_message_and_changes_nothing(submitted, people):
    before = db_state()

    response = login(people["vp_a"]).post(assignment_url(submitted, "review/"),
                                          {"decision": "return", "comment": "z" * 2_400_000}, follow=True)

    assert "At most 5,000 characters (this one has 2,400,000)." in html.unescape(response.content.decode())
    assert db_state() == before


def test_the_page_fields_say_their_limit(submitted, people, chain, org):
    other = assignment_delegate(assignment=chain.head, to_person=org["lead_a2"], user=people["vp_a"])
    manager = login(people["vp_a"])
    head = manager.get(assignment_url(chain.head)).content.decode()
    part = manager.get(assignment_url(other)).content.decode()

    # the return comment, on the page that reviews; the answer-for reason, on the part answered for
    assert f'name="comment" rows="2" maxlength="{REVIEW_TEXT_MAX_LENGTH}"' in head
    assert f'name="reason" rows="2" maxlength="{REVIEW_TEXT_MAX_LENGTH}"' in part


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("review", {"decision": "return", "comment": TOO_LONG}, "comment"),
        ("answer-for", {"reason": TOO_LONG}, "reason"),
    ],
)
def test_the_api_refuses_text_over_the_limit_with_a_400_naming_the_field(submitted, people, action, body, field):
    before = db_state()

    response = login(people["vp_a"]).post(f"/api/v1/assignments/{submitted.pk}/{action}/", json.dumps(body),
                                          content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {field: ["Ensure this field has no more than 5000 characters."]}
    assert db_state() == before
