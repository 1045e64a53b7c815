"""Campaigns: create, launch down the chain of command, close and re-open; the record of exports.

A campaign sends a template version to the head of a subtree (its scope). Each assignee answers for their
own area, delegates parts to direct reports, and reviews what comes back before submitting upwards (see
``assignments``); the root assignment is reviewed by the campaign's owner.
"""

import datetime
from collections import defaultdict

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from portal.choices import NotificationKind, Role
from portal.models import Person, User
from portal.selectors import person_subtree
from portal.services.audit import audit_log
from portal.services.notifications import notifications_notify
from questionnaires.choices import OPEN_STATUSES, CampaignStatus, ReconciliationTrigger
from questionnaires.models import Assignment, Campaign, Section, TemplateVersion
from questionnaires.permissions import is_logged_in
from questionnaires.services.reconciliation import reconciliation_queue
from questionnaires.services.workflow import (
    assignment_notification,
    campaign_lock,
    campaign_require_manager,
    date_text,
    due_date_require_ahead,
    user_name,
)

# Assignments per INSERT at launch: 5,000 people in a few statements per level of the org chart.
ASSIGNMENT_WRITE_BATCH_SIZE = 1000
# The longest reminder cadence and escalation delay a campaign may have.
MAX_CADENCE_DAYS = 365


def campaign_fields_problems(
    *,
    name: str | None = None,
    version: TemplateVersion | None = None,
    scope: Person | None = None,
    due_date: datetime.date | None = None,
    reminder_every_days: int | None = None,
    escalate_after_days: int | None = None,
) -> dict[str, str]:
    """What is wrong with a campaign's settings, by field; a field given as None is not checked (a form passes
    what it could read, so that one round names every problem)."""
    errors: dict[str, str] = {}
    if name is not None and not name.strip():
        errors["name"] = "A campaign needs a name."
    today = timezone.localdate()
    if due_date is not None and due_date <= today:
        errors["due_date"] = f"The due date {date_text(due_date)} is not in the future (today is {date_text(today)})."
    if scope is not None and not scope.active:
        errors["scope"] = f"{scope.name} is no longer active; choose an active person as the head of the scope."
    if reminder_every_days is not None and not 0 <= reminder_every_days <= MAX_CADENCE_DAYS:
        errors["reminder_every_days"] = f"Between 0 (no reminders) and {MAX_CADENCE_DAYS} days."
    if escalate_after_days is not None and not 1 <= escalate_after_days <= MAX_CADENCE_DAYS:
        errors["escalate_after_days"] = f"Between 1 and {MAX_CADENCE_DAYS} days."
    if version is not None and not Section.objects.filter(version=version).exists():
        errors["version"] = f"{version} has no sections: there is nothing to answer."
    return errors


# The settings of a draft that ``campaign_update`` changes.
CAMPAIGN_FIELDS = ("name", "version", "scope", "due_date", "reminder_every_days", "escalate_after_days", "cascade")


def _require_draft(campaign: Campaign, what: str) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(
            f"The campaign “{campaign}” is {campaign.get_status_display().lower()}: only a draft can be {what}."
        )


@transaction.atomic
def campaign_update(*, campaign: Campaign, user: User, **values) -> Campaign:
    """Change a draft's settings (``CAMPAIGN_FIELDS``); audited with each change's old and new value."""
    campaign_lock(campaign)
    campaign_require_manager(campaign, user, "edit")
    _require_draft(campaign, "edited")
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise ValueError(f"Not a campaign setting: {', '.join(sorted(unknown))}")
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
    errors = campaign_fields_problems(**{key: value for key, value in values.items() if key != "cascade"})
    if errors:
        raise ValidationError(errors)
    changes = {
        key: {"from": str(getattr(campaign, key)), "to": str(value)}
        for key, value in values.items()
        if getattr(campaign, key) != value
    }
    if not changes:
        return campaign
    for key, value in values.items():
        setattr(campaign, key, value)
    campaign.save(update_fields=list(values))
    audit_log(action="campaign.updated", actor=user, obj=campaign, details={"changes": changes})
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign, user: User) -> None:
    """Delete a draft (nobody has been asked yet); the audit trail keeps what it was."""
    campaign_lock(campaign)
    campaign_require_manager(campaign, user, "delete")
    _require_draft(campaign, "deleted")
    audit_log(
        action="campaign.deleted", actor=user, obj=campaign,
        details={"name": campaign.name, "scope": campaign.scope.email, "due_date": campaign.due_date},
    )
    campaign.delete()


@transaction.atomic
def campaign_create(
    *,
    name: str,
    version: TemplateVersion,
    scope: Person,
    owner: User,
    due_date: datetime.date,
    reminder_every_days: int = 7,
    escalate_after_days: int = 3,
    cascade: bool = True,
) -> Campaign:
    """A draft campaign owned by a compliance officer (or an admin); nothing is sent until it is launched."""
    if not (is_logged_in(owner) and owner.has_role(Role.COMPLIANCE_OFFICER, Role.ADMIN)):
        raise PermissionDenied("Only a compliance officer or an admin can create a campaign.")
    name = (name or "").strip()
    errors = campaign_fields_problems(
        name=name, version=version, scope=scope, due_date=due_date, reminder_every_days=reminder_every_days,
        escalate_after_days=escalate_after_days,
    )
    if errors:
        raise ValidationError(errors)
    campaign = Campaign.objects.create(
        name=name,
        version=version,
        scope=scope,
        owner=owner,
        due_date=due_date,
        reminder_every_days=reminder_every_days,
        escalate_after_days=escalate_after_days,
        cascade=cascade,
    )
    audit_log(
        action="campaign.created",
        actor=owner,
        obj=campaign,
        details={
            "version": str(version),
            "scope": scope.email,
            "due_date": due_date,
            "cascade": cascade,
            "reminder_every_days": reminder_every_days,
            "escalate_after_days": escalate_after_days,
        },
    )
    return campaign


def _launch_levels(scope: Person, cascade: bool) -> list[list[tuple[int, int | None]]]:
    """(person id, id of the person whose assignment is their parent) for each assignee, level by level.

    One recursive query loads the scope's subtree. An inactive person gets no assignment; their active
    reports hang under the nearest active manager above them.
    """
    if not cascade:
        return [[(scope.pk, None)]]
    rows = person_subtree(person=scope).values_list("id", "parent_id", "active")
    reports: dict[int, list[int]] = defaultdict(list)
    active: dict[int, bool] = {}
    for person_id, parent_id, is_active in rows:
        active[person_id] = is_active
        if person_id != scope.pk:
            reports[parent_id].append(person_id)
    levels: list[list[tuple[int, int | None]]] = []
    # (person, nearest active manager at or above their own manager)
    frontier: list[tuple[int, int | None]] = [(scope.pk, None)]
    while frontier:
        level = [(person_id, manager_id) for person_id, manager_id in frontier if active[person_id]]
        if level:
            levels.append(level)
        frontier = [
            (report, person_id if active[person_id] else manager_id)
            for person_id, manager_id in frontier
            for report in reports[person_id]
        ]
    return levels


@transaction.atomic
def campaign_launch(*, campaign: Campaign, user: User) -> int:
    """Draft → active: create the assignments in bulk and notify each assignee; returns how many were created.

    A cascading campaign assigns every active person of the scope's subtree, each under their manager's
    assignment; otherwise only the head of the scope is assigned and delegates as they choose. Queries are
    bounded by the depth of the org chart, not by its size.
    """
    campaign_lock(campaign)
    campaign_require_manager(campaign, user, "launch")
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(f"The campaign “{campaign}” is {campaign.get_status_display().lower()}; "
                              "only a draft can be launched.")
    due_date_require_ahead(campaign.due_date, "change it before launching")
    scope = Person.objects.get(pk=campaign.scope_id)
    if not scope.active:
        raise ValidationError({"scope": f"{scope.name}, the head of the scope, is no longer active."})

    assignment_of: dict[int, int] = {}
    created: list[Assignment] = []
    for level in _launch_levels(scope, campaign.cascade):
        batch = [
            Assignment(campaign=campaign, person_id=person_id, parent_id=assignment_of.get(manager_id))
            for person_id, manager_id in level
        ]
        # bulk_create returns primary keys on PostgreSQL and SQLite 3.35+: the next level needs them.
        Assignment.objects.bulk_create(batch, batch_size=ASSIGNMENT_WRITE_BATCH_SIZE)
        assignment_of.update((assignment.person_id, assignment.pk) for assignment in batch)
        created.extend(batch)

    campaign.status = CampaignStatus.ACTIVE
    campaign.launched_at = timezone.now()
    campaign.save(update_fields=["status", "launched_at"])
    audit_log(
        action="campaign.launched",
        actor=user,
        obj=campaign,
        details={"assignments": len(created), "cascade": campaign.cascade, "scope": scope.email},
    )
    subject = f"{campaign.name}: your questionnaire is due {date_text(campaign.due_date)}"
    body = (
        f"You are asked to answer “{campaign.name}” for your area by {date_text(campaign.due_date)}.\n"
        "Answer for what you run yourself; you can hand parts of it to your direct reports and review "
        "what they send back before you submit."
    )
    notifications_notify(
        assignment_notification(
            person_id=assignment.person_id,
            assignment_id=assignment.pk,
            kind=NotificationKind.ASSIGNED,
            subject=subject,
            body=body,
            key=f"assigned:{assignment.pk}",
        )
        for assignment in created
    )
    return len(created)


def _notify_open_assignees(campaign: Campaign, *, kind: str, subject: str, body: str, key: str) -> int:
    rows = Assignment.objects.filter(campaign=campaign, status__in=OPEN_STATUSES).values_list("id", "person_id")
    count = notifications_notify(
        assignment_notification(
            person_id=person_id,
            assignment_id=assignment_id,
            kind=kind,
            subject=subject,
            body=body,
            key=f"{key}:{assignment_id}",
        )
        for assignment_id, person_id in rows
    )
    return count


@transaction.atomic
def campaign_close(*, campaign: Campaign, user: User) -> Campaign:
    """Active → closed: answers freeze; assignees who had not finished are told."""
    campaign_lock(campaign)
    campaign_require_manager(campaign, user, "close")
    if campaign.status != CampaignStatus.ACTIVE:
        raise ValidationError(f"The campaign “{campaign}” is {campaign.get_status_display().lower()}; "
                              "only an active campaign can be closed.")
    campaign.status = CampaignStatus.CLOSED
    campaign.closed_at = timezone.now()
    campaign.save(update_fields=["status", "closed_at"])
    counts = dict(
        Assignment.objects.filter(campaign=campaign).values_list("status").annotate(n=Count("id")).order_by()
    )
    event = audit_log(action="campaign.closed", actor=user, obj=campaign, details={"statuses": counts})
    reconciliation_queue(campaign=campaign, trigger=ReconciliationTrigger.CLOSE)
    _notify_open_assignees(
        campaign,
        kind=NotificationKind.CLOSED,
        subject=f"{campaign.name} is closed",
        body=f"The campaign “{campaign.name}” was closed by {user_name(user)}; answers can no longer be changed.",
        key=f"closed:{event.pk}",
    )
    return campaign


@transaction.atomic
def campaign_reopen(*, campaign: Campaign, user: User, due_date: datetime.date | None = None) -> Campaign:
    """Closed → active, optionally with a new due date (required when the old one has passed)."""
    campaign_lock(campaign)
    campaign_require_manager(campaign, user, "re-open")
    if campaign.status != CampaignStatus.CLOSED:
        raise ValidationError(f"The campaign “{campaign}” is {campaign.get_status_display().lower()}; "
                              "only a closed campaign can be re-opened.")
    previous_due_date = campaign.due_date
    due_date_require_ahead(due_date or campaign.due_date, "give a new due date to re-open it")
    campaign.status = CampaignStatus.ACTIVE
    campaign.closed_at = None
    campaign.due_date = due_date or campaign.due_date
    campaign.save(update_fields=["status", "closed_at", "due_date"])
    event = audit_log(
        action="campaign.reopened",
        actor=user,
        obj=campaign,
        details={"due_date": campaign.due_date, "previous_due_date": previous_due_date},
    )
    _notify_open_assignees(
        campaign,
        kind=NotificationKind.REOPENED,
        subject=f"{campaign.name} is open again, due {date_text(campaign.due_date)}",
        body=f"The campaign “{campaign.name}” was re-opened by {user_name(user)}; please finish your part by "
        f"{date_text(campaign.due_date)}.",
        key=f"reopened:{event.pk}",
    )
    return campaign


def campaign_export_record(*, campaign: Campaign, user: User, export: str) -> None:
    """Answers leaving the portal are an auditable act: who downloaded which export of which campaign."""
    audit_log(action="campaign.exported", actor=user, obj=campaign, details={"export": export})
