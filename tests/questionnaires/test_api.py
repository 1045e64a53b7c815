"""The questionnaires API under /api/v1/: templates, campaigns, assignments down the chain, answers and declared
VMs, with the permissions of the pages. Managers read their own and their subtree's assignments, never a sibling
branch; oversight roles read everything; auditors change nothing; every refused request leaves the database as
it was; lists cost the same queries for 3 rows as for 30."""

import datetime
import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.choices import Role
from portal.models import AuditEvent, Notification
from questionnaires.choices import AssignmentStatus, CampaignStatus, QuestionKind
from questionnaires.models import Answer, Assignment, Campaign, DeclaredVM, Question
from questionnaires.services.assignments import assignment_review
from questionnaires.services.campaigns import campaign_launch
from tests.factories import PersonFactory, UserFactory
from tests.questionnaires.factories import submit_answered

TEMPLATES_URL = "/api/v1/questionnaire-templates/"
CAMPAIGNS_URL = "/api/v1/campaigns/"
ASSIGNMENTS_URL = "/api/v1/assignments/"
TODAY = timezone.localdate


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, data=None):
    return client.post(url, data if data is not None else {}, content_type="application/json")


def _put(client: Client, url: str, data):
    return client.put(url, data, content_type="application/json")


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def db_state() -> dict:
    """Everything the API may write, to assert that a refusal wrote nothing."""
    return {
        "campaigns": list(Campaign.objects.order_by("id").values()),
        "assignments": list(Assignment.objects.order_by("id").values()),
        "sections": list(Assignment.sections.through.objects.order_by("id").values()),
        "answers": list(Answer.objects.order_by("id").values()),
        "declared": list(DeclaredVM.objects.order_by("id").values()),
        "notifications": list(Notification.objects.order_by("id").values_list("dedupe_key", flat=True)),
        "audit": list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True)),
    }


@pytest.fixture
def people(logins) -> dict[str, object]:
    """The logins of ``org``'s people, each with the manager role (the API needs a role)."""
    group, _ = Group.objects.get_or_create(name=Role.MANAGER)
    for user in logins.values():
        user.groups.add(group)
    return logins


@pytest.fixture
def launched(make_campaign, officer, org, people):
    """A cascading campaign over ``org``, launched: (campaign, {org key: assignment})."""
    campaign = make_campaign()
    campaign_launch(campaign=campaign, user=officer)
    campaign.refresh_from_db()
    by_person = {assignment.person_id: assignment for assignment in campaign.assignments.all()}
    return campaign, {key: by_person[person.pk] for key, person in org.items()}


@pytest.fixture
def top_down(make_campaign, officer, org, people):
    """A campaign that does not cascade: only the CEO is assigned. (campaign, the CEO's assignment)."""
    campaign = make_campaign(name="Top down", cascade=False)
    campaign_launch(campaign=campaign, user=officer)
    return campaign, Assignment.objects.get(campaign=campaign)


def _url(assignment: Assignment, action: str = "") -> str:
    return f"{ASSIGNMENTS_URL}{assignment.pk}/" + (f"{action}/" if action else "")


# --- templates --------------------------------------------------------------------------------------------------


def test_templates_with_versions_sections_and_questions_for_every_role(template_version, client_for):
    runs_vms = Question.objects.get(key="runs_vms")
    Question.objects.filter(key="vms").update(show_if_question=runs_vms, show_if_value="yes")

    for role in Role:
        body = client_for(role).get(TEMPLATES_URL).json()

        assert body["count"] == 1
        assert body["results"][0] == {
            "id": template_version.template_id, "slug": "vm-discovery-test", "name": "VM discovery (test)",
            "description": "",
            "versions": [{
                "id": template_version.pk, "number": 1, "created_at": _iso(template_version.created_at), "notes": "",
                "content_hash": "",
                "sections": [
                    {"key": "area", "order": 1, "title": "Your area", "description": "", "questions": [
                        {"key": "runs_vms", "order": 1, "text": "Does your area run VMs?", "help_text": "",
                         "kind": "yes_no", "required": True, "choices": [], "allow_other": False, "show_if": None},
                        {"key": "vms", "order": 2, "text": "Your VMs", "help_text": "", "kind": "vm_list",
                         "required": False, "choices": [], "allow_other": False,
                         "show_if": {"question": "runs_vms", "value": "yes"}},
                    ]},
                    {"key": "processes", "order": 2, "title": "Processes", "description": "", "questions": [
                        {"key": "patching", "order": 1, "text": "How are VMs patched?", "help_text": "",
                         "kind": "long_text", "required": False, "choices": [], "allow_other": False,
                         "show_if": None},
                    ]},
                ],
            }],
        }


def test_templates_are_read_only_and_closed_without_a_role(template_version, client, client_for):
    assert client.get(TEMPLATES_URL).status_code in (401, 403)
    assert client_for("none").get(TEMPLATES_URL).status_code == 403
    for role in Role:
        assert _post(client_for(role), TEMPLATES_URL, {"slug": "new", "name": "New"}).status_code == 403


# --- campaigns --------------------------------------------------------------------------------------------------


def test_an_officer_creates_and_launches_a_campaign(template_version, officer, org):
    client = _client(officer)
    due = TODAY() + datetime.timedelta(days=21)

    created = _post(client, CAMPAIGNS_URL, {
        "name": "VM census 2028", "version": template_version.pk, "scope": org["vp_a"].pk,
        "due_date": due.isoformat(), "reminder_every_days": 5,
    })

    assert created.status_code == 201, created.content
    campaign = Campaign.objects.get()
    assert created.json() == {
        "id": campaign.pk, "name": "VM census 2028", "template": "vm-discovery-test", "version": template_version.pk,
        "version_number": 1, "scope": org["vp_a"].pk, "scope_name": "Alice VP", "owner": "officer",
        "status": "draft", "due_date": due.isoformat(), "reminder_every_days": 5, "escalate_after_days": 3,
        "cascade": True, "created_at": _iso(campaign.created_at), "launched_at": None, "closed_at": None,
    }
    assert not Assignment.objects.exists()

    launched = _post(client, f"{CAMPAIGNS_URL}{campaign.pk}/launch/")

    assert launched.status_code == 200, launched.content
    campaign.refresh_from_db()
    assert (launched.json()["status"], launched.json()["launched_at"]) == ("active", _iso(campaign.launched_at))
    assert sorted(Assignment.objects.values_list("person__name", flat=True)) == ["Abe Lead", "Alice VP", "Ann Lead"]
    assert list(AuditEvent.objects.order_by("sequence").values_list("action", "actor")) == [
        ("campaign.created", officer.pk), ("campaign.launched", officer.pk),
    ]
    again = _post(client, f"{CAMPAIGNS_URL}{campaign.pk}/launch/")
    assert again.status_code == 400
    assert again.json() == {
        "non_field_errors": ["The campaign “VM census 2028” is active; only a draft can be launched."]
    }


def test_campaign_create_names_every_bad_field_and_creates_nothing(template_version, officer, org):
    org["vp_b"].active = False
    org["vp_b"].save()

    response = _post(_client(officer), CAMPAIGNS_URL, {
        "name": "Late", "version": template_version.pk, "scope": org["vp_b"].pk, "due_date": TODAY().isoformat(),
        "escalate_after_days": 0,
    })
    missing = _post(_client(officer), CAMPAIGNS_URL, {"name": "", "version": 999999, "due_date": "soon"})

    assert response.status_code == 400
    assert set(response.json()) == {"due_date", "scope", "escalate_after_days"}
    assert "is not in the future" in response.json()["due_date"][0]
    assert missing.status_code == 400
    assert set(missing.json()) == {"name", "version", "scope", "due_date"}
    assert not Campaign.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SECURITY_ADMIN, Role.AUDITOR])
def test_only_officers_and_admins_create_campaigns(template_version, org, client_for, role):
    before = db_state()

    response = _post(client_for(role), CAMPAIGNS_URL, {
        "name": "Mine", "version": template_version.pk, "scope": org["ceo"].pk,
        "due_date": (TODAY() + datetime.timedelta(days=9)).isoformat(),
    })

    assert response.status_code == 403
    assert db_state() == before


def test_an_admin_creates_a_campaign(template_version, org, client_for):
    response = _post(client_for(Role.ADMIN), CAMPAIGNS_URL, {
        "name": "Admin's", "version": template_version.pk, "scope": org["ceo"].pk,
        "due_date": (TODAY() + datetime.timedelta(days=9)).isoformat(), "cascade": False,
    })

    assert response.status_code == 201
    assert (response.json()["owner"], response.json()["cascade"]) == ("admin", False)


def test_campaigns_listed_by_role(launched, make_campaign, officer, people, client_for):
    campaign, _ = launched
    other_scope = PersonFactory(name="Elsewhere", email="elsewhere@example.com")
    draft = make_campaign(name="Elsewhere 2027", scope=other_scope)

    for role in (Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMIN):
        assert [row["id"] for row in _results(client_for(role).get(CAMPAIGNS_URL))] == [draft.pk, campaign.pk]
    assert [row["id"] for row in _results(_client(people["lead_b1"]).get(CAMPAIGNS_URL))] == [campaign.pk]
    assert _results(client_for(Role.MANAGER).get(CAMPAIGNS_URL)) == []  # a login that is nobody in the org
    assert _client(people["lead_b1"]).get(f"{CAMPAIGNS_URL}{draft.pk}/").status_code == 404
    filtered = client_for(Role.AUDITOR).get(CAMPAIGNS_URL, {"status": "draft"})
    assert [row["id"] for row in _results(filtered)] == [draft.pk]


def test_close_and_reopen_by_the_owner_only(launched, officer, client_for):
    campaign, _ = launched
    other_officer = client_for(Role.COMPLIANCE_OFFICER)
    before = db_state()

    refused = _post(other_officer, f"{CAMPAIGNS_URL}{campaign.pk}/close/")

    assert refused.status_code == 403
    assert refused.json() == {"detail": "Only the campaign's owner (officer) or an admin can close it."}
    assert db_state() == before

    closed = _post(_client(officer), f"{CAMPAIGNS_URL}{campaign.pk}/close/")
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")
    new_due = TODAY() + datetime.timedelta(days=30)
    reopened = _post(_client(officer), f"{CAMPAIGNS_URL}{campaign.pk}/reopen/", {"due_date": new_due.isoformat()})
    assert reopened.status_code == 200, reopened.content
    assert (reopened.json()["status"], reopened.json()["due_date"]) == ("active", new_due.isoformat())
    campaign.refresh_from_db()
    assert (campaign.status, campaign.due_date, campaign.closed_at) == (CampaignStatus.ACTIVE, new_due, None)


def _counts(**values) -> dict:
    counts = {"not_started": 0, "in_progress": 0, "submitted": 0, "returned": 0, "accepted": 0, "overdue": 0}
    counts.update(values)
    counts["percent_accepted"] = round(100 * counts["accepted"] / counts["total"]) if counts["total"] else 0
    return counts


def test_progress_for_the_campaign_and_for_a_managers_subtree(launched, officer, org, people, client_for):
    campaign, parts = launched
    submit_answered(parts["lead_a1"], people["lead_a1"])
    assignment_review(assignment=parts["lead_a1"], user=people["vp_a"], accept=True)
    url = f"{CAMPAIGNS_URL}{campaign.pk}/progress/"

    whole = client_for(Role.AUDITOR).get(url)
    of_vp_a = client_for(Role.AUDITOR).get(url, {"person": org["vp_a"].pk})
    own = _client(people["vp_a"]).get(url)
    below = _client(people["vp_a"]).get(url, {"person": org["lead_a1"].pk})
    sibling = _client(people["vp_a"]).get(url, {"person": org["lead_b1"].pk})
    unknown = _client(officer).get(url, {"person": 999999})

    assert whole.json() == {"person": None, **_counts(not_started=5, accepted=1, total=6)}
    assert of_vp_a.json() == {"person": org["vp_a"].pk, **_counts(not_started=2, accepted=1, total=3)}
    assert own.json() == {"person": org["vp_a"].pk, **_counts(not_started=2, accepted=1, total=3)}
    assert below.json() == {"person": org["lead_a1"].pk, **_counts(accepted=1, total=1)}
    assert sibling.status_code == 403
    assert sibling.json() == {"detail": "Ben Lead is not in your part of the organisation."}
    assert unknown.status_code == 400
    assert list(unknown.json()) == ["person"]


# --- assignments: who sees what ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "visible"),
    [
        ("ceo", ["Abe Lead", "Alice VP", "Ann Lead", "Ben Lead", "Bob VP", "Carol CEO"]),
        ("vp_a", ["Abe Lead", "Alice VP", "Ann Lead"]),
        ("vp_b", ["Ben Lead", "Bob VP"]),
        ("lead_a1", ["Ann Lead"]),
    ],
)
def test_a_manager_sees_their_own_and_their_subtrees_assignments_only(launched, people, key, visible):
    rows = _results(_client(people[key]).get(ASSIGNMENTS_URL))

    assert [row["person_name"] for row in rows] == visible


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMIN])
def test_oversight_roles_see_every_assignment(launched, client_for, role):
    assert len(_results(client_for(role).get(ASSIGNMENTS_URL))) == 6


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SECURITY_ADMIN])
def test_a_login_that_is_nobody_in_the_org_sees_no_assignment(launched, client_for, role):
    assert _results(client_for(role).get(ASSIGNMENTS_URL)) == []


def test_an_assignment_in_full(launched, org):
    campaign, parts = launched
    part = parts["lead_a1"]

    body = _client(org["vp_a"].user).get(_url(part)).json()

    assert body == {
        "id": part.pk, "campaign": campaign.pk, "campaign_name": "VM census 2027",
        "due_date": campaign.due_date.isoformat(), "person": org["lead_a1"].pk, "person_name": "Ann Lead",
        "person_email": "lead.a1@example.com", "parent": parts["vp_a"].pk, "parent_person_name": "Alice VP",
        "sections": [], "status": "not_started", "created_at": _iso(part.created_at), "started_at": None,
        "submitted_at": None, "reviewed_at": None, "reviewed_by": None, "review_comment": "",
        "answered_by_manager_reason": "", "escalation_level": 0,
    }


def test_a_sibling_branch_is_not_found(launched, people):
    _, parts = launched
    client = _client(people["vp_a"])

    for action in ("", "answers", "declared-vms"):
        assert client.get(_url(parts["lead_b1"], action)).status_code == 404
        assert client.get(_url(parts["vp_b"], action)).status_code == 404
    assert client.get(_url(parts["ceo"])).status_code == 404  # their manager's part is not theirs to read


def test_assignment_filters(launched, make_campaign, officer, org, client_for):
    campaign, parts = launched
    other = make_campaign(name="Second")
    campaign_launch(campaign=other, user=officer)
    Assignment.objects.filter(pk=parts["vp_b"].pk).update(status=AssignmentStatus.IN_PROGRESS)
    client = client_for(Role.COMPLIANCE_OFFICER)

    def ids(**params) -> set[int]:
        return {row["id"] for row in _results(client.get(ASSIGNMENTS_URL, params))}

    assert len(ids()) == 12
    assert ids(campaign=campaign.pk) == {part.pk for part in parts.values()}
    assert ids(campaign=campaign.pk, status="in_progress") == {parts["vp_b"].pk}
    assert ids(person=org["lead_a1"].pk) == {
        parts["lead_a1"].pk, Assignment.objects.get(campaign=other, person=org["lead_a1"]).pk,
    }
    assert client.get(ASSIGNMENTS_URL, {"status": "lost"}).status_code == 400


# --- assignments: the workflow ----------------------------------------------------------------------------------


def test_delegate_answer_submit_return_and_accept(top_down, org, people):
    _, ceo_part = top_down
    ceo, vp_a = _client(people["ceo"]), _client(people["vp_a"])

    delegated = _post(ceo, _url(ceo_part, "delegate"), {"to_person": org["vp_a"].pk, "sections": ["area"]})

    assert delegated.status_code == 201, delegated.content
    part = Assignment.objects.get(pk=delegated.json()["id"])
    assert (delegated.json()["person_name"], delegated.json()["parent"], delegated.json()["sections"]) == (
        "Alice VP", ceo_part.pk, ["area"],
    )
    not_ready = _post(vp_a, _url(part, "submit"))
    assert not_ready.status_code == 400
    assert not_ready.json() == {"non_field_errors": ["“Does your area run VMs?” needs an answer"]}

    assert _put(vp_a, _url(part, "answers"), {"question": "runs_vms", "value": "yes"}).status_code == 200
    submitted = _post(vp_a, _url(part, "submit"))
    assert (submitted.status_code, submitted.json()["status"]) == (200, "submitted")

    no_comment = _post(ceo, _url(part, "review"), {"decision": "return"})
    assert no_comment.status_code == 400
    assert list(no_comment.json()) == ["comment"]
    returned = _post(ceo, _url(part, "review"), {"decision": "return", "comment": "List the lab VMs too."})
    assert (returned.status_code, returned.json()["status"]) == (200, "returned")
    seen = vp_a.get(_url(part)).json()
    assert (seen["status"], seen["review_comment"], seen["reviewed_by"]) == ("returned", "List the lab VMs too.", "ceo")

    assert _post(vp_a, _url(part, "submit")).status_code == 200
    accepted = _post(ceo, _url(part, "review"), {"decision": "accept", "comment": "Thanks"})
    assert (accepted.status_code, accepted.json()["status"]) == (200, "accepted")
    assert list(AuditEvent.objects.filter(action__startswith="assignment.").values_list("action", flat=True)
                .order_by("sequence")) == [
        "assignment.delegated", "assignment.submitted", "assignment.returned", "assignment.submitted",
        "assignment.accepted",
    ]


def test_delegation_is_refused_outside_the_direct_reports_and_for_unknown_sections(top_down, org, people):
    _, ceo_part = top_down
    ceo = _client(people["ceo"])
    before = db_state()

    not_direct = _post(ceo, _url(ceo_part, "delegate"), {"to_person": org["lead_a1"].pk})
    unknown = _post(ceo, _url(ceo_part, "delegate"), {"to_person": org["vp_a"].pk, "sections": ["nope"]})
    not_assignee = _post(_client(people["vp_a"]), _url(ceo_part, "delegate"), {"to_person": org["vp_a"].pk})

    assert not_direct.status_code == 400
    assert not_direct.json() == {"to_person": [
        "Ann Lead is not a direct report of Carol CEO; a part can be delegated only to a direct report."
    ]}
    assert (unknown.status_code, unknown.json()) == (400, {"sections": ["No section 'nope' in this campaign."]})
    assert not_assignee.status_code == 404  # the CEO's part is above Alice: she cannot even see it
    assert db_state() == before


def test_a_report_cannot_review_their_own_managers_part(launched, officer, people):
    campaign, parts = launched
    vp_a = _client(people["vp_a"])
    for key in ("lead_a1", "lead_a2"):
        assert _put(vp_a, _url(parts[key], "answers"), {"question": "runs_vms", "value": "no"}).status_code == 200
        answered = _post(vp_a, _url(parts[key], "answer-for"), {"reason": "Ann and Abe run no VMs of their own."})
        assert answered.status_code == 200, answered.content
    assert _put(vp_a, _url(parts["vp_a"], "answers"), {"question": "runs_vms", "value": "no"}).status_code == 200
    assert _post(vp_a, _url(parts["vp_a"], "submit")).status_code == 200
    before = db_state()

    by_report = _post(_client(people["lead_a1"]), _url(parts["vp_a"], "review"), {"decision": "accept"})
    by_herself = _post(vp_a, _url(parts["vp_a"], "review"), {"decision": "accept"})
    by_officer = _post(_client(officer), _url(parts["lead_a1"], "review"), {"decision": "accept"})

    assert by_report.status_code == 404  # a report does not even see their manager's part
    assert by_herself.status_code == 403
    assert by_herself.json() == {"detail": "Only ceo can review Alice VP's answers."}
    assert by_officer.status_code == 403
    assert db_state() == before
    by_ceo = _post(_client(people["ceo"]), _url(parts["vp_a"], "review"), {"decision": "accept"})
    assert (by_ceo.status_code, by_ceo.json()["status"]) == (200, "accepted")


def test_submit_names_every_problem_at_once(launched, people):
    _, parts = launched

    response = _post(_client(people["vp_a"]), _url(parts["vp_a"], "submit"))

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [
        "“Does your area run VMs?” needs an answer",
        "Abe Lead's part is not started: wait for them to answer and submit it, or answer it for them, before you "
        "submit.",
        "Ann Lead's part is not started: wait for them to answer and submit it, or answer it for them, before you "
        "submit.",
    ]}
    assert Assignment.objects.get(pk=parts["vp_a"].pk).status == AssignmentStatus.NOT_STARTED


def test_answer_for_needs_a_reason(launched, people):
    _, parts = launched
    before = db_state()

    response = _post(_client(people["vp_a"]), _url(parts["lead_a1"], "answer-for"), {"reason": "  "})

    assert response.status_code == 400
    assert response.json() == {
        "reason": ["Give the reason you answer this part yourself; it goes in the audit trail."],
        "answers": ["“Does your area run VMs?” needs an answer"],
    }
    assert db_state() == before


def test_reassign_by_the_manager_above_and_by_the_owner(launched, officer, org, people):
    _, parts = launched
    newcomer = PersonFactory(name="Nia New", email="nia@example.com", parent=org["vp_a"])
    outsider = PersonFactory(name="Out Sider", email="outsider@example.com")
    _put(_client(people["lead_a1"]), _url(parts["lead_a1"], "answers"), {"question": "runs_vms", "value": "yes"})
    vp_a = _client(people["vp_a"])
    before = db_state()

    taken = _post(vp_a, _url(parts["lead_a1"], "reassign"), {"to_person": org["lead_a2"].pk})
    outside = _post(vp_a, _url(parts["lead_a1"], "reassign"), {"to_person": outsider.pk})
    by_the_assignee = _post(_client(people["lead_a1"]), _url(parts["lead_a1"], "reassign"), {"to_person": newcomer.pk})

    assert (taken.status_code, list(taken.json())) == (400, ["to_person"])
    assert outside.json() == {"to_person": ["Out Sider is not in Alice VP's part of the organisation."]}
    assert by_the_assignee.status_code == 403
    assert db_state() == before

    moved = _post(vp_a, _url(parts["lead_a1"], "reassign"), {"to_person": newcomer.pk})
    assert (moved.status_code, moved.json()["person_name"]) == (200, "Nia New")
    assert Answer.objects.get(assignment=parts["lead_a1"]).value == "yes"  # the answers go with the part
    by_owner = _post(_client(officer), _url(parts["lead_b1"], "reassign"), {"to_person": outsider.pk})
    assert (by_owner.status_code, by_owner.json()["person_name"]) == (200, "Out Sider")


# --- auditors change nothing ------------------------------------------------------------------------------------


def _every_write(campaign, parts, org, template_version) -> list[tuple[str, str, dict | list]]:
    due = (TODAY() + datetime.timedelta(days=9)).isoformat()
    return [
        ("post", CAMPAIGNS_URL, {"name": "x", "version": template_version.pk, "scope": org["ceo"].pk, "due_date": due}),
        ("post", f"{CAMPAIGNS_URL}{campaign.pk}/launch/", {}),
        ("post", f"{CAMPAIGNS_URL}{campaign.pk}/close/", {}),
        ("post", f"{CAMPAIGNS_URL}{campaign.pk}/reopen/", {"due_date": due}),
        ("post", _url(parts["ceo"], "delegate"), {"to_person": org["vp_a"].pk}),
        ("post", _url(parts["vp_a"], "submit"), {}),
        ("post", _url(parts["lead_a1"], "review"), {"decision": "accept"}),
        ("post", _url(parts["lead_a1"], "answer-for"), {"reason": "because"}),
        ("post", _url(parts["lead_a1"], "reassign"), {"to_person": org["lead_b1"].pk}),
        ("put", _url(parts["lead_a1"], "answers"), {"question": "runs_vms", "value": "yes"}),
        ("post", _url(parts["lead_a1"], "answers"), {"question": "runs_vms", "value": "yes"}),
        ("post", _url(parts["lead_a1"], "declared-vms"), [{"name": "vm01"}]),
        ("patch", _url(parts["lead_a1"]), {"status": "accepted"}),
        ("delete", _url(parts["lead_a1"]), {}),
    ]


def test_an_auditor_reads_everything_and_every_write_is_refused(launched, org, template_version, role_users):
    campaign, parts = launched
    Assignment.objects.filter(pk=parts["lead_a1"].pk).update(status=AssignmentStatus.SUBMITTED)
    auditor = _client(role_users[Role.AUDITOR])
    assert len(_results(auditor.get(ASSIGNMENTS_URL))) == 6
    assert auditor.get(_url(parts["lead_b1"], "answers")).status_code == 200
    before = db_state()

    for method, url, data in _every_write(campaign, parts, org, template_version):
        response = getattr(auditor, method)(url, data, content_type="application/json")
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"

    assert db_state() == before


def test_an_auditor_who_is_also_the_assignee_still_changes_nothing(launched, org, template_version):
    campaign, parts = launched
    auditor = UserFactory(username="auditing-ann", role=Role.AUDITOR)
    org["lead_a1"].user = auditor
    org["lead_a1"].save()
    client = _client(auditor)
    before = db_state()

    for method, url, data in _every_write(campaign, parts, org, template_version):
        response = getattr(client, method)(url, data, content_type="application/json")
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"

    assert db_state() == before


# --- answers ----------------------------------------------------------------------------------------------------


def test_the_assignee_saves_answers_and_anyone_who_sees_the_part_reads_them(launched, people):
    _, parts = launched
    part = parts["lead_a1"]
    lead = _client(people["lead_a1"])

    first = _put(lead, _url(part, "answers"), {"question": "runs_vms", "value": " Yes "})
    second = _post(lead, _url(part, "answers"), {"question": "patching", "value": "Monthly, by WSUS."})

    answer = Answer.objects.get(question__key="runs_vms")
    assert first.status_code == 200
    assert first.json() == {
        "question": "runs_vms", "section": "area", "value": "yes", "other_text": "",
        "updated_at": _iso(answer.updated_at),
    }
    assert second.status_code == 200
    assert Assignment.objects.get(pk=part.pk).status == AssignmentStatus.IN_PROGRESS
    listed = _results(_client(people["vp_a"]).get(_url(part, "answers")))
    assert [(row["question"], row["value"]) for row in listed] == [
        ("runs_vms", "yes"), ("patching", "Monthly, by WSUS."),
    ]
    cleared = _put(lead, _url(part, "answers"), {"question": "runs_vms", "value": None})
    assert (cleared.status_code, cleared.json()["value"]) == (200, None)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"question": "runs_vms", "value": "maybe"}, {
            "value": ["“Does your area run VMs?” must be yes or no, not 'maybe'"],
        }),
        ({"question": "runs_vms", "value": ["yes"]}, {
            "value": ["“Does your area run VMs?” must be yes or no, not ['yes']"],
        }),
        ({"question": "vms", "value": "a, b"}, {
            "value": ["“Your VMs” is a VM list: its rows are saved with the list, not as an answer"],
        }),
        ({"question": "colour", "value": "blue"}, {"question": ["'colour' is not a question of this campaign."]}),
        ({"value": "yes"}, {"question": ["This field is required."]}),
        ({"question": "runs_vms", "value": "yes", "other_text": "x" * 501}, {
            "other_text": ["Ensure this field has no more than 500 characters."],
        }),
    ],
)
def test_a_bad_answer_is_a_400_naming_the_field_and_saves_nothing(launched, people, body, errors):
    _, parts = launched
    before = db_state()

    response = _put(_client(people["lead_a1"]), _url(parts["lead_a1"], "answers"), body)

    assert response.status_code == 400
    assert response.json() == errors
    assert db_state() == before


def test_a_question_outside_the_delegated_sections_is_refused(top_down, org, people):
    _, ceo_part = top_down
    delegated = _post(_client(people["ceo"]), _url(ceo_part, "delegate"), {"to_person": org["vp_a"].pk,
                                                                          "sections": ["area"]})
    part = Assignment.objects.get(pk=delegated.json()["id"])
    before = db_state()

    response = _put(_client(people["vp_a"]), _url(part, "answers"), {"question": "patching", "value": "Monthly"})

    assert response.status_code == 400
    assert response.json() == {"question": ["“How are VMs patched?” is in a part not assigned to you"]}
    assert db_state() == before


def test_only_the_assignee_and_the_manager_who_delegated_answer(launched, officer, people):
    _, parts = launched
    before = db_state()

    answer = {"question": "runs_vms", "value": "no"}
    by_manager_above = _put(_client(people["ceo"]), _url(parts["lead_a1"], "answers"), answer)
    by_officer = _put(_client(officer), _url(parts["lead_a1"], "answers"), answer)

    assert (by_manager_above.status_code, by_officer.status_code) == (403, 403)
    assert by_manager_above.json() == {
        "detail": "only the assignee, or the manager who delegated the part, may change these answers"
    }
    assert db_state() == before

    by_delegating_manager = _put(_client(people["vp_a"]), _url(parts["lead_a1"], "answers"), answer)
    assert by_delegating_manager.status_code == 200


def test_submitted_answers_are_read_only(launched, people):
    _, parts = launched
    lead = _client(people["lead_a1"])
    _put(lead, _url(parts["lead_a1"], "answers"), {"question": "runs_vms", "value": "no"})
    assert _post(lead, _url(parts["lead_a1"], "submit")).status_code == 200
    before = db_state()

    response = _put(lead, _url(parts["lead_a1"], "answers"), {"question": "runs_vms", "value": "yes"})

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["submitted answers are read-only until returned"]}
    assert db_state() == before


# --- declared VMs -----------------------------------------------------------------------------------------------


ROWS = [
    {"name": "app01", "platform": "ESXi", "created_on": "2024-03-05", "data_categories": ["ePHI"]},
    {"name": "lab02", "platform": "VMware", "created_on": "3/5/2024"},
    {"address": "10.0.0.9", "purpose": "prod"},
    {"name": "desk03", "platform": "VirtualBox", "status": "on"},
]


def test_bad_cells_are_a_400_naming_each_and_the_good_rows_are_saved(launched, people):
    _, parts = launched
    url = _url(parts["lead_a1"], "declared-vms")

    response = _post(_client(people["lead_a1"]), url, {"rows": ROWS})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "3 problem(s); the 2 good row(s) were saved.",
        "problems": [
            {"row": 2, "column": "created_on", "message": "'3/5/2024' is ambiguous (D/M/YYYY or M/D/YYYY?): write it "
             "as YYYY-MM-DD (2024-03-05), YYYY/MM/DD, D.M.YYYY or 5 Mar 2024"},
            {"row": 2, "column": "platform",
             "message": "'VMware' alone could be ESXi or Workstation: write VMware ESXi or VMware Workstation"},
            {"row": 3, "column": "name", "message": "is required"},
        ],
        "saved": {"created": 2, "updated": 0, "unchanged": 0, "deleted": 0, "total": 2},
    }
    listed = _results(_client(people["vp_a"]).get(url))
    vm = DeclaredVM.objects.get(name="app01")
    assert listed[0] == {
        "id": vm.pk, "question": "vms", "row": 1, "name": "app01", "address": "", "platform": "vmware-esxi",
        "software": "", "location": "", "created_on": "2024-03-05", "created_by": "", "purpose": "",
        "purpose_other": "", "status": "", "owner": "", "data_categories": ["ephi"], "notes": "",
        "uuid": "", "vm_id": "", "mac_address": "", "disposition": "added", "inventory_vm": None,
    }
    assert [(row["row"], row["name"], row["status"]) for row in listed] == [(1, "app01", ""), (2, "desk03", "running")]
    assert Assignment.objects.get(pk=parts["lead_a1"].pk).status == AssignmentStatus.IN_PROGRESS


def test_good_rows_replace_the_list_but_a_bad_row_deletes_nothing(launched, people):
    _, parts = launched
    lead = _client(people["lead_a1"])
    url = _url(parts["lead_a1"], "declared-vms")
    assert _post(lead, url, [{"name": "app01"}, {"name": "app02"}]).status_code == 200  # a bare list is the rows
    app01 = DeclaredVM.objects.get(name="app01")

    with_a_bad_row = _post(lead, url, {"rows": [{"id": app01.pk, "name": "app01", "owner": "Ann"},
                                                {"name": "app03", "status": "exploded"}]})

    assert with_a_bad_row.status_code == 400
    assert with_a_bad_row.json()["saved"] == {"created": 0, "updated": 1, "unchanged": 0, "deleted": 0, "total": 2}
    assert list(DeclaredVM.objects.order_by("row").values_list("name", "owner")) == [("app01", "Ann"), ("app02", "")]

    replaced = _post(lead, url, {"rows": [{"id": app01.pk, "name": "app01", "owner": "Ann"}, {"name": "app04"}]})

    assert replaced.status_code == 200
    assert replaced.json() == {
        "detail": "2 row(s) saved.", "problems": [],
        "saved": {"created": 1, "updated": 0, "unchanged": 1, "deleted": 1, "total": 2},
    }
    assert list(DeclaredVM.objects.order_by("row").values_list("name", flat=True)) == ["app01", "app04"]
    appended = _post(lead, url, {"rows": [{"name": "app05"}], "replace": False})
    assert appended.json()["saved"]["total"] == 3


def test_rows_that_are_not_objects_are_named_and_nothing_else_is_lost(launched, people):
    _, parts = launched

    response = _post(_client(people["lead_a1"]), _url(parts["lead_a1"], "declared-vms"), ["vm01", {"name": "vm02"}])

    assert response.status_code == 400
    assert response.json()["problems"] == [{"row": 1, "column": "", "message": "is not a row of cells"}]
    assert list(DeclaredVM.objects.values_list("name", flat=True)) == ["vm02"]


def test_only_the_assignee_declares_vms_and_a_refusal_names_no_cell(launched, officer, people):
    _, parts = launched
    url = _url(parts["lead_a1"], "declared-vms")
    before = db_state()

    by_manager = _post(_client(people["ceo"]), url, {"rows": ROWS})
    by_officer = _post(_client(officer), url, {"rows": ROWS})
    unknown_list = _post(_client(people["lead_a1"]), url, {"question": "runs_vms", "rows": ROWS})

    assert by_manager.json() == {
        "detail": "only the assignee, or the manager who delegated the part, may change these answers"
    }
    assert (by_manager.status_code, by_officer.status_code) == (403, 403)
    assert unknown_list.status_code == 400
    assert unknown_list.json() == {"question": ["'runs_vms' is not a VM list of this campaign."]}
    assert db_state() == before


def test_declared_vms_of_a_closed_campaign_are_frozen(launched, officer, people):
    campaign, parts = launched
    _post(_client(officer), f"{CAMPAIGNS_URL}{campaign.pk}/close/")
    before = db_state()

    response = _post(_client(people["lead_a1"]), _url(parts["lead_a1"], "declared-vms"), {"rows": ROWS})

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["the campaign is closed: its answers are frozen"]}
    assert db_state() == before


# --- queries do not grow with rows ------------------------------------------------------------------------------


def _campaign_of(size: int, make_campaign, officer, prefix: str) -> tuple[Campaign, object, Assignment]:
    """A launched campaign of ``size`` assignments (a head and its reports), with sections, reviews, answers and
    declared VMs on some; returns it and the head's login."""
    head_user = UserFactory(username=f"{prefix}-head", role=Role.MANAGER)
    head = PersonFactory(name=f"{prefix} head", email=f"{prefix}-head@example.com", user=head_user)
    for number in range(size - 1):
        PersonFactory(name=f"{prefix} {number:02d}", email=f"{prefix}-{number}@example.com", parent=head)
    campaign = make_campaign(name=prefix, scope=head)
    campaign_launch(campaign=campaign, user=officer)
    sections = list(campaign.version.sections.all())
    question = Question.objects.get(section__version=campaign.version, kind=QuestionKind.VM_LIST)
    yes_no = Question.objects.get(section__version=campaign.version, key="runs_vms")
    for assignment in Assignment.objects.filter(campaign=campaign).exclude(person=head):
        assignment.sections.set(sections[:1])
        Assignment.objects.filter(pk=assignment.pk).update(reviewed_by=officer, status=AssignmentStatus.RETURNED)
    head_part = Assignment.objects.get(campaign=campaign, person=head)
    for row in range(1, size + 1):
        DeclaredVM.objects.create(assignment=head_part, question=question, row=row, name=f"{prefix}-vm{row}")
    Answer.objects.create(assignment=head_part, question=yes_no, value="yes")
    return campaign, head_user, head_part


@pytest.mark.parametrize("reader", ["officer", "head"])
def test_lists_cost_the_same_queries_for_3_or_30_rows(make_campaign, officer, reader):
    def count(client: Client, url: str) -> tuple[int, int]:
        client.get(url)  # warm the session and content type caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        return len(queries), len(_results(response))

    small, small_head, small_part = _campaign_of(3, make_campaign, officer, "small")
    large, large_head, large_part = _campaign_of(30, make_campaign, officer, "large")
    client_small = _client(officer if reader == "officer" else small_head)
    client_large = _client(officer if reader == "officer" else large_head)

    for client, campaign, part, size in ((client_small, small, small_part, 3), (client_large, large, large_part, 30)):
        assert count(client, f"{ASSIGNMENTS_URL}?campaign={campaign.pk}")[1] == size
        assert count(client, _url(part, "declared-vms"))[1] == size
    for url in ("{a}?campaign={c}", "{d}", "{a}", CAMPAIGNS_URL, TEMPLATES_URL):
        small_url = url.format(a=ASSIGNMENTS_URL, c=small.pk, d=_url(small_part, "declared-vms"))
        large_url = url.format(a=ASSIGNMENTS_URL, c=large.pk, d=_url(large_part, "declared-vms"))
        assert count(client_small, small_url)[0] == count(client_large, large_url)[0], url


# --- the schema -------------------------------------------------------------------------------------------------


def test_the_schema_documents_every_questionnaire_endpoint_without_a_warning(db, client_for):
    output = io.StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", stdout=output)

    paths = set(client_for(Role.AUDITOR).get("/api/v1/schema/", {"format": "json"}).json()["paths"])
    assert {
        "/api/v1/questionnaire-templates/", "/api/v1/questionnaire-templates/{id}/", "/api/v1/campaigns/",
        "/api/v1/campaigns/{id}/", "/api/v1/campaigns/{id}/launch/", "/api/v1/campaigns/{id}/close/",
        "/api/v1/campaigns/{id}/reopen/", "/api/v1/campaigns/{id}/progress/", "/api/v1/assignments/",
        "/api/v1/assignments/{id}/", "/api/v1/assignments/{id}/delegate/", "/api/v1/assignments/{id}/submit/",
        "/api/v1/assignments/{id}/review/", "/api/v1/assignments/{id}/answer-for/",
        "/api/v1/assignments/{id}/reassign/", "/api/v1/assignments/{id}/answers/",
        "/api/v1/assignments/{id}/declared-vms/",
    } <= paths
