"""Celery doors onto the compliance services that run daily: plan reminders, exception expiry.

Each is safe to run twice (state guards and notification keys), so transient database trouble is retried.
"""

from celery import shared_task
from django.db import OperationalError

from compliance.services.exceptions import exceptions_expire
from compliance.services.plans import plan_reminders_run

# Transient database trouble (a lock held by a scan writing VMs): retried after 1, 2, 4... seconds.
DATABASE_RETRIES = 5


@shared_task(name="compliance.plan_reminders_run", autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=DATABASE_RETRIES)
def plan_reminders_run_task() -> dict[str, int]:
    """For beat, daily: sign-off and review reminders of the security plan; reruns add nothing."""
    return plan_reminders_run()


@shared_task(name="compliance.exceptions_expire", autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=DATABASE_RETRIES)
def exceptions_expire_task() -> int:
    """For beat, daily: expire the exceptions past their date; an expired one is not expired again."""
    return exceptions_expire()
