"""Celery doors onto the notification and reminder services (routed to the "notifications" queue).

Both are safe to run twice, so a database error that is transient (a lock held by a concurrent run, a
dropped connection) is retried with backoff rather than lost.
"""

from celery import shared_task
from django.db import OperationalError

from questionnaires.services.notifications import notifications_send
from questionnaires.services.reminders import reminders_run

# Transient database trouble: retried after 1, 2, 4... seconds (jittered), at most this many times.
DATABASE_RETRIES = 5


@shared_task(
    name="questionnaires.notifications_send",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=DATABASE_RETRIES,
)
def notifications_send_task() -> int:
    """E-mail the notifications not sent yet; rows are claimed before sending, so a second run sends nothing."""
    return notifications_send()


@shared_task(
    name="questionnaires.reminders_run",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=DATABASE_RETRIES,
)
def reminders_run_task() -> dict[str, int]:
    """For beat, daily: reminders and escalations due today; each has a unique key, so reruns add nothing."""
    return reminders_run()
