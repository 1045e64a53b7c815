"""Celery doors onto the scan service: ids in, service call, nothing else."""

import dataclasses

from celery import shared_task

from inventory.models import ScanRun, Source
from inventory.services.approvals import deployment_requests_end_date_run, deployment_requests_link_from_scan
from inventory.services.findings import policies_evaluate
from inventory.services.policy_actions import (
    AttemptsFailed,
    OutsideWindow,
    action_batch_execute,
    policy_actions_after_evaluation,
    policy_tags_apply,
)
from inventory.services.scan import source_scan, sources_scan_queue
from inventory.vsphere.connection import VSphereError

# A scan of a large vCenter takes minutes (10,000 VMs: about 10 s here, far longer over a slow link); past the soft
# limit the run is marked failed with the reason, and the hard limit stops a worker that hangs in a socket.
SCAN_SOFT_TIME_LIMIT = 2 * 3600
SCAN_TIME_LIMIT = SCAN_SOFT_TIME_LIMIT + 300


@shared_task(name="inventory.scan_run_execute", soft_time_limit=SCAN_SOFT_TIME_LIMIT, time_limit=SCAN_TIME_LIMIT)
def scan_run_execute(run_id: int) -> str:
    """Carry out a scan run opened by ``scan_run_start``; a second delivery of the same run does nothing."""
    run = ScanRun.objects.select_related("source").get(pk=run_id)
    return source_scan(source=run.source, run=run).status


@shared_task(name="inventory.scan_all_sources")
def scan_all_sources() -> dict[str, str]:
    """For beat: queue a scan of every enabled vCenter source not already being scanned."""
    return sources_scan_queue()


# Evaluating 10,000 VMs takes seconds; the limit leaves room for an estate ten times larger.
EVALUATION_SOFT_TIME_LIMIT = 15 * 60
EVALUATION_TIME_LIMIT = EVALUATION_SOFT_TIME_LIMIT + 60


@shared_task(name="inventory.policies_evaluate", soft_time_limit=EVALUATION_SOFT_TIME_LIMIT,
             time_limit=EVALUATION_TIME_LIMIT)
def policies_evaluate_task(source_id: int | None = None) -> dict[str, int]:
    """Evaluate the policies (over one source's VMs, or all), then act on what was opened; safe to run twice."""
    source = Source.objects.get(pk=source_id) if source_id is not None else None
    result = policies_evaluate(source=source)
    policy_actions_after_evaluation(result=result)
    return result.open_by_kind


@shared_task(name="inventory.policy_tags_apply", bind=True, autoretry_for=(VSphereError,), retry_backoff=60,
             retry_backoff_max=3600, max_retries=5)
def policy_tags_apply_task(self, source_id: int) -> dict[str, int]:
    """Tag a source's VMs with their open findings; an unreachable vCenter is retried with backoff."""
    return policy_tags_apply(source=Source.objects.get(pk=source_id))


# A Tools upgrade confirmed outside its maintenance window is looked at again after this long.
WINDOW_RETRY_SECONDS = 15 * 60


@shared_task(name="inventory.action_batch_execute", bind=True, max_retries=None)
def action_batch_execute_task(self, batch_id: int) -> str:
    """Carry out a confirmed batch; failed VMs are retried with backoff (at most ``MAX_TRIES`` each), a Tools
    upgrade waits for its window. Running twice acts once."""
    try:
        return action_batch_execute(batch_id=batch_id).state
    except OutsideWindow as error:
        raise self.retry(exc=error, countdown=WINDOW_RETRY_SECONDS) from error
    except AttemptsFailed as error:
        raise self.retry(exc=error, countdown=min(3600, 60 * 2 ** min(self.request.retries, 6))) from error
@shared_task(name="inventory.deployment_requests_link")
def deployment_requests_link_task(run_id: int) -> list[str]:
    """After a complete scan or import: link the VMs that carry a request's number; a second run links nothing."""
    run = ScanRun.objects.get(pk=run_id)
    return [request.number for request in deployment_requests_link_from_scan(run=run)]


@shared_task(name="inventory.deployment_requests_end_dates")
def deployment_requests_end_dates_task() -> dict[str, int]:
    """For beat, daily: remind owners of end dates and expire requests past theirs; safe to run twice a day."""
    return dataclasses.asdict(deployment_requests_end_date_run())
