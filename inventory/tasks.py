"""Celery doors onto the scan service: ids in, service call, nothing else."""

from celery import shared_task

from inventory.models import ScanRun
from inventory.services.scan import source_scan, sources_scan_queue


@shared_task(name="inventory.scan_run_execute", acks_late=True)
def scan_run_execute(run_id: int) -> str:
    """Carry out a scan run opened by ``scan_run_start``; a second delivery of the same run does nothing."""
    run = ScanRun.objects.select_related("source").get(pk=run_id)
    return source_scan(source=run.source, run=run).status


@shared_task(name="inventory.scan_all_sources")
def scan_all_sources() -> dict[str, str]:
    """For beat: queue a scan of every enabled vCenter source not already being scanned."""
    return sources_scan_queue()
