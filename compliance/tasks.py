"""Celery door onto control evaluation: after a complete scan, a reconciliation run, a campaign close, and daily."""

from celery import shared_task
from django.db import OperationalError

from compliance.services.evaluation import controls_evaluate

# Transient database trouble (a lock held by a scan writing VMs): retried after 1, 2, 4... seconds.
DATABASE_RETRIES = 5
# Evaluating every control over 10,000 VMs takes a few seconds; a run past this is stuck, not slow.
EVALUATION_SOFT_TIME_LIMIT = 5 * 60
EVALUATION_TIME_LIMIT = EVALUATION_SOFT_TIME_LIMIT + 60


@shared_task(
    name="compliance.controls_evaluate",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=DATABASE_RETRIES,
    soft_time_limit=EVALUATION_SOFT_TIME_LIMIT,
    time_limit=EVALUATION_TIME_LIMIT,
)
def controls_evaluate_task(trigger: str) -> int:
    """Evaluate every automated control; the daily run happens once a day however often it is delivered.
    Returns the run's id."""
    return controls_evaluate(trigger=trigger).pk
