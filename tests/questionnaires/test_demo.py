"""The questionnaires' demo, after the portal's (the inventory's 2,500 VMs are left out: pre-filling then finds
none): the template, a live campaign with every assignment state, a closed pilot; a second run changes nothing."""

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from inventory.models import AreaMapping
from portal.choices import Role
from portal.models import AuditEvent, Notification, Person, User
from portal.services.demo import demo_load as portal_demo_load
from questionnaires.choices import AssignmentStatus, CampaignStatus, Disposition
from questionnaires.models import Answer, Assignment, Campaign, DeclaredVM, QuestionnaireTemplate
from questionnaires.services.demo import LIVE_CAMPAIGN, PILOT_CAMPAIGN, RETURN_COMMENT, VP_TITLE, demo_load


def db_state() -> dict:
    return {
        "users": list(User.objects.order_by("id").values_list("username", flat=True)),
        "people": list(Person.objects.order_by("id").values_list("id", "user_id")),
        "templates": list(QuestionnaireTemplate.objects.values_list("slug", "versions__number")),
        "mappings": list(AreaMapping.objects.order_by("id").values()),
        "campaigns": list(Campaign.objects.order_by("id").values()),
        "assignments": list(Assignment.objects.order_by("id").values()),
        "answers": list(Answer.objects.order_by("id").values()),
        "declared": list(DeclaredVM.objects.order_by("id").values()),
        "notifications": list(Notification.objects.order_by("id").values_list("dedupe_key", flat=True)),
        "audit": AuditEvent.objects.count(),
    }


def statuses(campaign: Campaign) -> dict[str, int]:
    return dict(Counter(campaign.assignments.values_list("status", flat=True)))


@pytest.fixture
def loaded(db) -> list[str]:
    portal_demo_load()
    return demo_load()


def test_the_live_campaign_has_every_state_and_the_manager_login_has_work(loaded):
    live = Campaign.objects.select_related("owner", "scope").get(name=LIVE_CAMPAIGN)
    vp = Person.objects.get(title=VP_TITLE)

    assert (live.status, live.owner.username, live.scope, live.cascade) == (CampaignStatus.ACTIVE, "officer", vp, True)
    assert live.due_date == timezone.localdate() + datetime.timedelta(days=21)
    assert statuses(live) == {
        AssignmentStatus.NOT_STARTED: 14, AssignmentStatus.IN_PROGRESS: 8, AssignmentStatus.SUBMITTED: 3,
        AssignmentStatus.RETURNED: 1, AssignmentStatus.ACCEPTED: 15,
    }
    returned = live.assignments.select_related("reviewed_by").get(status=AssignmentStatus.RETURNED)
    assert (returned.review_comment, returned.reviewed_by.username) == (RETURN_COMMENT, "manager")
    manager_part = live.assignments.get(person__user__username="manager")
    assert manager_part.status == AssignmentStatus.IN_PROGRESS
    assert sorted(manager_part.children.values_list("status", flat=True)) == [
        AssignmentStatus.IN_PROGRESS, AssignmentStatus.RETURNED, AssignmentStatus.SUBMITTED,
    ]
    assert manager_part.answers.count() == 4
    assert live.assignments.exclude(answered_by_manager_reason="").count() == 1
    assert live.assignments.filter(parent=None).get().person == vp
    assert DeclaredVM.objects.filter(assignment__campaign=live).count() == 20
    assert not DeclaredVM.objects.exclude(disposition=Disposition.ADDED).exists()  # no inventory: nothing pre-filled
    assert sorted(AreaMapping.objects.values_list("pattern", flat=True)) == [
        "east-dc1-cl1", "east-dc2-cl1", "west-dc1-cl1",
    ]


def test_the_pilot_is_closed_and_dated_months_back(loaded):
    pilot = Campaign.objects.get(name=PILOT_CAMPAIGN)
    today = timezone.localdate()

    assert pilot.status == CampaignStatus.CLOSED
    assert pilot.due_date == today - datetime.timedelta(days=240)
    assert timezone.localdate(pilot.launched_at) == today - datetime.timedelta(days=270)
    assert timezone.localdate(pilot.closed_at) == today - datetime.timedelta(days=226)
    assert statuses(pilot) == {
        AssignmentStatus.ACCEPTED: 7, AssignmentStatus.IN_PROGRESS: 2, AssignmentStatus.NOT_STARTED: 1,
    }
    assert Campaign.objects.order_by("-created_at").first().name == LIVE_CAMPAIGN
    assert not Notification.objects.filter(assignment__campaign=pilot, read_at=None).exists()


def test_everyone_in_the_division_has_a_manager_login(loaded):
    vp = Person.objects.get(title=VP_TITLE)
    division = list(Person.objects.descendants(vp, include_self=True).select_related("user"))

    assert len(division) == 41
    assert all(person.user and person.user.has_role(Role.MANAGER) for person in division)
    assert vp.user.username == vp.email.split("@")[0]
    assert User.objects.get(username=vp.user.username).check_password("vmcensus-demo")


def test_the_output_and_a_second_run_that_changes_nothing(loaded):
    vp = Person.objects.get(title=VP_TITLE)
    manager = Person.objects.get(user__username="manager")
    due = timezone.localdate() + datetime.timedelta(days=21)
    assert loaded == [
        "Questionnaires: template “VM discovery” v1 loaded.",
        f"Campaign “{LIVE_CAMPAIGN}”: 41 assignments over {vp.name}'s division, due {due:%d %b %Y}: 14 not started, "
        "8 in progress, 3 submitted, 1 returned, 15 accepted; 20 declared VMs (0 pre-filled from inventory through "
        "3 cluster mappings).",
        f"Campaign “{PILOT_CAMPAIGN}”: closed, 10 assignments: 1 not started, 2 in progress, 7 accepted.",
        f"Reconciliation of “{LIVE_CAMPAIGN}”: matched=0 undeclared=0 not_found=0 not_found_unscanned=20 "
        "conflict=0 mismatch=0.",  # nothing is scanned without the inventory's demo
        f"  40 logins for the division's people: the name of their e-mail address (e.g. {vp.user.username}, the VP), "
        f"same password; manager is {manager.name}, a director with a part to review, one returned and one in "
        "progress below.",
    ]
    before = db_state()

    again = demo_load()

    assert again == [
        "Questionnaires: template “VM discovery” v1 already loaded.",
        "Questionnaires: demo campaigns already loaded.",
    ]
    assert db_state() == before


def test_with_the_inventory_the_reconciled_campaign_has_every_state_and_the_manager_follow_ups(db):
    from inventory.services.demo import demo_load as inventory_demo_load
    from questionnaires.choices import ReconciliationState
    from questionnaires.models import ReconciliationItem
    from questionnaires.selectors import follow_ups_for_user

    portal_demo_load()
    inventory_demo_load()
    demo_load()

    live = Campaign.objects.get(name=LIVE_CAMPAIGN)
    states = set(ReconciliationItem.objects.filter(campaign=live).values_list("state", flat=True))
    assert states == set(ReconciliationState.values)
    manager = User.objects.get(username="manager")
    waiting = follow_ups_for_user(manager).filter(resolution="")
    assert waiting.exists()
    assert {item.state for item in waiting} <= {ReconciliationState.NOT_FOUND, ReconciliationState.NOT_FOUND_UNSCANNED,
                                                 ReconciliationState.UNDECLARED, ReconciliationState.CONFLICT,
                                                 ReconciliationState.MISMATCH}
