"""Notifications: written in bulk by the workflow and reminders, then e-mailed by a Celery task.

A notification is a row first (the portal inbox) and an e-mail second. Every row
has a unique ``dedupe_key``, so writing the same notification twice (a task run
twice, two workers at once, a retried request) leaves one row; and sending claims
rows under a lock before e-mailing them, so each row is e-mailed at most once.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction
from django.utils import timezone

from portal.models import User
from questionnaires.models import Notification

logger = logging.getLogger(__name__)

# Rows per INSERT: 5,000 notifications in a handful of statements, and within SQLite's bound-parameter limit.
NOTIFICATION_WRITE_BATCH_SIZE = 1000
# Rows claimed per transaction while sending: the lock is held only for the claim, and a worker that dies
# mid-batch loses at most this many e-mails (claimed rows are not sent twice).
NOTIFICATION_SEND_BATCH_SIZE = 200
# Where an assignment is answered; the e-mail links straight to it (PORTAL_BASE_URL + this path).
ASSIGNMENT_PATH = "/questionnaires/assignments/{id}/"


def assignment_link(assignment_id: int) -> str:
    """The portal path of an assignment, as stored in ``Notification.link``."""
    return ASSIGNMENT_PATH.format(id=assignment_id)


def notifications_create(rows: Iterable[Notification]) -> int:
    """Insert notifications in bulk; a row whose ``dedupe_key`` exists already is skipped, not an error.

    Returns how many rows were offered (with ``ignore_conflicts`` the database does not say which were new).
    Sending is queued separately, with ``notifications_send_on_commit``.
    """
    rows = list(rows)
    if rows:
        Notification.objects.bulk_create(rows, batch_size=NOTIFICATION_WRITE_BATCH_SIZE, ignore_conflicts=True)
    return len(rows)


def _enqueue_send() -> None:
    # Imported here: tasks import the services, not the other way round.
    from questionnaires.tasks import notifications_send_task

    try:
        notifications_send_task.delay()
    except Exception:  # a broker outage must not fail the request that already committed; beat resends later
        logger.exception("Could not queue notifications_send_task; the periodic run will send the e-mails")


def notifications_send_on_commit() -> None:
    """Queue the e-mail task once the current transaction commits (at once when there is none)."""
    transaction.on_commit(_enqueue_send)


def _claim(batch_size: int) -> list[Notification]:
    """Mark up to ``batch_size`` unsent notifications as e-mailed and return them; no other worker gets them.

    On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers claim disjoint batches. SQLite
    has no row locks but serialises writers: there the claim is one conditional UPDATE stamped with this
    call's time, and the rows carrying that stamp are the ones claimed.
    """
    claimed_at = timezone.now()
    unsent = Notification.objects.filter(emailed_at__isnull=True).order_by("id")
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(unsent.select_for_update(skip_locked=True).values_list("id", flat=True)[:batch_size])
            Notification.objects.filter(id__in=ids).update(emailed_at=claimed_at)
        rows = Notification.objects.filter(id__in=ids)
    else:
        Notification.objects.filter(id__in=unsent.values("id")[:batch_size]).update(emailed_at=claimed_at)
        rows = Notification.objects.filter(emailed_at=claimed_at)
    return list(rows.select_related("person", "assignment__campaign").order_by("id"))


def _message(notification: Notification, mail_connection: BaseEmailBackend) -> mail.EmailMessage:
    body = notification.body
    if notification.link:
        body += f"\n\nOpen it in vmcensus: {settings.PORTAL_BASE_URL.rstrip('/')}{notification.link}"
    return mail.EmailMessage(
        subject=notification.subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.person.email],
        connection=mail_connection,
    )


def notifications_send(*, batch_size: int = NOTIFICATION_SEND_BATCH_SIZE) -> int:
    """E-mail every unsent notification, batch by batch, over one mail connection; returns how many were sent.

    Each batch is claimed (``emailed_at`` set) and committed before any e-mail goes out, so two workers never
    send the same row. If the mail server fails, the rows of the batch not yet sent are released for the next
    run and the error propagates (the task retries).
    """
    sent = 0
    batch = _claim(batch_size)
    if not batch:
        return sent  # nothing to send: no mail connection is opened
    with mail.get_connection() as mail_connection:
        while batch:
            for index, notification in enumerate(batch):
                try:
                    mail_connection.send_messages([_message(notification, mail_connection)])
                except Exception:
                    unsent_ids = [row.id for row in batch[index:]]
                    Notification.objects.filter(id__in=unsent_ids).update(emailed_at=None)
                    raise
                sent += 1
            batch = _claim(batch_size) if len(batch) == batch_size else []
    return sent


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all of them, or those of ``ids``); returns how many changed."""
    unread = Notification.objects.filter(person__user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(id__in=list(ids))
    return unread.update(read_at=timezone.now())

