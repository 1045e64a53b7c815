"""Notifications for every app: written in bulk by workflows, reminders and policy runs, then e-mailed by a task.

A notification is a row first (the portal inbox) and an e-mail second. Every row has a unique ``dedupe_key``,
so writing the same notification twice (a task run twice, two workers at once, a retried request) leaves one
row; and sending claims rows under a lock before e-mailing them, so each row is e-mailed at most once. Rows of
one person that carry the same ``digest`` subject go out as one e-mail listing them all.
"""

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from portal.models import Notification, User

logger = logging.getLogger(__name__)

# Rows per INSERT: 5,000 notifications in a handful of statements, and within SQLite's bound-parameter limit.
NOTIFICATION_WRITE_BATCH_SIZE = 1000
# Rows claimed per transaction while sending: the lock is held only for the claim, and a worker that dies
# mid-batch loses at most this many e-mails (claimed rows are not sent twice).
NOTIFICATION_SEND_BATCH_SIZE = 200
# Items a digest e-mail lists one by one; the rest are counted and wait in the inbox.
DIGEST_ITEMS_LISTED = 50
SUBJECT_MAX_LENGTH = Notification._meta.get_field("subject").max_length
DIGEST_MAX_LENGTH = Notification._meta.get_field("digest").max_length
DEDUPE_KEY_MAX_LENGTH = Notification._meta.get_field("dedupe_key").max_length
ELLIPSIS = "…"


def _fit(text: str, length: int) -> str:
    """Cut a line to the field's length, marking the cut, so a long name never overflows a subject."""
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _key(key: str) -> str:
    """A dedupe key within its column: a long key keeps its start and ends with a hash of the whole."""
    if len(key) <= DEDUPE_KEY_MAX_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: DEDUPE_KEY_MAX_LENGTH - 33]}#{digest}"


def notification_new(
    *,
    person_id: int,
    kind: str,
    subject: str,
    body: str,
    dedupe_key: str,
    link: str = "",
    about: models.Model | None = None,
    digest: str = "",
) -> Notification:
    """An unsaved notification with its subject, digest and key cut to their columns in one place.

    ``about`` may be an unsaved instance that only carries its primary key (``Assignment(pk=7)``), so bulk
    writers need not load what they write about.
    """
    return Notification(
        person_id=person_id,
        kind=kind,
        subject=_fit(subject, SUBJECT_MAX_LENGTH),
        body=body,
        link=link,
        about_type=ContentType.objects.get_for_model(about) if about is not None else None,
        about_id=about.pk if about is not None else None,
        digest=_fit(digest, DIGEST_MAX_LENGTH) if digest else "",
        dedupe_key=_key(dedupe_key),
    )


def notifications_create(rows: Iterable[Notification]) -> int:
    """Insert notifications in bulk; a row whose ``dedupe_key`` exists already is skipped, not an error.

    Returns how many rows were offered (with ``ignore_conflicts`` the database does not say which were new).
    Sending is queued separately, with ``notifications_send_on_commit``.
    """
    rows = list(rows)
    if rows:
        Notification.objects.bulk_create(rows, batch_size=NOTIFICATION_WRITE_BATCH_SIZE, ignore_conflicts=True)
    return len(rows)


def notifications_notify(rows: Iterable[Notification]) -> int:
    """Store the messages (each once, by its dedupe key) and send their e-mails once the transaction commits."""
    count = notifications_create(rows)
    notifications_send_on_commit()
    return count


def _enqueue_send() -> None:
    # Imported here: tasks import the services, not the other way round.
    from portal.tasks import notifications_send_task

    try:
        notifications_send_task.delay()
    except Exception:  # a broker outage must not fail the request that already committed; beat resends later
        logger.exception("Could not queue notifications_send_task; the periodic run will send the e-mails")


def notifications_send_on_commit() -> None:
    """Queue the e-mail task once the current transaction commits (at once when there is none)."""
    transaction.on_commit(_enqueue_send)


def _claim_ids(unsent: models.QuerySet, claimed_at) -> list[int]:
    """Mark the rows of ``unsent`` as e-mailed and return their ids; no other worker gets them.

    On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent workers claim disjoint rows. SQLite has
    no row locks but serialises writers: there the claim is one conditional UPDATE stamped with this call's
    time, and the rows carrying that stamp are the ones claimed.
    """
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(unsent.select_for_update(skip_locked=True).values_list("id", flat=True))
            Notification.objects.filter(id__in=ids).update(emailed_at=claimed_at)
        return ids
    Notification.objects.filter(id__in=unsent.values("id")).update(emailed_at=claimed_at)
    return list(Notification.objects.filter(emailed_at=claimed_at).values_list("id", flat=True))


def _claim(batch_size: int) -> list[Notification]:
    """Claim up to ``batch_size`` unsent rows, plus the unsent rows of the digests they belong to, so that a
    digest is never split over two e-mails."""
    claimed_at = timezone.now()
    pending = Notification.objects.filter(emailed_at__isnull=True)
    ids = set(_claim_ids(pending.order_by("id")[:batch_size], claimed_at))
    digests = set(
        Notification.objects.filter(id__in=ids).exclude(digest="").values_list("person_id", "digest").distinct()
    )
    if digests:
        siblings = Q()
        for person_id, digest in digests:
            siblings |= Q(person_id=person_id, digest=digest)
        ids.update(_claim_ids(pending.filter(siblings).order_by("id"), claimed_at))
    return list(Notification.objects.filter(id__in=ids).select_related("person").order_by("id"))


def _absolute(link: str) -> str:
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{link}"


def _single(notification: Notification) -> tuple[str, str]:
    body = notification.body
    if notification.link:
        body += f"\n\nOpen it in vmcensus: {_absolute(notification.link)}"
    return notification.subject, body


def _digest(rows: list[Notification]) -> tuple[str, str]:
    lines = [f"{len(rows)} new item{'s' * (len(rows) != 1)} for you in vmcensus:", ""]
    for row in rows[:DIGEST_ITEMS_LISTED]:
        lines.append(f"- {row.subject}" + (f"\n  {_absolute(row.link)}" if row.link else ""))
    if len(rows) > DIGEST_ITEMS_LISTED:
        lines.append(f"... and {len(rows) - DIGEST_ITEMS_LISTED} more in your inbox: {_absolute('/inbox/')}")
    return rows[0].digest, "\n".join(lines)


def _messages(batch: list[Notification]) -> list[tuple[list[int], str, str, str]]:
    """(row ids, recipient, subject, body) of each e-mail the batch makes: one per row, one per digest."""
    groups: dict[tuple[int, str], list[Notification]] = defaultdict(list)
    out = []
    for row in batch:
        if row.digest:
            groups[(row.person_id, row.digest)].append(row)
        else:
            out.append(([row.pk], row.person.email, *_single(row)))
    for rows in groups.values():
        out.append(([row.pk for row in rows], rows[0].person.email, *_digest(rows)))
    return out


def _email(recipient: str, subject: str, body: str, mail_connection: BaseEmailBackend) -> mail.EmailMessage:
    return mail.EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[recipient],
        connection=mail_connection,
    )


def notifications_send(*, batch_size: int = NOTIFICATION_SEND_BATCH_SIZE) -> int:
    """E-mail every unsent notification, batch by batch, over one mail connection; returns how many e-mails
    were sent (a digest is one e-mail for all its rows).

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
            outgoing = _messages(batch)
            for index, (_ids, recipient, subject, body) in enumerate(outgoing):
                try:
                    mail_connection.send_messages([_email(recipient, subject, body, mail_connection)])
                except Exception:
                    unsent_ids = [row_id for ids, *_rest in outgoing[index:] for row_id in ids]
                    Notification.objects.filter(id__in=unsent_ids).update(emailed_at=None)
                    raise
                sent += 1
            batch = _claim(batch_size) if len(batch) >= batch_size else []
    return sent


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all of them, or those of ``ids``); returns how many changed."""
    unread = Notification.objects.filter(person__user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(id__in=list(ids))
    return unread.update(read_at=timezone.now())
