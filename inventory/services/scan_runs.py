"""Scan runs: at most one running per source, a heartbeat while it works, and an audited end."""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.choices import ScanStatus
from inventory.models import ScanRun, Source
from inventory.services.identity import ApplyCounts
from inventory.signals import scan_completed
from portal.models import User
from portal.services.audit import audit_log

# A running scan whose worker has not reported for this long is taken as dead
# (its worker crashed), so the source can be scanned again.
STALE_SCAN_AFTER = datetime.timedelta(minutes=30)


class ScanAlreadyRunning(Exception):
    def __init__(self, run: ScanRun):
        self.run = run
        super().__init__(
            f"A scan of {run.source} is already running (scan #{run.pk}, started {run.started_at:%H:%M:%S} UTC)."
        )


def _close_stale_runs(source: Source) -> None:
    cutoff = timezone.now() - STALE_SCAN_AFTER
    for run in ScanRun.objects.filter(source=source, status=ScanStatus.RUNNING):
        if (run.heartbeat_at or run.started_at) < cutoff:
            scan_run_finish(run=run, status=ScanStatus.PARTIAL if run.vms_seen else ScanStatus.FAILED,
                            error="The scan stopped reporting (its worker died); closed before a new scan.")


def scan_run_start(
    *, source: Source, trigger: str, user: User | None = None,
    observed_at: datetime.datetime | None = None, file_name: str = "",
) -> ScanRun:
    """Open a running scan for ``source``; raises ``ScanAlreadyRunning`` if one is open (a database constraint)."""
    _close_stale_runs(source)
    now = timezone.now()
    try:
        with transaction.atomic():
            return ScanRun.objects.create(
                source=source, trigger=trigger, requested_by=user, started_at=now, heartbeat_at=now,
                observed_at=observed_at or now, file_name=file_name,
            )
    except IntegrityError:
        running = ScanRun.objects.filter(source=source, status=ScanStatus.RUNNING).first()
        if running is None:
            raise
        raise ScanAlreadyRunning(running) from None


def scan_run_finish(*, run: ScanRun, status: str, counts: ApplyCounts | None = None, error: str = "") -> ScanRun:
    """Close a run with its outcome and counts, and write it to the audit trail."""
    run.status = status
    run.finished_at = timezone.now()
    run.error = error
    if counts is not None:
        for name, value in counts.__dict__.items():
            setattr(run, name, value)
    with transaction.atomic():
        run.save()
        if status == ScanStatus.COMPLETE:
            transaction.on_commit(lambda: scan_completed.send(sender=ScanRun, run=run))
        audit_log(
            action=f"scan.{status}", actor=run.requested_by, actor_label=f"system: scan ({run.trigger})", obj=run,
            details={"source": run.source.name, "vms_seen": run.vms_seen, "error": error[:500],
                     **(counts.__dict__ if counts else {})},
        )
    return run


