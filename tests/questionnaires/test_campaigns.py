"""The campaign workflow: launch down the chain, delegation, submission, review, answered-for, reassignment,
close and re-open, progress and the inbox. Every refusal leaves the database as it was."""

import datetime
import io

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.choices import NotificationKind, Role
from portal.models import AuditEvent, Notification, Person
from portal.selectors import notifications_for_user
from portal.services.notifications import (
    notification_new,
    notifications_create,
    notifications_mark_read,
    notifications_send,
)
from questionnaires.choices import AssignmentStatus, CampaignStatus
from questionnaires.models import (
    Answer,
    Assignment,
    Campaign,
    DeclaredVM,
    Question,
    QuestionnaireTemplate,
    Section,
    TemplateVersion,
)
from questionnaires.selectors import (
    assignment_children_progress,
    assignments_for_user,
    assignments_in_subtree,
    assignments_visible_to,
    campaign_progress,
)
from questionnaires.services.answers import answer_save
from questionnaires.services.assignments import (
    assignment_answer_for,
    assignment_delegate,
    assignment_reassign,
    assignment_review,
    assignment_submit,
)
from questionnaires.services.campaigns import campaign_close, campaign_launch, campaign_reopen
from tests.factories import PersonFactory, UserFactory
from tests.questionnaires.factories import submit_answered

TODAY = timezone.localdate


def db_state() -> dict:
    """Everything a workflow service may write, to assert that a refusal wrote nothing."""
    return {
        "campaigns": list(Campaign.objects.order_by("id").values()),
        "assignments": list(Assignment.objects.order_by("id").values()),
        "sections": list(Assignment.sections.through.objects.order_by("id").values()),
        "notifications": list(Notification.objects.order_by("id").values_list("dedupe_key", "emailed_at")),
        "audit": list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True)),
    }


def parts_of(campaign: Campaign, org: dict) -> dict[str, Assignment]:
    by_person = {assignment.person_id: assignment for assignment in Assignment.objects.filter(campaign=campaign)}
    return {key: by_person[person.pk] for key, person in org.items() if person.pk in by_person}


@pytest.fixture
def launched(make_campaign, officer, org, logins):
    """A cascading campaign launched over ``org``: (campaign, {org key: assignment})."""
    campaign = make_campaign()
    campaign_launch(campaign=campaign, user=officer)
    campaign.refresh_from_db()
    return campaign, parts_of(campaign, org)


@pytest.fixture
def top_down(make_campaign, officer, org, logins):
    """A campaign that does not cascade: only the CEO is assigned, and delegates. (campaign, root assignment)."""
    campaign = make_campaign(cascade=False)
    campaign_launch(campaign=campaign, user=officer)
    campaign.refresh_from_db()
    return campaign, Assignment.objects.get(campaign=campaign, person=org["ceo"])


def submit(assignment: Assignment, user) -> Assignment:
    return submit_answered(assignment, user)


# --- create -----------------------------------------------------------------------------------------------------


def test_create_makes_an_audited_draft_that_sends_nothing(make_campaign, officer, org, template_version):
    campaign = make_campaign()

    assert campaign.status == CampaignStatus.DRAFT
    assert (campaign.scope, campaign.owner, campaign.version) == (org["ceo"], officer, template_version)
    assert not Assignment.objects.exists()
    assert not Notification.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.object_id) == ("campaign.created", officer, str(campaign.pk))
    assert event.details["scope"] == "ceo@example.com"
    assert event.details["cascade"] is True


def test_create_refuses_a_past_due_date_an_inactive_scope_and_bad_cadences(make_campaign, org):
    org["vp_b"].active = False
    org["vp_b"].save()

    with pytest.raises(ValidationError) as error:
        make_campaign(name="  ", due_date=TODAY(), scope=org["vp_b"], reminder_every_days=400, escalate_after_days=0)

    assert set(error.value.message_dict) == {
        "name", "due_date", "scope", "reminder_every_days", "escalate_after_days",
    }
    assert "is not in the future" in error.value.message_dict["due_date"][0]
    assert not Campaign.objects.exists()
    assert not AuditEvent.objects.exists()


def test_create_refuses_a_version_with_nothing_to_answer(make_campaign):
    template = QuestionnaireTemplate.objects.create(slug="empty", name="Empty")
    empty = TemplateVersion.objects.create(template=template, number=1)

    with pytest.raises(ValidationError) as error:
        make_campaign(version=empty)

    assert list(error.value.message_dict) == ["version"]
    assert not Campaign.objects.exists()


def test_create_is_refused_to_anyone_but_a_compliance_officer_or_an_admin(make_campaign):
    with pytest.raises(PermissionDenied, match="compliance officer"):
        make_campaign(owner=UserFactory(username="a-manager", role=Role.MANAGER))
    assert not Campaign.objects.exists()

    admin = UserFactory(username="an-admin", role=Role.ADMIN)
    assert make_campaign(owner=admin).owner == admin


# --- launch -----------------------------------------------------------------------------------------------------


def test_launch_assigns_every_active_person_of_the_scope_under_their_managers_part(make_campaign, officer, org):
    gone = PersonFactory(name="Gone Manager", email="gone@example.com", parent=org["vp_a"], active=False)
    PersonFactory(name="Olga Report", email="olga@example.com", parent=gone)
    PersonFactory(name="Out Sider", email="outsider@example.com")  # not in the scope
    campaign = make_campaign()

    created = campaign_launch(campaign=campaign, user=officer)

    assert created == 7
    assert dict(Assignment.objects.values_list("person__email", "parent__person__email")) == {
        "ceo@example.com": None,
        "vp.a@example.com": "ceo@example.com",
        "vp.b@example.com": "ceo@example.com",
        "lead.a1@example.com": "vp.a@example.com",
        "lead.a2@example.com": "vp.a@example.com",
        "lead.b1@example.com": "vp.b@example.com",
        "olga@example.com": "vp.a@example.com",  # under the nearest active manager
    }
    assert set(Assignment.objects.values_list("status", flat=True)) == {AssignmentStatus.NOT_STARTED}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE
    assert campaign.launched_at is not None
    assert sorted(Notification.objects.values_list("dedupe_key", flat=True)) == sorted(
        f"assigned:{pk}" for pk in Assignment.objects.values_list("id", flat=True)
    )
    own = Notification.objects.filter(kind=NotificationKind.ASSIGNED, person_id=F("assignment__person_id"))
    assert own.count() == 7
    event = AuditEvent.objects.get(action="campaign.launched")
    assert (event.actor, event.details["assignments"]) == (officer, 7)


def test_launch_emails_each_assignee_a_link_to_their_part(
    make_campaign, officer, org, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = "https://vmcensus.example.org/"
    campaign = make_campaign()

    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=campaign, user=officer)

    assert sorted(message.to[0] for message in mail.outbox) == sorted(person.email for person in org.values())
    ceo_part = Assignment.objects.get(person=org["ceo"])
    ceo_mail = next(message for message in mail.outbox if message.to == ["ceo@example.com"])
    assert f"https://vmcensus.example.org/questionnaires/assignments/{ceo_part.pk}/" in ceo_mail.body
    assert ceo_mail.subject.startswith("VM census 2027: your questionnaire is due")
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def _org(prefix: str, managers: int) -> Person:
    """A root, ``managers`` managers under it and three reports under each: three levels."""
    root = PersonFactory(email=f"{prefix}-root@example.com")
    for number in range(managers):
        manager = PersonFactory(email=f"{prefix}-m{number}@example.com", parent=root)
        for report in range(3):
            PersonFactory(email=f"{prefix}-m{number}-r{report}@example.com", parent=manager)
    return root


def test_launch_queries_do_not_grow_with_the_org(make_campaign, officer):
    counts = []
    for prefix, managers in (("small", 2), ("large", 12)):  # 9 and 49 people
        campaign = make_campaign(name=prefix, scope=_org(prefix, managers))
        with CaptureQueriesContext(connection) as queries:
            campaign_launch(campaign=campaign, user=officer)
        counts.append(len(queries))

    assert counts[0] == counts[1]
    assert Assignment.objects.count() == 9 + 49


def test_launch_without_cascade_assigns_the_head_of_the_scope_only(make_campaign, officer, org):
    campaign = make_campaign(cascade=False)

    assert campaign_launch(campaign=campaign, user=officer) == 1
    assert list(Assignment.objects.values_list("person__email", "parent")) == [("ceo@example.com", None)]
    assert Notification.objects.get().person == org["ceo"]


def test_launch_is_refused_to_others_twice_and_after_the_due_date(make_campaign, officer, logins):
    campaign = make_campaign()
    other_officer = UserFactory(username="other-officer", role=Role.COMPLIANCE_OFFICER)
    before = db_state()

    for user in (other_officer, logins["ceo"]):
        with pytest.raises(PermissionDenied, match="owner"):
            campaign_launch(campaign=campaign, user=user)
    assert db_state() == before  # refused to others: nothing launched, nothing sent
    Campaign.objects.filter(pk=campaign.pk).update(due_date=TODAY())
    before = db_state()
    with pytest.raises(ValidationError, match="not in the future"):
        campaign_launch(campaign=campaign, user=officer)
    assert db_state() == before

    Campaign.objects.filter(pk=campaign.pk).update(due_date=TODAY() + datetime.timedelta(days=5))
    campaign_launch(campaign=campaign, user=officer)
    before = db_state()
    with pytest.raises(ValidationError, match="only a draft can be launched"):
        campaign_launch(campaign=campaign, user=officer)
    assert db_state() == before


# --- close and re-open ------------------------------------------------------------------------------------------


def test_close_freezes_answers_and_reopen_restarts_with_audit_events(launched, officer, org, logins):
    campaign, parts = launched
    submit(parts["lead_a1"], logins["lead_a1"])

    campaign_close(campaign=campaign, user=officer)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CLOSED
    assert campaign.closed_at is not None
    closed = AuditEvent.objects.get(action="campaign.closed")
    assert (closed.actor, closed.details) == (officer, {"statuses": {"not_started": 5, "submitted": 1}})
    told = set(Notification.objects.filter(kind=NotificationKind.CLOSED).values_list("person__email", flat=True))
    assert told == {person.email for key, person in org.items() if key != "lead_a1"}
    before = db_state()
    with pytest.raises(ValidationError, match="closed: its answers are frozen"):
        submit(parts["lead_b1"], logins["lead_b1"])
    with pytest.raises(ValidationError, match="frozen"):
        assignment_delegate(assignment=parts["vp_b"], to_person=org["lead_b1"], user=logins["vp_b"])
    with pytest.raises(ValidationError, match="frozen"):
        assignment_review(assignment=parts["lead_a1"], user=logins["vp_a"], accept=True)
    assert db_state() == before

    new_due = TODAY() + datetime.timedelta(days=30)
    campaign_reopen(campaign=campaign, user=officer, due_date=new_due)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.closed_at, campaign.due_date) == (CampaignStatus.ACTIVE, None, new_due)
    reopened = AuditEvent.objects.get(action="campaign.reopened")
    assert reopened.details["due_date"] == new_due.isoformat()
    assert Notification.objects.filter(kind=NotificationKind.REOPENED).count() == 5
    assert list(AuditEvent.objects.filter(object_type="questionnaires.campaign").order_by("sequence").values_list(
        "action", flat=True
    )) == ["campaign.created", "campaign.launched", "campaign.closed", "campaign.reopened"]


def test_close_and_reopen_are_refused_to_others_and_in_the_wrong_state(launched, officer, logins):
    campaign, _ = launched
    other_officer = UserFactory(username="other-officer", role=Role.COMPLIANCE_OFFICER)
    before = db_state()

    for user in (other_officer, logins["ceo"]):
        with pytest.raises(PermissionDenied, match="Only the campaign's owner"):
            campaign_close(campaign=campaign, user=user)
    with pytest.raises(ValidationError, match="only a closed campaign can be re-opened"):
        campaign_reopen(campaign=campaign, user=officer)
    assert db_state() == before

    campaign_close(campaign=campaign, user=officer)
    Campaign.objects.filter(pk=campaign.pk).update(due_date=TODAY() - datetime.timedelta(days=1))
    before = db_state()
    with pytest.raises(ValidationError, match="only an active campaign can be closed"):
        campaign_close(campaign=campaign, user=officer)
    with pytest.raises(PermissionDenied):
        campaign_reopen(campaign=campaign, user=other_officer)
    with pytest.raises(ValidationError, match="give a new due date"):
        campaign_reopen(campaign=campaign, user=officer)
    with pytest.raises(ValidationError, match="give a new due date"):
        campaign_reopen(campaign=campaign, user=officer, due_date=TODAY())
    assert db_state() == before


def test_an_admin_may_close_and_reopen_another_owners_campaign(launched):
    campaign, _ = launched
    admin = UserFactory(username="an-admin", role=Role.ADMIN)

    campaign_close(campaign=campaign, user=admin)
    campaign_reopen(campaign=campaign, user=admin)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE
    assert list(AuditEvent.objects.filter(actor=admin).values_list("action", flat=True).order_by("sequence")) == [
        "campaign.closed", "campaign.reopened",
    ]


# --- delegation -------------------------------------------------------------------------------------------------


def test_delegate_gives_a_direct_report_their_part_and_tells_them(top_down, org, logins):
    campaign, root = top_down
    processes = Section.objects.get(key="processes")

    child = assignment_delegate(assignment=root, to_person=org["vp_a"], sections=[processes], user=logins["ceo"])

    assert (child.campaign, child.parent, child.person) == (campaign, root, org["vp_a"])
    assert list(child.sections.all()) == [processes]
    root.refresh_from_db()
    assert root.status == AssignmentStatus.IN_PROGRESS
    note = Notification.objects.get(dedupe_key=f"delegated:{child.pk}")
    assert (note.person, note.kind, note.link) == (
        org["vp_a"], NotificationKind.DELEGATED, f"/questionnaires/assignments/{child.pk}/",
    )
    assert "the sections “Processes”" in note.body
    event = AuditEvent.objects.get(action="assignment.delegated")
    assert event.details == {"from": "ceo@example.com", "to": "vp.a@example.com", "sections": ["Processes"]}

    # "All" of a partial part is all of that part, never the whole questionnaire.
    grandchild = assignment_delegate(assignment=child, to_person=org["lead_a1"], user=logins["vp_a"])
    assert list(grandchild.sections.all()) == [processes]
    everything = assignment_delegate(assignment=root, to_person=org["vp_b"], user=logins["ceo"])
    assert not everything.sections.exists()


def test_delegate_only_to_direct_reports_only_once_and_only_by_the_assignee(top_down, org, logins, officer):
    campaign, root = top_down
    other_version = TemplateVersion.objects.create(template=campaign.version.template, number=2)
    foreign = Section.objects.create(version=other_version, key="other", order=1, title="Other")
    before = db_state()

    for person in (org["lead_a1"], org["ceo"], Person.objects.get(user=officer)):
        with pytest.raises(ValidationError, match="not a direct report of Carol CEO"):
            assignment_delegate(assignment=root, to_person=person, user=logins["ceo"])
    for user in (logins["vp_a"], officer):
        with pytest.raises(PermissionDenied, match="Only Carol CEO can delegate"):
            assignment_delegate(assignment=root, to_person=org["vp_a"], user=user)
    with pytest.raises(ValidationError, match="Not part of what was asked of you: Other"):
        assignment_delegate(assignment=root, to_person=org["vp_a"], sections=[foreign], user=logins["ceo"])
    assert db_state() == before

    child = assignment_delegate(assignment=root, to_person=org["vp_a"], user=logins["ceo"])
    before = db_state()
    with pytest.raises(ValidationError, match="Alice VP already has a part"):
        assignment_delegate(assignment=root, to_person=org["vp_a"], user=logins["ceo"])
    partial = assignment_delegate(
        assignment=child, to_person=org["lead_a1"], sections=[Section.objects.get(key="area")], user=logins["vp_a"]
    )
    before = db_state()
    with pytest.raises(ValidationError, match="Not part of what was asked of you: Processes"):
        assignment_delegate(
            assignment=partial, to_person=PersonFactory(parent=org["lead_a1"]),
            sections=[Section.objects.get(key="processes")], user=logins["lead_a1"],
        )
    org["lead_a2"].active = False
    org["lead_a2"].save()
    with pytest.raises(ValidationError, match="no longer active"):
        assignment_delegate(assignment=child, to_person=org["lead_a2"], user=logins["vp_a"])
    assert db_state() == before


def test_a_cascaded_report_already_has_their_part(launched, org, logins):
    _, parts = launched
    before = db_state()

    with pytest.raises(ValidationError, match="Ann Lead already has a part"):
        assignment_delegate(assignment=parts["vp_a"], to_person=org["lead_a1"], user=logins["vp_a"])
    assert db_state() == before


# --- submission and review --------------------------------------------------------------------------------------


def test_submit_needs_valid_answers_and_every_part_below_accepted(launched, org, logins):
    campaign, parts = launched
    before = db_state()

    with pytest.raises(ValidationError) as error:
        assignment_submit(assignment=parts["vp_a"], user=logins["vp_a"])  # nothing answered yet

    assert error.value.messages == [
        "“Does your area run VMs?” needs an answer",
        "Abe Lead's part is not started: wait for them to answer and submit it, or answer it for them, before you "
        "submit.",
        "Ann Lead's part is not started: wait for them to answer and submit it, or answer it for them, before you "
        "submit.",
    ]
    assert db_state() == before

    for lead in ("lead_a1", "lead_a2"):
        submit(parts[lead], logins[lead])
    with pytest.raises(ValidationError, match="Abe Lead's part is submitted"):
        submit(parts["vp_a"], logins["vp_a"])
    for lead in ("lead_a1", "lead_a2"):
        assignment_review(assignment=parts[lead], user=logins["vp_a"], accept=True)

    submitted = submit(parts["vp_a"], logins["vp_a"])

    assert submitted.status == AssignmentStatus.SUBMITTED
    assert submitted.submitted_at is not None
    note = Notification.objects.get(kind=NotificationKind.SUBMITTED, assignment=submitted)
    assert (note.person, note.link) == (org["ceo"], f"/questionnaires/assignments/{submitted.pk}/")
    assert AuditEvent.objects.filter(action="assignment.submitted", object_id=str(submitted.pk)).count() == 1


def test_submit_checks_the_answers(top_down, logins):
    _, root = top_down
    before = db_state()

    with pytest.raises(ValidationError, match="Does your area run VMs"):
        assignment_submit(assignment=root, user=logins["ceo"])
    assert db_state() == before


def test_submit_is_refused_to_anyone_but_the_assignee_and_twice(launched, logins, officer):
    _, parts = launched
    before = db_state()

    for user in (logins["vp_a"], logins["ceo"], logins["lead_a2"], officer):
        with pytest.raises(PermissionDenied, match="Only Ann Lead can submit"):
            assignment_submit(assignment=parts["lead_a1"], user=user)
    assert db_state() == before

    submit(parts["lead_a1"], logins["lead_a1"])
    before = db_state()
    with pytest.raises(ValidationError, match="already submitted"):
        assignment_submit(assignment=parts["lead_a1"], user=logins["lead_a1"])
    assert db_state() == before


def test_review_returns_with_a_comment_the_assignee_reads_then_accepts(
    launched, org, logins, django_capture_on_commit_callbacks
):
    _, parts = launched
    lead = parts["lead_a1"]
    submit(lead, logins["lead_a1"])
    before = db_state()

    with pytest.raises(ValidationError) as error:
        assignment_review(assignment=lead, user=logins["vp_a"], accept=False, comment="   ")
    assert list(error.value.message_dict) == ["comment"]
    assert db_state() == before

    with django_capture_on_commit_callbacks(execute=True):
        assignment_review(assignment=lead, user=logins["vp_a"], accept=False, comment="List the test VMs too.")

    lead.refresh_from_db()
    assert (lead.status, lead.review_comment, lead.reviewed_by) == (
        AssignmentStatus.RETURNED, "List the test VMs too.", logins["vp_a"],
    )
    returned = Notification.objects.get(kind=NotificationKind.RETURNED)
    assert returned.person == org["lead_a1"]
    assert "List the test VMs too." in returned.body
    lead_mail = {message.subject: message.body for message in mail.outbox if message.to == ["lead.a1@example.com"]}
    assert len(lead_mail) == 2  # the assignment at launch, then the return: each sent once
    assert "List the test VMs too." in lead_mail["VM census 2027: Alice VP returned your answers"]

    submit(lead, logins["lead_a1"])
    assignment_review(assignment=lead, user=logins["vp_a"], accept=True)

    lead.refresh_from_db()
    assert (lead.status, lead.review_comment) == (AssignmentStatus.ACCEPTED, "")
    assert Notification.objects.filter(kind=NotificationKind.ACCEPTED, person=org["lead_a1"]).count() == 1
    assert Notification.objects.filter(kind=NotificationKind.SUBMITTED, person=org["vp_a"]).count() == 2
    assert list(
        AuditEvent.objects.filter(object_id=str(lead.pk), object_type="questionnaires.assignment")
        .order_by("sequence").values_list("action", flat=True)
    ) == ["answer.saved", "assignment.submitted", "assignment.returned", "assignment.submitted",
          "assignment.accepted"]  # the answer saved once (unchanged when submitted again)


def test_review_is_refused_to_anyone_but_the_assignee_of_the_part_above(launched, logins, officer):
    _, parts = launched
    submit(parts["lead_a1"], logins["lead_a1"])
    before = db_state()

    for user in (logins["lead_a1"], logins["ceo"], logins["vp_b"], logins["lead_a2"], officer):
        with pytest.raises(PermissionDenied, match="can review Ann Lead's answers"):
            assignment_review(assignment=parts["lead_a1"], user=user, accept=True)
    with pytest.raises(ValidationError, match="nothing to review"):
        assignment_review(assignment=parts["lead_a2"], user=logins["vp_a"], accept=True)
    assert db_state() == before


def test_the_head_of_the_scope_submits_to_the_campaign_owner(top_down, logins, officer):
    _, root = top_down
    submit(root, logins["ceo"])
    assert Notification.objects.get(kind=NotificationKind.SUBMITTED).person == Person.objects.get(user=officer)
    before = db_state()

    with pytest.raises(PermissionDenied, match="Only officer can review"):
        assignment_review(assignment=root, user=logins["ceo"], accept=True)
    assert db_state() == before

    assignment_review(assignment=root, user=officer, accept=True, comment="Thanks.")
    root.refresh_from_db()
    assert (root.status, root.reviewed_by, root.review_comment) == (AssignmentStatus.ACCEPTED, officer, "Thanks.")


# --- answered for them ------------------------------------------------------------------------------------------


def _answer(assignment: Assignment, user, key: str = "runs_vms", value: str = "no") -> None:
    answer_save(assignment=assignment, question=Question.objects.get(key=key), raw=value, user=user)


def test_answer_for_needs_the_managers_own_answers_and_changes_nothing_without_them(launched, logins):
    _, parts = launched
    before = db_state()

    with pytest.raises(ValidationError) as error:
        assignment_answer_for(assignment=parts["vp_a"], user=logins["ceo"], reason="Alice is on leave.")

    assert error.value.message_dict == {"answers": ["“Does your area run VMs?” needs an answer"]}
    assert db_state() == before


def test_answer_for_accepts_the_part_and_everything_delegated_below_it(launched, org, logins):
    _, parts = launched
    _answer(parts["vp_a"], logins["ceo"])

    assignment_answer_for(assignment=parts["vp_a"], user=logins["ceo"], reason="Alice is on leave; I know her area.")

    statuses = dict(Assignment.objects.values_list("person__email", "status"))
    reasons = dict(Assignment.objects.values_list("person__email", "answered_by_manager_reason"))
    for email in ("vp.a@example.com", "lead.a1@example.com", "lead.a2@example.com"):
        assert statuses[email] == AssignmentStatus.ACCEPTED
        assert reasons[email] == "Alice is on leave; I know her area."
    assert statuses["vp.b@example.com"] == AssignmentStatus.NOT_STARTED
    events = AuditEvent.objects.filter(action="assignment.answered_for").order_by("sequence")
    assert [(event.actor, event.object_id) for event in events] == [
        (logins["ceo"], str(parts["vp_a"].pk)), (logins["ceo"], str(parts["lead_a2"].pk)),
        (logins["ceo"], str(parts["lead_a1"].pk)),
    ]
    assert events[0].details["parts_below_covered"] == ["lead.a2@example.com", "lead.a1@example.com"]
    assert events[1].details == {"reason": "Alice is on leave; I know her area.", "covered_by": "vp.a@example.com",
                                 "status_before": "not_started"}
    told = Notification.objects.filter(dedupe_key__startswith="answered_for:").values_list("person", flat=True)
    assert set(told) == {org["vp_a"].pk, org["lead_a1"].pk, org["lead_a2"].pk}

    with pytest.raises(ValidationError, match="Bob VP's part is not started"):
        submit(parts["ceo"], logins["ceo"])
    _answer(parts["vp_b"], logins["ceo"])
    assignment_answer_for(assignment=parts["vp_b"], user=logins["ceo"], reason="Merged into Alice's division.")
    assert submit(parts["ceo"], logins["ceo"]).status == AssignmentStatus.SUBMITTED


def test_answer_for_needs_a_reason_and_the_manager_above(launched, logins, officer):
    _, parts = launched
    _answer(parts["lead_a1"], logins["vp_a"])
    before = db_state()

    with pytest.raises(ValidationError) as error:
        assignment_answer_for(assignment=parts["lead_a1"], user=logins["vp_a"], reason=" ")
    assert list(error.value.message_dict) == ["reason"]
    for user in (logins["ceo"], logins["vp_b"], logins["lead_a1"], officer):
        with pytest.raises(PermissionDenied, match="Only Alice VP, who delegated it"):
            assignment_answer_for(assignment=parts["lead_a1"], user=user, reason="Because.")
    with pytest.raises(ValidationError, match="heads the campaign's scope"):
        assignment_answer_for(assignment=parts["ceo"], user=officer, reason="Because.")
    assert db_state() == before

    assignment_answer_for(assignment=parts["lead_a1"], user=logins["vp_a"], reason="Because.")
    before = db_state()
    with pytest.raises(ValidationError, match="already accepted"):
        assignment_answer_for(assignment=parts["lead_a1"], user=logins["vp_a"], reason="Again.")
    assert db_state() == before


def test_a_submitted_part_is_reviewed_not_answered_for(launched, logins):
    _, parts = launched
    _answer(parts["lead_a1"], logins["lead_a1"])
    submit(parts["lead_a1"], logins["lead_a1"])
    before = db_state()

    with pytest.raises(ValidationError, match="Ann Lead has submitted their part: review it"):
        assignment_answer_for(assignment=parts["lead_a1"], user=logins["vp_a"], reason="Because.")
    assert db_state() == before


# --- reassignment -----------------------------------------------------------------------------------------------


def test_reassign_keeps_the_answers_declared_vms_and_reviews(launched, org, logins, template_version):
    _, parts = launched
    lead = parts["lead_a1"]
    Answer.objects.create(assignment=lead, question=Question.objects.get(key="runs_vms"), value="yes")
    DeclaredVM.objects.create(assignment=lead, question=Question.objects.get(key="vms"), row=1, name="build01")
    newcomer = PersonFactory(name="Nina New", email="nina@example.com", parent=org["vp_a"])

    reassigned = assignment_reassign(assignment=lead, to_person=newcomer, user=logins["vp_a"])

    assert reassigned.pk == lead.pk
    stored = Assignment.objects.get(pk=lead.pk)
    assert (stored.person, stored.parent) == (newcomer, parts["vp_a"])
    assert list(stored.answers.values_list("question__key", "value")) == [("runs_vms", "yes")]
    assert list(stored.declared_vms.values_list("name", flat=True)) == ["build01"]
    event = AuditEvent.objects.get(action="assignment.reassigned")
    assert event.details == {
        "from": "lead.a1@example.com", "to": "nina@example.com", "status": "not_started", "answers": 1,
        "declared_vms": 1,
    }
    note = Notification.objects.get(dedupe_key=f"reassigned:{lead.pk}:{event.pk}")
    assert (note.person, note.kind) == (newcomer, NotificationKind.ASSIGNED)
    assert "Ann Lead's part" in note.subject


def test_reassign_is_refused_to_others_and_outside_the_managers_subtree(launched, org, logins, officer):
    _, parts = launched
    elsewhere = PersonFactory(name="Eve Elsewhere", email="eve@example.com", parent=org["vp_b"])
    left = PersonFactory(name="Len Left", email="len@example.com", parent=org["vp_a"], active=False)
    before = db_state()

    for user in (logins["lead_a2"], logins["vp_b"], logins["lead_a1"]):
        with pytest.raises(PermissionDenied, match=r"Only the campaign's owner \(officer\) or Alice VP"):
            assignment_reassign(assignment=parts["lead_a1"], to_person=elsewhere, user=user)
    with pytest.raises(ValidationError, match="not in Alice VP's part of the organisation"):
        assignment_reassign(assignment=parts["lead_a1"], to_person=elsewhere, user=logins["vp_a"])
    with pytest.raises(ValidationError, match="Abe Lead already has a part"):
        assignment_reassign(assignment=parts["lead_a1"], to_person=org["lead_a2"], user=logins["vp_a"])
    with pytest.raises(ValidationError, match="no longer active"):
        assignment_reassign(assignment=parts["lead_a1"], to_person=left, user=logins["vp_a"])
    with pytest.raises(ValidationError, match="already holds"):
        assignment_reassign(assignment=parts["lead_a1"], to_person=org["lead_a1"], user=officer)
    assert db_state() == before

    # The campaign's owner may give it to anybody active.
    assignment_reassign(assignment=parts["lead_a1"], to_person=elsewhere, user=officer)
    assert Assignment.objects.get(pk=parts["lead_a1"].pk).person == elsewhere


# --- progress, lists and inbox ----------------------------------------------------------------------------------


def _progress(**counts) -> dict:
    result = {status: 0 for status in AssignmentStatus.values} | {"overdue": 0, "total": 0, "percent_accepted": 0}
    return result | counts


def test_campaign_progress_counts_each_status_for_the_campaign_and_a_subtree(launched, org, logins):
    campaign, parts = launched
    for lead in ("lead_a1", "lead_a2", "lead_b1"):
        submit(parts[lead], logins[lead])
    assignment_review(assignment=parts["lead_a2"], user=logins["vp_a"], accept=False, comment="Fix it.")
    assignment_review(assignment=parts["lead_b1"], user=logins["vp_b"], accept=True)
    Assignment.objects.filter(pk=parts["vp_b"].pk).update(status=AssignmentStatus.IN_PROGRESS)

    assert campaign_progress(campaign=campaign) == _progress(
        not_started=2, in_progress=1, submitted=1, returned=1, accepted=1, total=6, percent_accepted=17
    )
    assert campaign_progress(campaign=campaign, root_person=org["vp_a"]) == _progress(
        not_started=1, submitted=1, returned=1, total=3
    )
    assert campaign_progress(campaign=campaign, root_person=org["vp_b"]) == _progress(
        in_progress=1, accepted=1, total=2, percent_accepted=50
    )
    late = campaign.due_date + datetime.timedelta(days=1)
    assert campaign_progress(campaign=campaign, today=late)["overdue"] == 4  # the open ones
    assert campaign_progress(campaign=campaign, root_person=PersonFactory()) == _progress()


def test_assignment_children_progress_gives_each_branch_its_own_counts(launched, logins):
    _, parts = launched
    submit(parts["lead_b1"], logins["lead_b1"])

    branches = assignment_children_progress(assignment=parts["ceo"])

    assert [(branch["assignment"].person.name, branch["has_children"]) for branch in branches] == [
        ("Alice VP", True), ("Bob VP", True),
    ]
    assert branches[0]["counts"] == _progress(not_started=3, total=3)
    assert branches[1]["counts"] == _progress(not_started=1, submitted=1, total=2)
    leaves = assignment_children_progress(assignment=parts["vp_a"])
    assert [(branch["assignment"].person.name, branch["has_children"]) for branch in leaves] == [
        ("Abe Lead", False), ("Ann Lead", False),
    ]


def _launched_org(make_campaign, officer, prefix: str, managers: int) -> tuple[Campaign, Person]:
    root = _org(prefix, managers)
    campaign = make_campaign(name=prefix, scope=root)
    campaign_launch(campaign=campaign, user=officer)
    return campaign, Person.objects.filter(parent=root).order_by("id").first()


def test_progress_queries_are_the_same_for_10_and_50_people(make_campaign, officer, django_assert_num_queries):
    small = _launched_org(make_campaign, officer, "small", 2)  # 9 people
    large = _launched_org(make_campaign, officer, "large", 12)  # 49 people

    for campaign, manager in (small, large):
        with django_assert_num_queries(1):
            campaign_progress(campaign=campaign)
        with django_assert_num_queries(1):
            campaign_progress(campaign=campaign, root_person=manager)
        root_part = Assignment.objects.select_related("campaign").get(campaign=campaign, parent=None)
        with django_assert_num_queries(2):
            assignment_children_progress(assignment=root_part)
    assert campaign_progress(campaign=large[0])["total"] == 49


def test_assignment_lists_and_the_inbox_follow_the_user(launched, org, logins, officer):
    campaign, parts = launched
    nobody = UserFactory(username="nobody")

    assert list(assignments_for_user(logins["vp_a"])) == [parts["vp_a"]]
    assert list(assignments_in_subtree(logins["vp_a"])) == [parts["lead_a2"], parts["lead_a1"]]  # Abe, Ann
    assert set(assignments_in_subtree(logins["vp_a"], include_own=True)) == {
        parts["vp_a"], parts["lead_a1"], parts["lead_a2"],
    }
    assert set(assignments_visible_to(logins["vp_b"])) == {parts["vp_b"], parts["lead_b1"]}
    assert assignments_visible_to(officer).count() == 6
    assert not assignments_visible_to(nobody).exists()
    assert not assignments_in_subtree(nobody).exists()
    inbox = list(notifications_for_user(logins["vp_a"]))
    assert [(note.kind, note.about) for note in inbox] == [(NotificationKind.ASSIGNED, parts["vp_a"])]

    assert notifications_mark_read(user=logins["vp_a"]) == 1
    assert not notifications_for_user(logins["vp_a"], unread_only=True).exists()
    assert notifications_for_user(logins["vp_b"], unread_only=True).count() == 1


# --- sending ----------------------------------------------------------------------------------------------------


def test_notifications_send_emails_each_row_once(launched):
    assert notifications_send(batch_size=4) == 6  # two batches

    assert len(mail.outbox) == 6
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    assert notifications_send() == 0
    assert len(mail.outbox) == 6


def test_notifications_create_keeps_one_row_per_dedupe_key(launched, org):
    _, parts = launched
    row = {"person_id": org["ceo"].pk, "about": parts["ceo"], "kind": NotificationKind.REMINDER, "subject": "s",
           "body": "b", "dedupe_key": "reminder:test"}

    notifications_create([notification_new(**row), notification_new(**row)])
    notifications_create([notification_new(**row)])

    assert Notification.objects.filter(dedupe_key="reminder:test").count() == 1


class FailingAfterTwoBackend(EmailBackend):
    """A mail server that accepts two messages, then fails."""

    def send_messages(self, messages):
        if len(mail.outbox) >= 2:
            raise ConnectionError("mail server went away")
        return super().send_messages(messages)


def test_a_failing_mail_server_leaves_the_unsent_rows_for_the_next_run(launched, settings):
    settings.EMAIL_BACKEND = f"{__name__}.FailingAfterTwoBackend"

    with pytest.raises(ConnectionError):
        notifications_send()

    assert len(mail.outbox) == 2
    assert Notification.objects.filter(emailed_at__isnull=True).count() == 4
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_send() == 4
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        Notification.objects.values_list("person__email", flat=True)
    )


def test_the_benchmark_command_runs_and_leaves_the_database_as_it_was(db):
    before = db_state() | {"people": Person.objects.count()}
    out = io.StringIO()

    call_command("benchmark_campaigns", count=60, stdout=out)

    report = out.getvalue()
    assert "launch, cascading:" in report
    assert "(60 assignments, 60 notifications queued)" in report
    assert "campaign page, officer, whole tree:" in report and "campaign page, mid-level manager" in report
    assert report.count("PASS") == 7
    assert db_state() | {"people": Person.objects.count()} == before
