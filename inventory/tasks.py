"""Celery doors onto the scan service: ids in, service call, nothing else."""

from functools import partial

from celery import shared_task
from django.db import transaction

from inventory.choices import ScanTrigger, SourceKind
from inventory.models import ScanRun, Source
from inventory.services.scan import source_scan
from inventory.services.scan_runs import ScanAlreadyRunning, scan_run_start


@shared_task(name="inventory.scan_run_execute", acks_late=True)
def scan_run_execute(run_id: int) -> str:
    """Carry out a scan run opened by ``scan_run_start``; a second delivery of the same run does nothing."""
    run = ScanRun.objects.select_related("source").get(pk=run_id)
    return source_scan(source=run.source, run=run).status


@shared_task(name="inventory.scan_all_sources")
def scan_all_sources() -> dict[str, str]:
    """For beat: open a run for every enabled vCenter source not already being scanned, and queue it."""
    queued = {}
    for source in Source.objects.filter(kind=SourceKind.VCENTER, enabled=True):
        try:
            run = scan_run_start(source=source, trigger=ScanTrigger.TASK)
        except ScanAlreadyRunning:
            queued[source.name] = "already running"
            continue
        transaction.on_commit(partial(scan_run_execute.delay, run.pk))
        queued[source.name] = f"queued scan #{run.pk}"
    return queued
