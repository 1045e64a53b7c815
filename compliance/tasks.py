"""Celery doors onto control evaluation (after a complete scan, a reconciliation run, a campaign close, and daily)
and onto the evidence pack build: ids in, service call, nothing else."""

from celery import shared_task
from django.db import OperationalError

from compliance.services.evaluation import controls_evaluate
from compliance.services.packs import pack_build

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


# A pack of 10,000 VMs builds in about a minute; the renderer's own limit (PDF_RENDER_TIMEOUT) stops first.
PACK_SOFT_TIME_LIMIT = 20 * 60
PACK_TIME_LIMIT = PACK_SOFT_TIME_LIMIT + 60


@shared_task(name="compliance.pack_build", soft_time_limit=PACK_SOFT_TIME_LIMIT, time_limit=PACK_TIME_LIMIT)
def pack_build_task(pack_id: int) -> str:
    """Build a queued pack; a second delivery of the same pack does nothing."""
    return pack_build(pack_id=pack_id).state
