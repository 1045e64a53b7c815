"""Celery doors onto the reminder service (routed to the "notifications" queue).

It is safe to run twice, so a database error that is transient (a lock held by a concurrent run, a
dropped connection) is retried with backoff rather than lost.
"""

from celery import shared_task
from django.db import OperationalError

from questionnaires.services.reminders import reminders_run

# Transient database trouble: retried after 1, 2, 4... seconds (jittered), at most this many times.
DATABASE_RETRIES = 5


@shared_task(
    name="questionnaires.reminders_run",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=DATABASE_RETRIES,
)
def reminders_run_task() -> dict[str, int]:
    """For beat, daily: reminders and escalations due today; each has a unique key, so reruns add nothing."""
    return reminders_run()
