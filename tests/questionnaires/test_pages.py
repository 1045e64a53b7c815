"""The questionnaire pages: who may open and change what, the autosave, the VM list (grid, paste, upload, pre-fill),
delegation, submission, review, exports, the inbox, area mappings, and the queries of the campaign page."""

import csv
import datetime
import html
import io
import json
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from inventory.models import AreaMapping
from portal.choices import Role
from portal.models import AuditEvent, Notification
from questionnaires.choices import AssignmentStatus, CampaignStatus, Disposition
from questionnaires.models import Answer, Assignment, Campaign, DeclaredVM, Question, Section
from questionnaires.services.answers import answer_save
from questionnaires.services.assignments import assignment_delegate, assignment_submit
from questionnaires.services.campaigns import campaign_close, campaign_create, campaign_launch
from questionnaires.services.templates import DATA_DIR, template_load
from tests.factories import (
    AreaMappingFactory,
    ClusterFactory,
    HostFactory,
    PersonFactory,
    UserFactory,
    VirtualMachineFactory,
)
from tests.page_reading import read
from tests.page_reading import rows as table_rows
from tests.questionnaires.factories import DeclaredVMFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate
HYPERLINK = '=HYPERLINK("http://evil.example/x","click me")'


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def db_state() -> dict:
    """Everything the pages may write, to assert that a refused request wrote nothing."""
    return {
        "campaigns": list(Campaign.objects.order_by("id").values()),
        "assignments": list(Assignment.objects.order_by("id").values()),
        "sections": list(Assignment.sections.through.objects.order_by("id").values()),
        "answers": list(Answer.objects.order_by("id").values("assignment_id", "question_id", "value", "other_text")),
        "declared": list(DeclaredVM.objects.order_by("id").values()),
        "mappings": list(AreaMapping.objects.order_by("id").values()),
        "notifications": list(Notification.objects.order_by("id").values_list("dedupe_key", "read_at")),
        "audit": list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True)),
    }


@pytest.fixture
def discovery(db):
    """The standard VM discovery template, as shipped."""
    return template_load(path=DATA_DIR / "vm_discovery.json")


@pytest.fixture
def people(logins) -> dict:
    """The logins of ``org``, each with the manager role (assignees need a role to use the portal)."""
    group, _ = Group.objects.get_or_create(name=Role.MANAGER)
    for user in logins.values():
        user.groups.add(group)
    return logins


@pytest.fixture
def q(discovery) -> dict[str, Question]:
    return {question.key: question for question in Question.objects.filter(section__version=discovery)}


@pytest.fixture
def s(discovery) -> dict[str, Section]:
    return {section.key: section for section in Section.objects.filter(version=discovery)}


@pytest.fixture
def chain(discovery, officer, org, people):
    """A campaign over Alice VP's area that does not cascade: Alice holds the head and delegated the VM list to
    Ann Lead; Ann's part is what most tests open."""
    campaign = campaign_create(
        name="VM census 2027", version=discovery, scope=org["vp_a"], owner=officer,
        due_date=TODAY() + datetime.timedelta(days=14), cascade=False,
    )
    campaign_launch(campaign=campaign, user=officer)
    campaign.refresh_from_db()
    head = Assignment.objects.get(campaign=campaign, person=org["vp_a"])
    vms = Section.objects.get(version=discovery, key="vms")
    part = assignment_delegate(assignment=head, to_person=org["lead_a1"], sections=[vms], user=people["vp_a"])
    return SimpleNamespace(campaign=campaign, head=head, part=part)


def page(client: Client, url: str, **params):
    response = client.get(url, params)
    return response, response.content.decode()


def assignment_url(assignment, suffix="") -> str:
    return f"/questionnaires/assignments/{assignment.pk}/{suffix}"


def messages_of(response) -> list[str]:
    """The messages this request added (not those still queued from earlier ones)."""
    return [str(message) for message in response.wsgi_request._messages._queued_messages]


# --- who opens what ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected", "editable"),
    [
        ("lead_a1", 200, True),  # the assignee
        ("vp_a", 200, True),  # their manager, who delegated it, reviews it and may answer it for them
        ("ceo", 200, False),  # further up the chain
        ("lead_a2", 403, False),  # a colleague
        ("vp_b", 403, False),  # another branch
        ("officer", 200, False),
        (Role.AUDITOR, 200, False),
        (Role.ADMIN, 200, False),
        (Role.SECURITY_ADMIN, 403, False),  # no part in the organisation
        ("none", 403, False),  # a login with no role
    ],
)
def test_the_assignment_page_opens_for_the_assignee_their_managers_and_oversight_only(
    chain, people, officer, role_users, viewer, expected, editable
):
    user = people.get(viewer) or (officer if viewer == "officer" else role_users[viewer])

    response, html = page(login(user), assignment_url(chain.part))

    assert response.status_code == expected
    if expected == 200:
        assert "Ann Lead" in html
        assert ('data-column="name" id="vm' in html) is editable  # the VM grid is there for who may answer
        assert ('data-vm-list="vm_list"' in html)
    else:
        assert "You cannot open this page" in html


def test_anonymous_visitors_are_sent_to_the_login_page(chain, client):
    response = client.get(assignment_url(chain.part))

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={assignment_url(chain.part)}"


def test_the_assignee_sees_only_the_sections_delegated_to_them(chain, people):
    _, html = page(login(people["lead_a1"]), assignment_url(chain.part))

    assert 'data-section="vms"' in html
    assert 'data-section="your-area"' not in html and 'data-section="processes"' not in html
    # The VM list's condition (runs_vms) is in a part Ann does not hold: it counts as met, so the list shows.
    assert "Which VMs does your area run?" in html
    assert "sections: Your VMs" in html


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [("officer", 200), (Role.AUDITOR, 200), (Role.ADMIN, 200), ("vp_a", 200), ("lead_a1", 200), ("ceo", 403),
     ("lead_a2", 403), (Role.SECURITY_ADMIN, 403), (Role.MANAGER, 403)],
)
def test_the_campaign_page_opens_for_oversight_and_participants_only(
    chain, people, officer, role_users, viewer, expected
):
    user = people.get(viewer) or (officer if viewer == "officer" else role_users[viewer])

    response, html = page(login(user), f"/questionnaires/campaigns/{chain.campaign.pk}/")

    assert response.status_code == expected
    if expected == 403:
        assert "You take no part in “VM census 2027”" in html


def test_the_campaign_list_shows_oversight_every_campaign_and_others_their_own(chain, people, officer, role_users):
    _, html = page(login(officer), "/questionnaires/campaigns/")
    assert "VM census 2027" in html and "New campaign" in html
    assert "0/2 accepted" in html

    _, html = page(login(role_users[Role.AUDITOR]), "/questionnaires/campaigns/")
    assert "VM census 2027" in html and "New campaign" not in html

    _, html = page(login(people["lead_a1"]), "/questionnaires/campaigns/")
    assert "VM census 2027" in html and "The campaigns you take part in." in html
    assert f'href="/questionnaires/assignments/{chain.part.pk}/">Open</a>' in html

    _, html = page(login(people["vp_b"]), "/questionnaires/campaigns/")
    assert "VM census 2027" not in html and "No campaign." in html


def test_a_manager_sees_progress_for_their_own_subtree_only(chain, people, officer):
    _, whole = page(login(officer), f"/questionnaires/campaigns/{chain.campaign.pk}/")
    _, mine = page(login(people["lead_a1"]), f"/questionnaires/campaigns/{chain.campaign.pk}/")

    assert '<dd class="d-inline fw-semibold" data-count="total">2</dd>' in whole
    assert '<dd class="d-inline fw-semibold" data-count="in_progress">1</dd>' in whole  # Alice delegated
    assert '<dd class="d-inline fw-semibold" data-count="total">1</dd>' in mine
    assert '<dd class="d-inline fw-semibold" data-count="not_started">1</dd>' in mine
    assert "Progress of your part and below" in mine
    assert 'data-part="vp.a@example.com"' in whole and 'data-part="vp.a@example.com"' not in mine


def test_the_drill_down_lists_the_parts_below_a_branch(chain, people, officer):
    response, html = page(login(officer), assignment_url(chain.head, "children/"))

    assert response.status_code == 200
    assert 'data-part="lead.a1@example.com"' in html
    assert '<span class="badge text-bg-secondary" data-status="not_started">Not started</span>' in html
    assert page(login(people["lead_a2"]), assignment_url(chain.head, "children/"))[0].status_code == 403


# --- the campaign pages for its owner ---------------------------------------------------------------------------


def test_an_officer_creates_a_draft_with_the_form_and_launches_it(discovery, officer, org, people):
    client = login(officer)
    response, html = page(client, "/questionnaires/campaigns/new/")
    assert response.status_code == 200
    assert f'<option value="{discovery.pk}" selected>VM discovery v1</option>' in html

    response = client.post("/questionnaires/campaigns/new/", {
        "name": "Census", "version": discovery.pk, "scope": "Alice VP <VP.A@example.com>",
        "due_date": (TODAY() + datetime.timedelta(days=10)).isoformat(), "reminder_every_days": 7,
        "escalate_after_days": 3, "cascade": "yes",
    })

    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/questionnaires/campaigns/{campaign.pk}/"
    assert (campaign.status, campaign.scope, campaign.owner, campaign.cascade) == ("draft", org["vp_a"], officer, True)
    _, confirm = page(client, f"/questionnaires/campaigns/{campaign.pk}/launch/")
    assert "Launch and notify 3 people</button>" in confirm
    response = client.post(f"/questionnaires/campaigns/{campaign.pk}/launch/")
    assert messages_of(response) == ["“Census” is launched: 3 assignments sent."]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE
    _, html = page(client, f"/questionnaires/campaigns/{campaign.pk}/")
    assert '<dd class="d-inline fw-semibold" data-count="not_started">3</dd>' in html


def test_the_form_shows_what_the_service_refuses_and_creates_nothing(discovery, officer, org):
    org["vp_b"].active = False
    org["vp_b"].save()
    client = login(officer)

    response = client.post("/questionnaires/campaigns/new/", {
        "name": "Census", "version": discovery.pk, "scope": "nobody@example.com",
        "due_date": TODAY().isoformat(), "reminder_every_days": 7, "escalate_after_days": 3, "cascade": "no",
    })
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nobody active has the e-mail &#x27;nobody@example.com&#x27;" in html

    response = client.post("/questionnaires/campaigns/new/", {
        "name": "Census", "version": discovery.pk, "scope": "ceo@example.com",
        "due_date": TODAY().isoformat(), "reminder_every_days": 7, "escalate_after_days": 3, "cascade": "no",
    })
    assert "is not in the future" in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_campaign_form_names_every_problem_in_one_round(discovery, officer, org):
    client = login(officer)

    response = client.post("/questionnaires/campaigns/new/", {
        "name": "Census", "version": discovery.pk, "scope": "Zoe Nobody", "due_date": TODAY().isoformat(),
        "reminder_every_days": 7, "escalate_after_days": 0, "cascade": "no",
    })

    text = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "3 things to correct: Scope: the head of the subtree asked, Due date, Escalate after (days late)." in text
    assert "Nobody active is called 'Zoe Nobody'" in text
    assert "is not in the future" in text
    assert "Ensure this value is greater than or equal to 1." in text
    assert not Campaign.objects.exists()


def test_the_scope_is_picked_by_full_name(discovery, officer, org):
    response = login(officer).post("/questionnaires/campaigns/new/", {
        "name": "Census", "version": discovery.pk, "scope": "alice vp",
        "due_date": (TODAY() + datetime.timedelta(days=10)).isoformat(), "reminder_every_days": 7,
        "escalate_after_days": 3, "cascade": "yes",
    })

    assert response.status_code == 302
    assert Campaign.objects.get().scope == org["vp_a"]


def test_launching_asks_to_confirm_with_the_count_and_warns_of_a_live_campaign_over_the_same_people(
    chain, discovery, officer, org
):
    client = login(officer)
    response = client.post("/questionnaires/campaigns/new/", {
        "name": "Second census", "version": discovery.pk, "scope": "ceo@example.com",
        "due_date": (TODAY() + datetime.timedelta(days=10)).isoformat(), "reminder_every_days": 7,
        "escalate_after_days": 3, "cascade": "yes",
    })
    draft = Campaign.objects.get(name="Second census")
    assert messages_of(response)[1] == (
        "People this campaign asks already have a part in an active campaign (2 in “VM census 2027”): they will "
        "answer twice unless you change the scope."
    )

    _, detail = page(client, f"/questionnaires/campaigns/{draft.pk}/")
    assert f'href="/questionnaires/campaigns/{draft.pk}/launch/">Launch…</a>' in detail
    _, confirm = page(client, f"/questionnaires/campaigns/{draft.pk}/launch/")
    assert '<strong data-reach="6">6 people</strong>' in confirm
    assert "Launch and notify 6 people</button>" in confirm
    assert f'<a href="/questionnaires/campaigns/{chain.campaign.pk}/">VM census 2027</a>: 2 people' in confirm
    assert Campaign.objects.get(pk=draft.pk).status == CampaignStatus.DRAFT  # asking changed nothing


def test_a_draft_is_edited_and_deleted_by_its_owner_and_a_launched_one_is_not(chain, discovery, officer, org):
    draft = campaign_create(name="Draft", version=discovery, scope=org["vp_b"], owner=officer,
                            due_date=TODAY() + datetime.timedelta(days=10))
    client = login(officer)

    _, form = page(client, f"/questionnaires/campaigns/{draft.pk}/edit/")
    assert 'value="Bob VP &lt;vp.b@example.com&gt;"' in form
    response = client.post(f"/questionnaires/campaigns/{draft.pk}/edit/", {
        "name": "Draft, renamed", "version": discovery.pk, "scope": "Bob VP <vp.b@example.com>",
        "due_date": (TODAY() + datetime.timedelta(days=20)).isoformat(), "reminder_every_days": 5,
        "escalate_after_days": 3, "cascade": "yes",
    })
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.name, draft.reminder_every_days) == ("Draft, renamed", 5)
    assert AuditEvent.objects.filter(action="campaign.updated").get().details["changes"]["name"] == {
        "from": "Draft", "to": "Draft, renamed"}

    before = db_state()
    _, refused = page(client, f"/questionnaires/campaigns/{chain.campaign.pk}/edit/")
    assert "is active: only a draft can be edited." in refused
    response = client.post(f"/questionnaires/campaigns/{chain.campaign.pk}/delete/")
    assert "only a draft can be deleted" in messages_of(response)[0]
    assert db_state() == before

    response = client.post(f"/questionnaires/campaigns/{draft.pk}/delete/")
    assert messages_of(response) == ["The draft “Draft, renamed” is deleted."]
    assert not Campaign.objects.filter(pk=draft.pk).exists()
    assert AuditEvent.objects.filter(action="campaign.deleted").get().details["name"] == "Draft, renamed"


def test_a_part_is_reassigned_from_its_page_by_the_manager_above(chain, people, org):
    newcomer = PersonFactory(name="Nina New", email="nina@example.com", parent=org["vp_a"])
    client = login(people["vp_a"])
    _, html = page(client, assignment_url(chain.part))
    assert "Give Ann Lead’s part to somebody else" in html

    before = db_state()
    refused = client.post(assignment_url(chain.part, "reassign/"), {"to_person": "Ben Lead"})
    assert refused.status_code == 400
    assert "Ben Lead is not in Alice VP&#x27;s part of the organisation." in refused.content.decode()
    assert db_state() == before

    response = client.post(assignment_url(chain.part, "reassign/"), {"to_person": "Nina New <nina@example.com>"})
    assert messages_of(response) == ["Ann Lead's part is now Nina New's."]
    chain.part.refresh_from_db()
    assert chain.part.person == newcomer


def test_the_owner_closes_and_reopens_with_a_new_due_date(chain, officer):
    client = login(officer)
    url = f"/questionnaires/campaigns/{chain.campaign.pk}"

    assert messages_of(client.post(f"{url}/close/")) == ["“VM census 2027” is closed: its answers are frozen."]
    Campaign.objects.filter(pk=chain.campaign.pk).update(due_date=TODAY() - datetime.timedelta(days=1))
    response = client.post(f"{url}/reopen/", {"due_date": ""})
    assert "is not in the future" in messages_of(response)[0]
    assert Campaign.objects.get().status == CampaignStatus.CLOSED

    new_date = TODAY() + datetime.timedelta(days=7)
    client.post(f"{url}/reopen/", {"due_date": new_date.isoformat()})
    campaign = Campaign.objects.get()
    assert (campaign.status, campaign.due_date) == (CampaignStatus.ACTIVE, new_date)


@pytest.mark.parametrize("action", ["launch", "close", "reopen"])
def test_state_changes_are_refused_to_anyone_but_the_owner_and_change_nothing(
    chain, people, role_users, action
):
    before = db_state()
    url = f"/questionnaires/campaigns/{chain.campaign.pk}/{action}/"

    another_officer = UserFactory(username="officer2", role=Role.COMPLIANCE_OFFICER)
    response = login(another_officer).post(url, {"due_date": ""})
    assert response.status_code == 403
    assert "Only the campaign&#x27;s owner" in response.content.decode()
    for user in (role_users[Role.AUDITOR], people["vp_a"], role_users[Role.SECURITY_ADMIN]):
        assert login(user).post(url).status_code == 403

    assert db_state() == before


# --- answering: autosave and conditional questions ---------------------------------------------------------------


def test_an_autosave_stores_the_answer_and_answers_with_the_saved_indicator(chain, people, q, s):
    client = login(people["vp_a"])

    response = client.post(assignment_url(chain.head, f"sections/{s['comments'].pk}/"),
                           {"question": q["comments"].pk, "value": "  Two lab VMs under a desk.  "})

    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="autosave small ms-1 text-success" role="status" data-saved="saved">✓ Saved' in html
    assert "HX-Retarget" not in response  # nothing appeared or disappeared: only the indicator changes
    answer = Answer.objects.get(assignment=chain.head, question=q["comments"])
    assert answer.value == "Two lab VMs under a desk."


def test_a_draft_survives_because_it_is_in_the_database(chain, people, q, s):
    client = login(people["vp_a"])
    client.post(assignment_url(chain.head, f"sections/{s['your-area'].pk}/"), {"question": q["vm_count"].pk,
                                                                                "value": "12"})
    client.post(assignment_url(chain.head, f"sections/{s['your-area'].pk}/"), {"question": q["runs_vms"].pk,
                                                                                "value": "yes"})

    _, html = page(login(people["vp_a"]), assignment_url(chain.head))  # a new session: the browser was closed

    assert 'name="value" value="yes" id="q{}-yes" checked'.format(q["runs_vms"].pk) in html
    assert '<input type="text" inputmode="decimal" class="form-control w-auto" name="value" value="12"' in html


def test_answering_yes_shows_the_conditional_questions_re_rendering_the_sections_concerned(chain, people, q, s):
    client = login(people["vp_a"])
    url = assignment_url(chain.head, f"sections/{s['your-area'].pk}/")
    _, before = page(client, url)
    assert 'data-question="runs_vms"' in before and 'data-question="vm_platforms"' not in before

    response = client.post(url, {"question": q["runs_vms"].pk, "value": "yes"})

    html = response.content.decode()
    assert response["HX-Retarget"] == f"#section-{s['your-area'].pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert f'<section id="section-{s["your-area"].pk}" class="card mb-3 q-section" data-section="your-area">' in html
    assert 'data-question="vm_platforms"' in html and 'data-question="data_handled"' in html
    assert "✓ Saved" in html
    # The processes section depends on the same answer: it comes along out of band.
    assert f'<section id="section-{s["processes"].pk}" class="card mb-3 q-section" data-section="processes" ' \
           'hx-swap-oob="true">' in html
    assert 'data-question="creation_process"' in html
    # The VM list section is not Alice's to answer? It is: she holds everything; it appears too.
    assert f'id="section-{s["vms"].pk}"' in html

    response = client.post(url, {"question": q["runs_vms"].pk, "value": "no"})
    assert 'data-question="vm_platforms"' not in response.content.decode()
    assert Answer.objects.get(assignment=chain.head, question=q["runs_vms"]).value == "no"


def test_a_bad_value_is_named_next_to_the_question_and_not_stored(chain, people, q, s):
    client = login(people["vp_a"])

    response = client.post(assignment_url(chain.head, f"sections/{s['your-area'].pk}/"),
                           {"question": q["vm_count"].pk, "value": "about ten"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Not saved: “About how many VMs does your area run?” must be a number such as 12 or 3.5" in html
    assert not Answer.objects.filter(question=q["vm_count"]).exists()


@pytest.mark.parametrize(
    ("section", "key", "value", "shown"),
    [
        ("your-area", "data_handled", ["financial_reporting", "none"],
         "Not saved: “Which kinds of data do your area's VMs handle?” cannot be “None of these” and "
         "“Financial reporting” at once: untick one or the other"),
        ("your-area", "vm_count", "-5", "Not saved: “About how many VMs does your area run?” cannot be negative (-5)"),
        ("processes", "last_review", "2030-01-15",
         "Not saved: “When did your area last review its list of VMs?” cannot be 15 Jan 2030: that is in the future"),
        ("processes", "last_review", "2024-02-31",
         "Not saved: “When did your area last review its list of VMs?” cannot be 2024-02-31: this date does not exist"),
    ],
)
def test_a_contradictory_or_impossible_answer_is_refused_naming_the_question(chain, people, q, s, section, key,
                                                                             value, shown):
    client = login(people["vp_a"])
    client.post(assignment_url(chain.head, f"sections/{s['your-area'].pk}/"), {"question": q["runs_vms"].pk,
                                                                               "value": "yes"})
    before = db_state()

    response = client.post(assignment_url(chain.head, f"sections/{s[section].pk}/"),
                           {"question": q[key].pk, "value": value})

    assert response.status_code == 200
    assert shown in html.unescape(response.content.decode())
    assert db_state() == before


def test_multiple_choice_with_other_saves_the_ticks_and_the_text(chain, people, q, s):
    client = login(people["vp_a"])
    url = assignment_url(chain.head, f"sections/{s['your-area'].pk}/")

    client.post(url, {"question": q["vm_platforms"].pk, "value": ["hyperv", "other"], "other_text": "Parallels"})
    answer = Answer.objects.get(question=q["vm_platforms"])
    assert (answer.value, answer.other_text) == (["hyperv", "other"], "Parallels")

    response = client.post(url, {"question": q["vm_platforms"].pk, "value": ["hyperv"], "other_text": "Parallels"})
    assert "Tick “Other” to keep what you wrote." in response.content.decode()
    answer.refresh_from_db()
    assert (answer.value, answer.other_text) == (["hyperv"], "")


def test_the_first_save_moves_the_status_badge_out_of_band(chain, people, s):
    client = login(people["lead_a1"])
    response = post_grid(client, assignment_url(chain.part, f"vms/{chain_vm_list(chain).pk}/"),
                         [{"id": None, "name": "web01"}])

    assert '<span id="assignment-status" class="badge fs-6 text-bg-primary" data-assignment-status="in_progress" ' \
           'hx-swap-oob="true">In progress</span>' in response.content.decode()


def post_grid(client: Client, url: str, rows: list[dict]):
    """The grid's autosave as the page's script sends it: one JSON body."""
    return client.post(url, json.dumps({"rows": rows}), content_type="application/json")


def chain_vm_list(chain) -> Question:
    return Question.objects.get(section__version=chain.campaign.version, key="vm_list")


@pytest.mark.parametrize("viewer", ["ceo", "lead_a2", "officer", Role.AUDITOR, Role.SECURITY_ADMIN])
def test_nobody_but_the_assignee_and_the_manager_who_delegated_saves_answers_and_a_refusal_changes_nothing(
    chain, people, officer, role_users, viewer
):
    user = people.get(viewer) or (officer if viewer == "officer" else role_users[viewer])
    vm_list = chain_vm_list(chain)
    before = db_state()

    answered = login(user).post(assignment_url(chain.part, f"vms/{vm_list.pk}/"),
                                {"op": "paste", "text": "name\nrogue01\n"})

    assert answered.status_code == 403
    assert db_state() == before


def test_answers_are_read_only_once_submitted(chain, people, q, s):
    DeclaredVMFactory(assignment=chain.part, question=chain_vm_list(chain), name="web01")
    assignment_submit(assignment=chain.part, user=people["lead_a1"])
    before = db_state()

    _, html = page(login(people["lead_a1"]), assignment_url(chain.part))
    response = login(people["lead_a1"]).post(assignment_url(chain.part, f"vms/{chain_vm_list(chain).pk}/"),
                                             {"op": "paste", "text": "name\nweb02\n"})

    assert "Submitted on" in html and "waiting for review by Alice VP" in html
    assert 'data-column="name"' not in html  # no grid: a read-only table
    assert table_rows(read(html).find("table", css_class="vm-readonly"))[0][1:3] == ["Added", "web01"]
    assert "submitted answers are read-only until returned" in response.content.decode()
    assert db_state() == before


# --- the VM list ------------------------------------------------------------------------------------------------


def twenty_rows_with_two_bad_cells() -> str:
    lines = ["VM name\tHostname\tPlatform\tCreated\tPurpose\tStatus\tOwner"]
    for number in range(1, 21):
        platform = "Parallels" if number == 4 else "VirtualBox"
        created = "31/02/2024" if number == 11 else f"2024-02-{number:02d}"
        lines.append(f"lab{number:02d}\t10.9.0.{number}\t{platform}\t{created}\ttest\trunning\tAnn Lead")
    return "\r\n".join(lines) + "\r\n"


def test_pasting_20_rows_with_2_bad_cells_names_both_and_keeps_the_18_good_rows(chain, people):
    vm_list = chain_vm_list(chain)

    response = login(people["lead_a1"]).post(assignment_url(chain.part, f"vms/{vm_list.pk}/"),
                                             {"op": "paste", "text": twenty_rows_with_two_bad_cells()})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>2 problems:</strong>" in html
    assert "<li>row 4, Platform: &#x27;Parallels&#x27; is not one of VMware ESXi, VMware Workstation" in html
    assert "<li>row 11, Created on: &#x27;31/02/2024&#x27; is not a date that exists (February 2024 has 29 days)" in (
        html
    )
    assert "18 rows added. The rows with problems were not added" in html
    assert '<strong data-figure="vm-rows">18</strong>' in html
    names = list(DeclaredVM.objects.filter(assignment=chain.part).order_by("row").values_list("name", flat=True))
    assert names == [f"lab{n:02d}" for n in range(1, 21) if n not in (4, 11)]
    assert 'value="lab20"' in html  # the grid shows the saved rows
    assert "lab04\t10.9.0.4\tParallels" in html  # the pasted text stays in the box, to fix and add again

    fixed = twenty_rows_with_two_bad_cells().replace("Parallels", "VirtualBox").replace("31/02/2024", "2024-02-11")
    response = login(people["lead_a1"]).post(assignment_url(chain.part, f"vms/{vm_list.pk}/"),
                                             {"op": "paste", "text": fixed})
    assert "2 rows added, 18 unchanged." in response.content.decode()
    assert DeclaredVM.objects.filter(assignment=chain.part).count() == 20


def test_the_grid_autosaves_good_rows_and_names_bad_cells_for_the_page_to_mark(chain, people):
    vm_list = chain_vm_list(chain)
    url = assignment_url(chain.part, f"vms/{vm_list.pk}/")
    client = login(people["lead_a1"])
    grid = [{"id": None, "name": "web01", "platform": "kvm", "created_on": "2024-05-01"},
            {"id": None, "name": "web02", "created_on": "2999-01-01"},
            {"id": None, "name": ""}]  # a blank row added and not filled

    response = post_grid(client, url, grid)

    html = response.content.decode()
    assert "row 2, Created on: 2999-01-01 is in the future" in html
    assert "1 good row saved (1 in the list)" in html
    assert response["HX-Trigger"] == (
        f'{{"vmProblems": {{"question": {vm_list.pk}, "cells": [{{"row": 2, "column": "created_on", '
        '"message": "2999-01-01 is in the future"}]}}'
    )
    web01 = DeclaredVM.objects.get(assignment=chain.part)
    assert (web01.name, web01.platform, web01.created_on) == ("web01", "kvm", datetime.date(2024, 5, 1))

    grid[0]["id"] = web01.pk
    grid[1]["created_on"] = "2024-06-01"
    response = post_grid(client, url, grid)
    assert "✓ Saved" in response.content.decode()
    assert list(DeclaredVM.objects.order_by("row").values_list("name", "row")) == [("web01", 1), ("web02", 2)]

    del grid[1]  # the row was removed from the grid
    post_grid(client, url, grid)
    assert list(DeclaredVM.objects.values_list("name", flat=True)) == ["web01"]


def test_a_malformed_xlsx_upload_is_refused_with_a_clear_message(chain, people):
    vm_list = chain_vm_list(chain)
    upload = SimpleUploadedFile("vms.xlsx", b"PK\x03\x04 this is not really a workbook",
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    response = login(people["lead_a1"]).post(assignment_url(chain.part, f"vms/{vm_list.pk}/"),
                                             {"op": "upload", "file": upload})

    html = response.content.decode()
    assert response.status_code == 200
    assert "<li>“vms.xlsx” is not an xlsx workbook</li>" in html
    assert "No row added from “vms.xlsx”." in html
    assert not DeclaredVM.objects.exists()


def test_an_upload_of_another_type_is_refused_and_a_csv_is_read(chain, people):
    vm_list = chain_vm_list(chain)
    client = login(people["lead_a1"])
    url = assignment_url(chain.part, f"vms/{vm_list.pk}/")

    refused = client.post(url, {"op": "upload", "file": SimpleUploadedFile("vms.pdf", b"%PDF-1.7")})
    read = client.post(url, {"op": "upload", "file": SimpleUploadedFile(
        "vms.csv", "\ufeffname,address,platform\nfin-db01,10.1.1.1,ESXi\nfin-db02,10.1.1.2,Hyper-V\n".encode())})

    assert "“vms.pdf” is not a .csv or .xlsx file: save the list as CSV UTF-8 or xlsx." in refused.content.decode()
    assert "2 rows added from “vms.csv”." in read.content.decode()
    assert list(DeclaredVM.objects.order_by("row").values_list("name", "platform")) == [
        ("fin-db01", "vmware-esxi"), ("fin-db02", "hyperv"),
    ]


def test_inventory_rows_are_pre_filled_then_confirmed_corrected_or_disowned(chain, people, org):
    cluster = ClusterFactory(name="Lab-Cluster")
    VirtualMachineFactory(name="owned01", owner=org["lead_a1"])
    VirtualMachineFactory(name="mapped01", host=HostFactory(cluster=cluster))
    AreaMappingFactory(person=org["lead_a1"], scope=AreaMapping.Scope.CLUSTER, pattern="lab-")
    vm_list = chain_vm_list(chain)
    client = login(people["lead_a1"])
    url = assignment_url(chain.part, f"vms/{vm_list.pk}/")

    response = client.post(url, {"op": "prefill"})
    assert "Added 2 VMs from inventory: confirm each one, or mark it &#x27;not mine&#x27;." in response.content.decode()
    rows = {row.name: row for row in DeclaredVM.objects.all()}
    assert {row.disposition for row in rows.values()} == {Disposition.PENDING}

    client.post(url, {"op": "disposition", "row_id": rows["owned01"].pk, "disposition": "confirmed"})
    response = client.post(url, {"op": "disposition", "row_id": rows["mapped01"].pk, "disposition": "disowned"})

    assert "mapped01: not yours." in response.content.decode()
    assert dict(DeclaredVM.objects.values_list("name", "disposition")) == {
        "owned01": Disposition.CONFIRMED, "mapped01": Disposition.DISOWNED,
    }
    refused = client.post(url, {"op": "disposition", "row_id": rows["owned01"].pk, "disposition": "added"})
    assert "a VM from inventory is confirmed, corrected or disowned, not added" in refused.content.decode()


def test_an_upload_with_a_quote_never_closed_adds_nothing_and_names_the_line(chain, people):
    vm_list = chain_vm_list(chain)
    client = login(people["lead_a1"])
    content = b'name,address,platform\n"unterminated,10.0.0.1,kvm\nok-vm-2,10.0.0.2,kvm\n'

    response = client.post(assignment_url(chain.part, f"vms/{vm_list.pk}/"),
                           {"op": "upload", "file": SimpleUploadedFile("vms.csv", content)})

    html = response.content.decode()
    assert "No row added from “vms.csv”." in html
    assert "<li>“vms.csv” a quote opened on line 2 is never closed: close it (or remove it); nothing was read" in html
    assert not DeclaredVM.objects.exists()


def test_all_rows_still_to_check_are_confirmed_with_one_button(chain, people, org):
    for number in range(3):
        VirtualMachineFactory(name=f"owned{number}", owner=org["lead_a1"])
    vm_list = chain_vm_list(chain)
    client = login(people["lead_a1"])
    url = assignment_url(chain.part, f"vms/{vm_list.pk}/")
    html = client.post(url, {"op": "prefill"}).content.decode()
    first = DeclaredVM.objects.get(name="owned0")
    client.post(url, {"op": "disposition", "row_id": first.pk, "disposition": "disowned"})

    html = client.get(url).content.decode()
    assert "Add the VMs that inventory already attributes to my area" in html
    assert 'hx-confirm="Confirm all 2 rows still to check' in html and "Confirm all rows still to check" in html
    # The headings are the labels people read; a pre-filled row's buttons come before its name.
    headings = [th.text() for th in read(html).find("table", css_class="vm-grid").find("thead").find_all("th")]
    assert headings[1:3] == ["From inventory", "Name *"]
    assert "Data handled" in headings and "financial_reporting" not in html
    row = html[html.index('class="vm-prefilled"'):]
    assert row.index('"disposition": "confirmed"') < row.index('data-column="name"')

    response = client.post(url, {"op": "bulk", "disposition": "confirmed"})

    assert "2 rows confirmed." in response.content.decode()
    assert dict(DeclaredVM.objects.values_list("name", "disposition")) == {
        "owned0": Disposition.DISOWNED, "owned1": Disposition.CONFIRMED, "owned2": Disposition.CONFIRMED,
    }
    assert "Confirm all rows still to check" not in response.content.decode()
    again = client.post(url, {"op": "bulk", "disposition": "confirmed"})
    assert "No row from inventory is still to check." in again.content.decode()
    other = login(people["ceo"]).post(url, {"op": "bulk", "disposition": "disowned"})
    assert other.status_code == 403


def test_pre_filling_with_nothing_new_says_so_in_plain_english(chain, people, org):
    vm_list = chain_vm_list(chain)
    client = login(people["lead_a1"])

    response = client.post(assignment_url(chain.part, f"vms/{vm_list.pk}/"), {"op": "prefill"})

    assert "Inventory has no other VM attributed to your area." in response.content.decode()


# --- delegating, submitting, reviewing ------------------------------------------------------------------------------


def test_a_manager_delegates_named_sections_to_a_direct_report(chain, people, org, s):
    client = login(people["vp_a"])

    response = client.post(assignment_url(chain.head, "delegate/"),
                           {"person": org["lead_a2"].pk, "sections": [s["processes"].pk, s["comments"].pk]})

    assert messages_of(response) == ["“How your area manages VMs”, “Anything else” delegated to Abe Lead."]
    child = Assignment.objects.get(person=org["lead_a2"])
    assert child.parent == chain.head
    assert set(child.sections.values_list("key", flat=True)) == {"processes", "comments"}
    _, html = page(client, assignment_url(chain.head))
    assert 'data-part="lead.a2@example.com"' in html and "How your area manages VMs, Anything else" in html


def test_delegating_outside_the_direct_reports_is_refused_with_the_reason(chain, people, org):
    before = db_state()

    response = login(people["vp_a"]).post(assignment_url(chain.head, "delegate/"), {"person": org["lead_b1"].pk})
    nobody = login(people["vp_a"]).post(assignment_url(chain.head, "delegate/"), {"person": "x"})

    assert messages_of(response) == [
        "Ben Lead is not a direct report of Alice VP; a part can be delegated only to a direct report."
    ]
    assert messages_of(nobody) == ["Choose the direct report to delegate to."]
    assert login(people["lead_a1"]).post(assignment_url(chain.head, "delegate/"),
                                         {"person": org["lead_a2"].pk}).status_code == 403
    assert db_state() == before


def test_a_refused_submission_lists_every_problem_and_changes_nothing(chain, people):
    before = db_state()

    response = login(people["vp_a"]).post(assignment_url(chain.head, "submit/"))

    html = response.content.decode()
    assert response.status_code == 200
    runs_vms = Question.objects.get(section__version=chain.campaign.version, key="runs_vms")
    assert "Not submitted yet: 2 things to finish first." in html
    assert (f'<li><a class="alert-link" href="#q-{runs_vms.pk}">Does your area run any virtual machines?</a>: '
            "needs an answer</li>") in html
    assert (f'<li><a class="alert-link" href="/questionnaires/assignments/{chain.part.pk}/">Ann Lead&#x27;s part</a>: '
            "not started: wait for them to answer and submit it, or answer it for them</li>") in html
    assert db_state() == before


def test_a_refused_submission_says_a_returned_part_is_with_its_assignee_not_to_accept(chain, people):
    DeclaredVMFactory(assignment=chain.part, question=chain_vm_list(chain), name="web01")
    assignment_submit(assignment=chain.part, user=people["lead_a1"])
    login(people["vp_a"]).post(assignment_url(chain.part, "review/"), {"decision": "return", "comment": "Owner?"})

    html = login(people["vp_a"]).post(assignment_url(chain.head, "submit/")).content.decode()

    assert ("Ann Lead&#x27;s part</a>: returned to them for corrections: wait for them to submit it again, "
            "or answer it for them</li>") in html
    assert "accept it" not in html[html.index("data-submit-problems"):]


def test_return_requires_a_comment_and_the_assignee_sees_it_prominently(chain, people):
    DeclaredVMFactory(assignment=chain.part, question=chain_vm_list(chain), name="web01")
    submitted = login(people["lead_a1"]).post(assignment_url(chain.part, "submit/"))
    assert messages_of(submitted) == ["Submitted: Alice VP reviews it now."]
    before = db_state()
    manager = login(people["vp_a"])

    response = manager.post(assignment_url(chain.part, "review/"), {"decision": "return", "comment": "  "})
    assert messages_of(response) == ["Say why you return it: the comment is what Ann Lead will read."]
    assert db_state() == before

    response = manager.post(assignment_url(chain.part, "review/"), {
        "decision": "return", "comment": "web01 has no owner: who runs it?",
        "next": assignment_url(chain.head) + "#parts",
    })
    assert response["Location"] == assignment_url(chain.head) + "#parts"
    chain.part.refresh_from_db()
    assert chain.part.status == AssignmentStatus.RETURNED

    _, html = page(login(people["lead_a1"]), assignment_url(chain.part))
    assert 'role="alert" data-review-comment>' in html
    assert '<p class="fs-5 mb-2 review-comment">web01 has no owner: who runs it?</p>' in html
    assert "Correct your answers below and submit again." in html
    assert 'data-column="name"' in html  # editable again


def test_only_the_reviewer_accepts_and_the_manager_answers_for_a_part_with_a_reason(chain, people, officer, org):
    DeclaredVMFactory(assignment=chain.part, question=chain_vm_list(chain), name="web01")
    assignment_submit(assignment=chain.part, user=people["lead_a1"])
    before = db_state()
    assert login(people["ceo"]).post(assignment_url(chain.part, "review/"), {"decision": "accept"}).status_code == 403
    assert login(officer).post(assignment_url(chain.part, "review/"), {"decision": "accept"}).status_code == 403
    assert db_state() == before

    response = login(people["vp_a"]).post(assignment_url(chain.part, "review/"), {"decision": "accept"})
    assert messages_of(response) == ["Ann Lead's part is accepted."]

    other = assignment_delegate(assignment=chain.head, to_person=org["lead_a2"], user=people["vp_a"])
    manager = login(people["vp_a"])
    before = db_state()
    response = manager.post(assignment_url(other, "answer-for/"), {"reason": ""})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Give the reason you answer this part yourself; it goes in the audit trail." in html
    assert "Not answered yet: 1 answer to give first." in html
    assert "<li>“Does your area run any virtual machines?” needs an answer</li>" in html
    assert db_state() == before


# --- my questionnaires and the inbox ------------------------------------------------------------------------------


def test_my_questionnaires_lists_my_parts_and_what_waits_for_my_review(chain, people):
    DeclaredVMFactory(assignment=chain.part, question=chain_vm_list(chain), name="web01")
    assignment_submit(assignment=chain.part, user=people["lead_a1"])

    _, mine = page(login(people["lead_a1"]), "/questionnaires/")
    _, manager = page(login(people["vp_a"]), "/questionnaires/")

    assert f'<tr data-assignment="{chain.part.pk}">' in mine
    assert '<span class="badge text-bg-info" data-status="submitted">Submitted' in mine
    assert "Nothing waits for your review." in mine
    assert '<tr data-review="lead.a1@example.com">' in manager
    assert '<span class="badge text-bg-info align-middle" data-figure="to_review">1</span>' in manager


def test_the_inbox_lists_notifications_and_the_navbar_counts_the_unread(chain, people):
    client = login(people["vp_a"])

    _, html = page(client, "/inbox/")
    assert "VM census 2027: your questionnaire is due" in html
    assert f'href="/questionnaires/assignments/{chain.head.pk}/"' in html
    assert 'title="Unread messages">1</span>' in html

    client.post("/inbox/", {"all": "1"})
    _, html = page(client, "/questionnaires/")
    assert 'title="Unread messages"' not in html and 'data-figure="inbox">Inbox</a>' in html
    assert Notification.objects.get(person=chain.head.person).read_at is not None
    # Marking read only ever touches one's own messages.
    assert Notification.objects.get(person=chain.part.person).read_at is None


# --- exports ----------------------------------------------------------------------------------------------------


@pytest.fixture
def answered(chain, people, q):
    vm_list = chain_vm_list(chain)
    DeclaredVMFactory(assignment=chain.part, question=vm_list, row=1, name="web01", address="10.0.0.1",
                      data_categories=["ephi"])
    DeclaredVMFactory(assignment=chain.part, question=vm_list, row=2, name=HYPERLINK, owner="+cmd|' /C calc'!A0")
    answer_save(assignment=chain.head, question=q["runs_vms"], raw="yes", user=people["vp_a"])
    answer_save(assignment=chain.head, question=q["comments"], raw="=1+1 is not a comment", user=people["vp_a"])
    answer_save(assignment=chain.head, question=q["vm_platforms"], raw=["kvm", "other"], other_text="@SUM(A1)",
                user=people["vp_a"])
    return chain


def test_the_csv_exports_hold_labels_with_their_codes_and_formulas_neutralised(answered, officer):
    client = login(officer)
    url = f"/questionnaires/campaigns/{answered.campaign.pk}/export"

    vms = client.get(f"{url}/vms.csv")
    answers = client.get(f"{url}/answers.csv")

    assert vms["Content-Type"] == "text/csv; charset=utf-8"
    assert vms["Content-Disposition"].startswith('attachment; filename="VM-census-2027-')
    rows = list(csv.DictReader(io.StringIO(b"".join(vms.streaming_content).decode("utf-8-sig"))))
    assert [row["Name"] for row in rows] == ["web01", "'" + HYPERLINK]
    assert (rows[0]["Assignee"], rows[0]["Assignee e-mail"], rows[0]["Host name or IP"]) == (
        "Ann Lead", "lead.a1@example.com", "10.0.0.1")
    assert (rows[0]["Assignment status"], rows[0]["Assignment status (code)"]) == ("Not started", "not_started")
    assert rows[0]["Question"] == "Which VMs does your area run?"
    assert rows[1]["Owner"] == "'+cmd|' /C calc'!A0"
    assert (rows[0]["Data handled"], rows[0]["Data handled (code)"]) == (
        "Electronic protected health information (ePHI)", "ephi")
    rows = list(csv.DictReader(io.StringIO(b"".join(answers.streaming_content).decode("utf-8-sig"))))
    by_key = {row["Question key"]: row for row in rows}
    assert (by_key["runs_vms"]["Answer"], by_key["runs_vms"]["Answer (code)"]) == ("Yes", "yes")
    assert by_key["comments"]["Answer"] == "'=1+1 is not a comment"
    assert (by_key["vm_platforms"]["Answer"], by_key["vm_platforms"]["Answer (code)"],
            by_key["vm_platforms"]["Other"]) == ("KVM (including Proxmox, oVirt, libvirt); Other", "kvm; other",
                                                 "'@SUM(A1)")
    exported = AuditEvent.objects.filter(action="campaign.exported", object_id=str(answered.campaign.pk))
    assert list(exported.order_by("sequence").values_list("actor", "details")) == [
        (officer.pk, {"export": "vms.csv"}), (officer.pk, {"export": "answers.csv"}),
    ]


def test_the_xlsx_export_has_an_about_sheet_labels_typed_cells_and_no_visible_apostrophe(answered, officer, people,
                                                                                          q):
    answer_save(assignment=answered.head, question=q["last_review"], raw="2026-03-31", user=people["vp_a"])
    answer_save(assignment=answered.head, question=q["vm_count"], raw="12", user=people["vp_a"])
    officer.first_name, officer.last_name = "Olive", "Officer"
    officer.save()

    response = login(officer).get(f"/questionnaires/campaigns/{answered.campaign.pk}/export/answers.xlsx")

    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["About", "VMs", "Answers", "Codes"]
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert about["Export"] == "Answers and declared VMs of VM census 2027"
    assert about["Campaign"].startswith("VM census 2027 (active, due ")
    assert (about["By"], about["Rows (VMs)"], about["Rows (Answers)"]) == ("Olive Officer (officer)", 2, 5)
    assert about["Filters"] == "none: everything you may read"
    assert isinstance(about["Made"], datetime.datetime)
    sheet = workbook["VMs"]
    last_column = sheet.cell(row=1, column=sheet.max_column).column_letter
    assert (sheet.freeze_panes, sheet.auto_filter.ref) == ("A2", f"A1:{last_column}3")  # the header and both VMs
    assert sheet.cell(row=1, column=sheet.max_column).value  # the filter ends at the last named column
    assert sheet.column_dimensions["A"].width == 20
    header, *vms = list(sheet.iter_rows(values_only=True))
    assert [row[header.index("Name")] for row in vms] == ["web01", HYPERLINK]  # typed as text: no apostrophe
    formula_like = sheet.cell(row=3, column=header.index("Name") + 1)
    assert formula_like.data_type == "s"
    assert vms[0][header.index("Data handled")] == "Electronic protected health information (ePHI)"
    header, *answers = list(workbook["Answers"].iter_rows(values_only=True))
    by_key = {row[header.index("Question key")]: row for row in answers}
    assert by_key["comments"][header.index("Answer")] == "=1+1 is not a comment"
    assert by_key["last_review"][header.index("Answer")] == datetime.datetime(2026, 3, 31)
    assert by_key["vm_count"][header.index("Answer")] == 12
    codes = list(workbook["Codes"].iter_rows(values_only=True))
    assert ("VMs: Platform", "vmware-esxi", "VMware ESXi / vSphere") in codes


def test_a_manager_exports_their_own_subtree_only(answered, people):
    response = login(people["lead_a1"]).get(f"/questionnaires/campaigns/{answered.campaign.pk}/export/answers.csv")

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1:] == []  # Alice's answers are hers; Ann has none
    assert login(people["lead_a2"]).get(
        f"/questionnaires/campaigns/{answered.campaign.pk}/export/vms.csv").status_code == 403


# --- area mappings ------------------------------------------------------------------------------------------------


def test_officers_keep_the_area_mappings_auditors_read_them_managers_do_not(officer, org, people, role_users):
    client = login(officer)

    response = client.post("/inventory/area-mappings/",
                           {"person": "lead.a1@example.com", "scope": "folder", "pattern": " /DC1/vm/Lab "})
    assert messages_of(response) == ["Added: Folder /DC1/vm/Lab → Ann Lead."]
    mapping = AreaMapping.objects.get()
    assert (mapping.person, mapping.scope, mapping.pattern) == (org["lead_a1"], "folder", "/DC1/vm/Lab")
    duplicate = client.post("/inventory/area-mappings/",
                            {"person": "lead.a2@example.com", "scope": "folder", "pattern": "/dc1/VM/lab"})
    assert "Folder /DC1/vm/Lab → Ann Lead exists already" in duplicate.content.decode()

    _, html = page(login(role_users[Role.AUDITOR]), "/inventory/area-mappings/")
    assert '<td class="font-monospace">/DC1/vm/Lab</td>' in html and "Add the mapping" not in html
    before = db_state()
    auditor = login(role_users[Role.AUDITOR])
    assert auditor.post(f"/inventory/area-mappings/{mapping.pk}/delete/").status_code == 403
    assert page(login(people["vp_a"]), "/inventory/area-mappings/")[0].status_code == 403
    assert db_state() == before

    client.post(f"/inventory/area-mappings/{mapping.pk}/delete/")
    assert not AreaMapping.objects.exists()
    events = AuditEvent.objects.filter(action__startswith="area_mapping").order_by("sequence")
    assert list(events.values_list("action", flat=True)) == [
        "area_mapping.created", "area_mapping.deleted",
    ]


# --- queries ----------------------------------------------------------------------------------------------------


def build_org(prefix: str, size: int) -> dict:
    """A head, three middle managers, and ``size - 4`` people spread below them (and below each other)."""
    head = PersonFactory(name=f"{prefix} head", email=f"{prefix}.head@example.com")
    middles = [PersonFactory(email=f"{prefix}.mid{n}@example.com", parent=head) for n in range(3)]
    below = []
    for number in range(size - 4):
        parent = middles[number % 3] if number < 6 else below[number - 6]
        below.append(PersonFactory(email=f"{prefix}.p{number}@example.com", parent=parent))
    middle_user = UserFactory(username=f"{prefix}-mid", role=Role.MANAGER)
    middles[0].user = middle_user
    middles[0].save(update_fields=["user"])
    return {"head": head, "middle": middles[0], "middle_user": middle_user}


def launched_over(size: int, discovery, officer) -> tuple[Campaign, dict]:
    people = build_org(f"org{size}", size)
    campaign = campaign_create(name=f"Census {size}", version=discovery, scope=people["head"], owner=officer,
                               due_date=TODAY() + datetime.timedelta(days=14))
    assert campaign_launch(campaign=campaign, user=officer) == size
    return campaign, people


def count_queries(client: Client, url: str) -> int:
    client.get(url)  # warm the caches (content types, the session)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# The campaign page: session, user, roles, campaign, the tree, the inbox and follow-ups badges, the reconciliation
# items waiting for an answer; and for the officer the heads of the campaign, for a manager their own part (the top
# of their drill-down).
CAMPAIGN_PAGE_QUERIES = 9
# The drill-down fragment: session, user, roles, the assignment (with its campaign), the tree, the parts below.
DRILL_DOWN_QUERIES = 6


def test_the_campaign_page_and_its_drill_down_need_the_same_queries_for_10_or_40_people(discovery, officer):
    officer_client = login(officer)
    counts = {}
    for size in (10, 40):
        campaign, people = launched_over(size, discovery, officer)
        head = Assignment.objects.get(campaign=campaign, person=people["head"])
        middle = Assignment.objects.get(campaign=campaign, person=people["middle"])
        middle_client = login(people["middle_user"])
        counts[size] = (
            count_queries(officer_client, f"/questionnaires/campaigns/{campaign.pk}/"),
            count_queries(middle_client, f"/questionnaires/campaigns/{campaign.pk}/"),
            count_queries(officer_client, f"/questionnaires/assignments/{head.pk}/children/"),
            count_queries(middle_client, f"/questionnaires/assignments/{middle.pk}/children/"),
        )

    assert counts[10] == counts[40]
    # The manager's page also reads their person and their part of the organisation (whose reconciliation items they
    # see), and the fragment their person, to check the branch is in their part of the organisation.
    assert counts[40] == (CAMPAIGN_PAGE_QUERIES, CAMPAIGN_PAGE_QUERIES + 2, DRILL_DOWN_QUERIES, DRILL_DOWN_QUERIES + 1)


def test_the_assignment_page_needs_the_same_queries_for_2_or_30_vms_and_parts(chain, people, org):
    client = login(people["vp_a"])
    vm_list = chain_vm_list(chain)
    DeclaredVMFactory.create_batch(2, assignment=chain.head, question=vm_list)
    few = count_queries(client, assignment_url(chain.head))

    DeclaredVMFactory.create_batch(28, assignment=chain.head, question=vm_list)
    for number in range(5):
        report = PersonFactory(parent=org["vp_a"], email=f"report{number}@example.com")
        assignment_delegate(assignment=chain.head, to_person=report, user=people["vp_a"])

    assert count_queries(client, assignment_url(chain.head)) == few


def test_answering_for_a_report_opens_their_form_to_the_manager_and_says_what_it_covers(chain, people, org, q, s):
    other = assignment_delegate(assignment=chain.head, to_person=org["lead_a2"], user=people["vp_a"])
    below = assignment_delegate(assignment=other, to_person=PersonFactory(
        name="Zed Report", email="zed@example.com", parent=org["lead_a2"]), user=people["lead_a2"])
    manager = login(people["vp_a"])

    _, head_html = page(manager, assignment_url(chain.head))
    assert f'href="/questionnaires/assignments/{other.pk}/#answer-for">Answer it for them</a>' in head_html

    _, html = page(manager, assignment_url(other))
    assert "You can answer this part for Abe Lead" in html
    assert f'name="question" value="{q["runs_vms"].pk}"' in html  # the form is open to the manager
    assert "This also closes the 1 part delegated below it" in html and "<li>Zed Report · not started</li>" in html
    assert "Mark answered by me (and the 1 part below)" in html

    saved = manager.post(assignment_url(other, f"sections/{s['your-area'].pk}/"),
                         {"question": q["runs_vms"].pk, "value": "no"})
    assert saved.status_code == 200
    response = manager.post(assignment_url(other, "answer-for/"), {"reason": "Abe is on leave."})
    assert messages_of(response) == ["Abe Lead's part is answered by you and accepted."]

    _, html = page(manager, assignment_url(other))
    assert "Answered for Abe Lead by vp_a: Abe is on leave." in html
    assert '<div class="answer" data-answer="runs_vms">\n    No' in html
    below.refresh_from_db()
    assert (below.status, below.answered_by_manager_reason) == (AssignmentStatus.ACCEPTED, "Abe is on leave.")
    trail = AuditEvent.objects.filter(action="assignment.answered_for").values_list("object_id", flat=True)
    assert sorted(trail) == sorted([str(other.pk), str(below.pk)])


def test_a_closed_campaign_shows_closed_in_my_questionnaires_with_no_overdue_date_or_continue(chain, people, officer):
    campaign_close(campaign=chain.campaign, user=officer)
    Campaign.objects.filter(pk=chain.campaign.pk).update(due_date=TODAY() - datetime.timedelta(days=3))

    _, html = page(login(people["lead_a1"]), "/questionnaires/")

    row = html[html.index(f'<tr data-assignment="{chain.part.pk}"'):]
    row = row[:row.index("</tr>")]
    assert '<span class="badge text-bg-dark" data-status="closed">Closed</span>' in row
    assert "closed while not started" in row
    assert "In progress" not in row and "Not started</span>" not in row
    assert "text-danger" not in row
    assert ">Continue<" not in row and ">Start<" not in row and ">Open</a>" in row


def test_a_delegated_section_says_to_whom_and_its_state_not_that_nothing_is_to_answer(chain, people):
    _, html = page(login(people["vp_a"]), assignment_url(chain.head))

    section = html[html.index('data-section="vms"'):]
    section = section[:section.index("</section>")]
    assert "Nothing to answer here" not in section
    assert (f'Delegated to\n      <a href="/questionnaires/assignments/{chain.part.pk}/">Ann Lead</a> '
            '<span class="badge text-bg-secondary">Not started</span>:') in section
    assert "they answer it, and you review what comes back before you submit." in section


def test_each_answer_save_is_summarised_in_the_audit_trail_and_an_unchanged_save_writes_nothing(chain, people, q, s,
                                                                                              role_users):
    client = login(people["vp_a"])
    url = assignment_url(chain.head, f"sections/{s['your-area'].pk}/")
    client.post(url, {"question": q["runs_vms"].pk, "value": "yes"})
    client.post(url, {"question": q["runs_vms"].pk, "value": "yes"})
    client.post(url, {"question": q["runs_vms"].pk, "value": "no"})

    saved = AuditEvent.objects.filter(action="answer.saved").order_by("sequence")
    assert [(event.actor, event.details) for event in saved] == [
        (people["vp_a"], {"question": "runs_vms", "from": None, "to": "yes"}),
        (people["vp_a"], {"question": "runs_vms", "from": "yes", "to": "no"}),
    ]
    trail = login(role_users[Role.AUDITOR]).get("/audit/", {"action": "answer."}).content.decode()
    assert "2 events." in trail and "VM census 2027: Alice VP" in trail


def test_answering_for_a_part_already_accepted_says_so_and_changes_nothing(chain, people):
    DeclaredVMFactory(assignment=chain.part, question=chain_vm_list(chain), name="web01")
    assignment_submit(assignment=chain.part, user=people["lead_a1"])
    manager = login(people["vp_a"])
    manager.post(assignment_url(chain.part, "review/"), {"decision": "accept"})
    before = db_state()

    response = manager.post(assignment_url(chain.part, "answer-for/"), {"reason": "Because."})

    assert messages_of(response) == ["Ann Lead's part is already accepted."]
    assert db_state() == before
