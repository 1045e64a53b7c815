"""Celery doors onto the reminder and reconciliation services.

Each is safe to run twice, so a database error that is transient (a lock held by a concurrent run, a
dropped connection) is retried with backoff rather than lost.
"""

from celery import shared_task
from django.db import OperationalError

from questionnaires.models import Campaign
from questionnaires.services.reconciliation import reconciliation_run, reconciliation_run_all
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


@shared_task(
    name="questionnaires.reconciliation_run",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=DATABASE_RETRIES,
)
def reconciliation_run_task(campaign_id: int, trigger: str) -> dict[str, int]:
    """Reconcile one campaign; runs of a campaign take its row lock in turn, and a rerun changes nothing."""
    return reconciliation_run(campaign=Campaign.objects.get(pk=campaign_id), trigger=trigger).counts


@shared_task(
    name="questionnaires.reconciliation_run_all",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=DATABASE_RETRIES,
)
def reconciliation_run_all_task(trigger: str) -> int:
    """After a complete scan: reconcile every campaign still followed up; returns how many were."""
    return len(reconciliation_run_all(trigger=trigger))
