"""Celery doors onto compliance: control evaluation (after a complete scan, a reconciliation run, a campaign
close, and daily), the daily runs of plan reminders, exception expiry and the attestation calendar, and the
evidence pack build (on the ``pdf`` queue).

Each is safe to run twice (state guards and notification keys), so transient database trouble is retried.
"""

from celery import shared_task
from django.db import OperationalError

from compliance.services.attestations import control_tests_remind, control_tests_schedule, evidence_expire
from compliance.services.evaluation import controls_evaluate
from compliance.services.exceptions import exceptions_expire
from compliance.services.packs import pack_build
from compliance.services.plans import plan_reminders_run

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
def controls_evaluate_task(trigger: str) -> int | None:
    """Evaluate every automated control; the daily run happens once a day however often it is delivered.
    Returns the run's id (None before the library is loaded)."""
    run = controls_evaluate(trigger=trigger)
    return run.pk if run else None


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


@shared_task(name="compliance.attestation_daily", autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=DATABASE_RETRIES)
def attestation_daily_task() -> dict[str, int]:
    """For beat, daily: write the test calendar ahead, remind owners and flag missed tests, expire evidence.
    Each step is guarded by state and keys, so a rerun changes nothing."""
    written = control_tests_schedule()
    reminders = control_tests_remind()
    return {"scheduled": written, **reminders, "evidence_expired": evidence_expire()}


# A pack of 10,000 VMs builds in about a minute; the renderer's own limit (PDF_RENDER_TIMEOUT) stops first.
PACK_SOFT_TIME_LIMIT = 20 * 60
PACK_TIME_LIMIT = PACK_SOFT_TIME_LIMIT + 60


@shared_task(name="compliance.pack_build", soft_time_limit=PACK_SOFT_TIME_LIMIT, time_limit=PACK_TIME_LIMIT)
def pack_build_task(pack_id: int) -> str:
    """Build a queued pack; a second delivery of the same pack does nothing."""
    return pack_build(pack_id=pack_id).state
