"""Reminders before the due date and escalation up the chain after it, run daily by Celery beat.

Safe to run twice, late, or on two workers at once: every reminder and every
escalation has a deterministic ``dedupe_key`` (``reminder:<assignment>:<date>``,
``escalation:<assignment>:<level>``) that the database keeps unique, so a
second run inserts nothing and e-mails nothing. A run that was missed catches
up: the latest reminder date that has passed is sent once, and every
escalation level that is due is sent once.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from portal.choices import NotificationKind
from portal.models import Notification, Person
from portal.services.audit import audit_log
from portal.services.notifications import notifications_create, notifications_send_on_commit
from questionnaires.choices import OPEN_STATUSES, CampaignStatus
from questionnaires.models import Assignment, Campaign
from questionnaires.services.workflow import assignment_notification, date_text

# Open assignments handled per transaction: a few queries each whatever the size, short locks, and a run
# that dies half-way keeps what it sent (the next run skips those by their keys).
REMINDER_BATCH_SIZE = 1000


@dataclass(frozen=True)
class _PersonNode:
    parent_id: int | None
    active: bool
    name: str


def reminder_date(*, due_date: datetime.date, every_days: int, today: datetime.date) -> datetime.date | None:
    """The latest reminder date on or before ``today``: the due date minus a multiple of the cadence.

    None on or after the due date (escalation takes over) or when the campaign sends no reminders.
    """
    days_left = (due_date - today).days
    if every_days <= 0 or days_left <= 0:
        return None
    periods = -(-days_left // every_days)  # ceiling: the first reminder date not after today
    return due_date - datetime.timedelta(days=periods * every_days)


def escalation_chain(
    *, person_id: int, scope_id: int, owner_person_id: int | None, tree: dict[int, _PersonNode]
) -> list[int]:
    """Who is told, level by level, when ``person_id`` is overdue: their active managers, up to and including
    the head of the campaign's scope; for the head of the scope, the campaign owner's person."""
    if person_id == scope_id:
        return [owner_person_id] if owner_person_id else []
    chain: list[int] = []
    seen = {person_id}
    current = tree[person_id].parent_id if person_id in tree else None
    while current is not None and current not in seen:
        seen.add(current)
        node = tree.get(current)
        if node is None:
            break
        if node.active:
            chain.append(current)
        if current == scope_id:
            break
        current = node.parent_id
    return chain


def _load_tree() -> dict[int, _PersonNode]:
    """The whole chain of command in one query; escalation walks it in memory."""
    return {
        person_id: _PersonNode(parent_id, active, name)
        for person_id, parent_id, active, name in Person.objects.values_list("id", "parent_id", "active", "name")
    }


def _plan_batch(
    batch: list[dict],
    *,
    campaigns: dict[int, Campaign],
    owner_person: dict[int, int],
    tree: dict[int, _PersonNode],
    today: datetime.date,
) -> tuple[list[Notification], dict[int, int]]:
    """The notifications due for a batch of open assignments, and the escalation level each reaches."""
    notifications: list[Notification] = []
    new_levels: dict[int, int] = {}
    for row in batch:
        campaign = campaigns[row["campaign_id"]]
        assignee = tree.get(row["person_id"])
        assignee_name = assignee.name if assignee else "somebody"
        if today < campaign.due_date:
            if assignee is None or not assignee.active:
                continue  # somebody who left is not reminded; after the due date their manager hears of it
            when = reminder_date(due_date=campaign.due_date, every_days=campaign.reminder_every_days, today=today)
            if when is None or when <= timezone.localdate(row["created_at"]):
                continue  # no reminder on the day the person was assigned: they were just told
            days_left = (campaign.due_date - today).days
            notifications.append(
                assignment_notification(
                    person_id=row["person_id"],
                    assignment_id=row["id"],
                    kind=NotificationKind.REMINDER,
                    subject=f"Reminder: {campaign.name} is due {date_text(campaign.due_date)} ({days_left} days left)",
                    body=f"Your part of “{campaign.name}” is not submitted yet. It is due "
                    f"{date_text(campaign.due_date)}; your answers so far are saved.",
                    key=f"reminder:{row['id']}:{when.isoformat()}",
                )
            )
            continue
        overdue_days = (today - campaign.due_date).days
        due_level = overdue_days // campaign.escalate_after_days
        if due_level <= row["escalation_level"]:
            continue
        chain = escalation_chain(
            person_id=row["person_id"],
            scope_id=campaign.scope_id,
            owner_person_id=owner_person.get(campaign.owner_id),
            tree=tree,
        )
        reached = min(due_level, len(chain))
        for level in range(row["escalation_level"] + 1, reached + 1):
            notifications.append(
                assignment_notification(
                    person_id=chain[level - 1],
                    assignment_id=row["id"],
                    kind=NotificationKind.ESCALATION,
                    subject=f"Overdue: {assignee_name}'s part of {campaign.name} ({overdue_days} days late)",
                    body=f"{assignee_name}'s part of “{campaign.name}” was due {date_text(campaign.due_date)} and "
                    f"is not submitted yet ({overdue_days} days overdue). You are told as their manager "
                    f"(level {level} up the chain); please follow it up.",
                    key=f"escalation:{row['id']}:{level}",
                )
            )
        if reached > row["escalation_level"]:
            new_levels[row["id"]] = reached
    return notifications, new_levels


def _existing_keys(keys: list[str]) -> set[str]:
    """Keys already sent, so that a rerun reports (and audits) only what is new."""
    return set(Notification.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))


def _write_batch(notifications: list[Notification], new_levels: dict[int, int]) -> tuple[int, int]:
    """Insert the notifications not sent before and record escalation levels; returns (reminders, escalations)."""
    already = _existing_keys([notification.dedupe_key for notification in notifications])
    fresh = [notification for notification in notifications if notification.dedupe_key not in already]
    # The guard is the unique key, not the read above: a concurrent run may insert the same keys between our
    # read and our write, and ignore_conflicts then skips them.
    notifications_create(fresh)
    by_level: dict[int, list[int]] = defaultdict(list)
    for assignment_id, level in new_levels.items():
        by_level[level].append(assignment_id)
    for level, ids in by_level.items():
        # Never lowers a level another run has already raised further.
        Assignment.objects.filter(id__in=ids, escalation_level__lt=level).update(escalation_level=level)
    reminders = sum(1 for notification in fresh if notification.kind == NotificationKind.REMINDER)
    return reminders, len(fresh) - reminders


def reminders_run(*, today: datetime.date | None = None) -> dict[str, int]:
    """Send the reminders and escalations due ``today`` for every active campaign; returns what was done.

    Open assignments (not submitted or accepted) are read in batches of ``REMINDER_BATCH_SIZE`` by id, each
    batch planned in memory against the org chart loaded once and written in one transaction.
    """
    today = today or timezone.localdate()
    campaigns = {campaign.pk: campaign for campaign in Campaign.objects.filter(status=CampaignStatus.ACTIVE)}
    result = {"campaigns": len(campaigns), "assignments_checked": 0, "reminders": 0, "escalations": 0}
    if not campaigns:
        return result
    tree = _load_tree()
    owner_ids = {campaign.owner_id for campaign in campaigns.values()}
    owner_person = dict(Person.objects.filter(user_id__in=owner_ids).values_list("user_id", "id"))
    open_assignments = (
        Assignment.objects.filter(campaign_id__in=list(campaigns), status__in=OPEN_STATUSES)
        .order_by("id")
        .values("id", "campaign_id", "person_id", "created_at", "escalation_level")
    )
    last_id = 0
    while True:
        batch = list(open_assignments.filter(id__gt=last_id)[:REMINDER_BATCH_SIZE])
        if not batch:
            break
        last_id = batch[-1]["id"]
        result["assignments_checked"] += len(batch)
        notifications, new_levels = _plan_batch(
            batch, campaigns=campaigns, owner_person=owner_person, tree=tree, today=today
        )
        if notifications or new_levels:
            with transaction.atomic():
                reminders, escalations = _write_batch(notifications, new_levels)
                if reminders or escalations:
                    audit_log(
                        action="reminders.sent",
                        actor_label="system: reminders",
                        details={
                            "date": today,
                            "reminders": reminders,
                            "escalations": escalations,
                            "campaigns": sorted({row["campaign_id"] for row in batch}),
                        },
                    )
            result["reminders"] += reminders
            result["escalations"] += escalations
        if len(batch) < REMINDER_BATCH_SIZE:
            break
    if result["reminders"] or result["escalations"]:
        notifications_send_on_commit()
    return result
