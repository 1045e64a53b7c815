"""Read queries of the questionnaires app: assignments a user may see, progress of a campaign, the inbox.

Progress is computed from one query of the campaign's ``(id, parent_id, status)``
rows, aggregated in Python: bounded whatever the size of the tree (5,000 rows
are a few milliseconds), and the same rows serve the whole campaign, any
subtree and the drill-down of a branch.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone

from portal.choices import Role
from portal.models import Person, User
from portal.selectors import person_subtree
from questionnaires.choices import AssignmentStatus, CampaignStatus
from questionnaires.models import Assignment, Campaign, Notification

OPEN_STATUSES = frozenset({AssignmentStatus.NOT_STARTED, AssignmentStatus.IN_PROGRESS, AssignmentStatus.RETURNED})
# Roles that read every campaign and assignment (compliance officers act on them; auditors only read).
OVERSIGHT_ROLES = (Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMIN)


def _empty_counts() -> dict[str, int]:
    counts = {status.value: 0 for status in AssignmentStatus}
    counts.update(overdue=0, total=0)
    return counts


def _finish(counts: dict[str, int]) -> dict[str, int]:
    """Add the share done (accepted) in whole percent, for progress bars."""
    total = counts["total"]
    counts["percent_accepted"] = round(100 * counts[AssignmentStatus.ACCEPTED] / total) if total else 0
    return counts


def _is_overdue(campaign: Campaign, today: datetime.date) -> bool:
    return campaign.status != CampaignStatus.DRAFT and campaign.due_date < today


@dataclass
class _CampaignTree:
    """A campaign's assignments as a tree of ids, loaded in one query."""

    status: dict[int, str] = field(default_factory=dict)
    children: dict[int | None, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_person: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls, campaign: Campaign) -> "_CampaignTree":
        tree = cls()
        rows = Assignment.objects.filter(campaign=campaign).values_list("id", "parent_id", "status", "person_id")
        for assignment_id, parent_id, status, person_id in rows:
            tree.status[assignment_id] = status
            tree.children[parent_id].append(assignment_id)
            tree.by_person[person_id] = assignment_id
        return tree

    def subtree(self, root_id: int) -> list[int]:
        found, stack = [], [root_id]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(self.children.get(current, ()))
        return found

    def counts(self, ids, *, overdue: bool) -> dict[str, int]:
        counts = _empty_counts()
        for assignment_id in ids:
            status = self.status[assignment_id]
            counts[status] += 1
            counts["total"] += 1
            if overdue and status in OPEN_STATUSES:
                counts["overdue"] += 1
        return _finish(counts)


def campaign_progress(
    *, campaign: Campaign, root_person: Person | None = None, today: datetime.date | None = None
) -> dict[str, int]:
    """Assignments by status (``not_started``, ``in_progress``, ``submitted``, ``returned``, ``accepted``), plus
    ``overdue`` (open past the due date), ``total`` and ``percent_accepted``.

    For the whole campaign, or for what ``root_person`` answers for: their assignment and everything delegated
    below it (zeros when they have no part in the campaign). One query either way.
    """
    overdue = _is_overdue(campaign, today or timezone.localdate())
    tree = _CampaignTree.load(campaign)
    if root_person is None:
        return tree.counts(tree.status, overdue=overdue)
    root_id = tree.by_person.get(root_person.pk)
    if root_id is None:
        return _finish(_empty_counts())
    return tree.counts(tree.subtree(root_id), overdue=overdue)


def assignment_children_progress(*, assignment: Assignment, today: datetime.date | None = None) -> list[dict]:
    """The drill-down of one branch: each part delegated from ``assignment``, with the counts of its own subtree.

    Each item: ``assignment`` (with person loaded), ``counts`` (as ``campaign_progress``) and ``has_children``.
    Two queries whatever the size of the branch.
    """
    campaign = assignment.campaign
    overdue = _is_overdue(campaign, today or timezone.localdate())
    tree = _CampaignTree.load(campaign)
    children = (
        Assignment.objects.filter(parent=assignment).select_related("person", "reviewed_by").order_by("person__name")
    )
    return [
        {
            "assignment": child,
            "counts": tree.counts(tree.subtree(child.pk), overdue=overdue),
            "has_children": bool(tree.children.get(child.pk)),
        }
        for child in children
    ]


def _assignment_list() -> QuerySet[Assignment]:
    return Assignment.objects.select_related("campaign", "person", "parent__person").order_by(
        "campaign__due_date", "person__name"
    )


def assignments_for_user(user: User) -> QuerySet[Assignment]:
    """The user's own assignments, in every campaign, soonest due first."""
    return _assignment_list().filter(person__user=user)


def assignments_in_subtree(user: User, *, include_own: bool = False) -> QuerySet[Assignment]:
    """Assignments of the people below the user in the chain of command (none if the user is no person).

    One query: the subtree is a recursive subquery.
    """
    person = Person.objects.filter(user=user).first()
    if person is None:
        return Assignment.objects.none()
    people = person_subtree(person=person, include_self=include_own).values("id")
    return _assignment_list().filter(person_id__in=people)


def assignments_visible_to(user: User) -> QuerySet[Assignment]:
    """What a user may read: everything for oversight roles; otherwise their own and their subtree's."""
    if user.has_role(*OVERSIGHT_ROLES):
        return _assignment_list()
    person = Person.objects.filter(user=user).first()
    if person is None:
        return Assignment.objects.none()
    return _assignment_list().filter(person_id__in=person_subtree(person=person).values("id"))


def notifications_for_user(user: User, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's portal inbox, newest first."""
    notifications = Notification.objects.filter(person__user=user).select_related("assignment__campaign")
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications.order_by("-created_at", "-id")


def notification_unread_count(user: User) -> int:
    return Notification.objects.filter(person__user=user, read_at__isnull=True).count()
