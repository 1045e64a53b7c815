"""What the campaign and assignment services share: locks, state checks, and the messages they send.

Every service of the workflow is atomic, writes one audit event in its own transaction, and notifies the
people concerned (rows first, e-mail by a Celery task once the transaction commits). Views, the API and
commands show the ``ValidationError`` (the request is wrong for the current state) or ``PermissionDenied``
(this user may not do it) messages as they are.
"""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal.models import Notification, User
from portal.selectors import person_for_user
from portal.services.notifications import notification_new
from portal.trees import children_map, subtree
from questionnaires.choices import CampaignStatus
from questionnaires.models import Assignment, Campaign
from questionnaires.permissions import campaign_may_manage

# Where an assignment is answered; the e-mail links straight to it (PORTAL_BASE_URL + this path).
ASSIGNMENT_PATH = "/questionnaires/assignments/{id}/"


def date_text(value: datetime.date) -> str:
    return f"{value:%d %b %Y}"


def user_name(user: User) -> str:
    """How a message names the user who acted: their name in the org chart, else their login's name."""
    person = person_for_user(user=user)
    return person.name if person else str(user)


def campaign_lock(campaign: Campaign) -> None:
    """Reload the campaign under a row lock, so two requests never change its state at once."""
    campaign.refresh_from_db(from_queryset=Campaign.objects.select_for_update())


def assignment_lock(assignment: Assignment) -> None:
    """Reload the assignment under a row lock, and its campaign as it is now (not as the caller cached it)."""
    assignment.refresh_from_db(from_queryset=Assignment.objects.select_for_update())
    assignment.campaign = Campaign.objects.select_related("owner").get(pk=assignment.campaign_id)


def campaign_require_active(campaign: Campaign) -> None:
    if campaign.status == CampaignStatus.DRAFT:
        raise ValidationError(f"The campaign “{campaign}” has not been launched yet.")
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError(f"The campaign “{campaign}” is closed: its answers are frozen.")


def campaign_require_manager(campaign: Campaign, user: User | None, what: str) -> None:
    if not campaign_may_manage(campaign=campaign, user=user):
        raise PermissionDenied(f"Only the campaign's owner ({campaign.owner}) or an admin can {what} it.")


def due_date_require_ahead(due_date: datetime.date, what: str) -> None:
    today = timezone.localdate()
    if due_date <= today:
        raise ValidationError(
            {"due_date": f"The due date {date_text(due_date)} is not in the future "
                         f"(today is {date_text(today)}); {what}."}
        )


def assignment_link(assignment_id: int) -> str:
    """The portal path of an assignment, as stored in ``Notification.link``."""
    return ASSIGNMENT_PATH.format(id=assignment_id)


def assignment_notification(
    *, person_id: int, assignment_id: int, kind: str, subject: str, body: str, key: str
) -> Notification:
    """A message about an assignment, linking to it."""
    return notification_new(
        person_id=person_id, kind=kind, subject=subject, body=body, dedupe_key=key,
        link=assignment_link(assignment_id), about=Assignment(pk=assignment_id),
    )


def assignment_subtree_ids(campaign_id: int, root_id: int) -> list[int]:
    """Ids of an assignment and everything delegated below it, from one query of the campaign's tree."""
    pairs = Assignment.objects.filter(campaign_id=campaign_id).values_list("id", "parent_id")
    return subtree(children_map(pairs), root_id)
