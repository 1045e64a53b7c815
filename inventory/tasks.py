"""Celery doors onto the scan service: ids in, service call, nothing else."""

import dataclasses

from celery import shared_task

from inventory.models import ScanRun
from inventory.services.approvals import deployment_requests_end_date_run, deployment_requests_link_from_scan
from inventory.services.scan import source_scan, sources_scan_queue

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


@shared_task(name="inventory.deployment_requests_link")
def deployment_requests_link_task(run_id: int) -> list[str]:
    """After a complete scan or import: link the VMs that carry a request's number; a second run links nothing."""
    run = ScanRun.objects.get(pk=run_id)
    return [request.number for request in deployment_requests_link_from_scan(run=run)]


@shared_task(name="inventory.deployment_requests_end_dates")
def deployment_requests_end_dates_task() -> dict[str, int]:
    """For beat, daily: remind owners of end dates and expire requests past theirs; safe to run twice a day."""
    return dataclasses.asdict(deployment_requests_end_date_run())
