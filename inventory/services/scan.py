"""Scanning a vCenter source: collect with the vSphere collector, apply, and record how it ended."""

import datetime
import logging
import time
from functools import partial

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inventory.choices import ScanStatus, ScanTrigger, SourceKind
from inventory.models import ScanRun, Source
from inventory.services.identity import inventory_apply
from inventory.services.policies import vm_exports_record
from inventory.services.scan_runs import ScanAlreadyRunning, scan_run_finish, scan_run_start
from inventory.vsphere.collector import collect_inventory
from inventory.vsphere.connection import VSphereError, hide_secret, open_session
from portal.models import User
from portal.services.audit import audit_log

logger = logging.getLogger(__name__)

# Events are read from a little before the previous scan's observation time, so
# clock skew loses nothing; the event key keeps any event from being read twice.
EVENT_TIME_MARGIN = datetime.timedelta(minutes=5)


def _events_since(source: Source) -> dict:
    """Where the previous complete scan stopped reading vCenter events (nothing on a first scan)."""
    last = (
        ScanRun.objects.filter(source=source, status=ScanStatus.COMPLETE, last_event_key__isnull=False)
        .order_by("-started_at").values("last_event_key", "observed_at").first()
    )
    if last is None:
        return {}
    return {"since_event_key": last["last_event_key"], "since_event_time": last["observed_at"] - EVENT_TIME_MARGIN}


def source_scan(*, source: Source, trigger: str = ScanTrigger.COMMAND, user: User | None = None,
                run: ScanRun | None = None) -> ScanRun:
    """Scan one vCenter source end to end. Never raises for a scan that failed: the run says why.

    A failure to connect or collect changes no VM. A failure while writing
    leaves the finished batches written and the run ``partial``; only a
    complete run marks unseen VMs missing.
    """
    if not source.scannable:
        raise ValueError(f"{source} is a {source.get_kind_display()}; import a new file instead of scanning it.")
    run = run or scan_run_start(source=source, trigger=trigger, user=user)
    # Claim the run atomically: a task delivered twice, or run by two workers, scans once.
    if not ScanRun.objects.filter(pk=run.pk, status=ScanStatus.RUNNING, claimed_at__isnull=True).update(
        claimed_at=timezone.now()
    ):
        run.refresh_from_db()
        return run
    started = time.monotonic()
    password = ""
    try:
        password = source.password
        with open_session(
            host=source.host, port=source.port, user=source.username, password=password,
            use_http=source.use_http, verify_tls=source.verify_tls, timeout=settings.VSPHERE_TIMEOUT,
        ) as service_instance:
            inventory = collect_inventory(service_instance, **_events_since(source))
    except VSphereError as error:
        return scan_run_finish(run=run, status=ScanStatus.FAILED, error=hide_secret(str(error), password))
    except InvalidToken:
        return scan_run_finish(
            run=run, status=ScanStatus.FAILED,
            error="The stored password cannot be decrypted with the current ENCRYPTION_KEYS; set it again.",
        )
    run.observed_at = inventory.observed_at
    run.last_event_key = inventory.last_event_key
    run.save(update_fields=["observed_at", "last_event_key"])
    try:
        counts = inventory_apply(run=run, inventory=inventory, complete=True)
        vm_exports_record(run=run, events=inventory.events)
    except Exception as error:
        logger.exception("Scan #%s of %s failed while writing", run.pk, source)
        run.refresh_from_db(fields=["vms_seen"])
        status = ScanStatus.PARTIAL if run.vms_seen else ScanStatus.FAILED
        return scan_run_finish(
            run=run, status=status, error=hide_secret(f"Writing the inventory failed: {error}", password)
        )
    logger.info("Scan #%s of %s complete in %.1f s", run.pk, source, time.monotonic() - started)
    return scan_run_finish(run=run, status=ScanStatus.COMPLETE, counts=counts)


def _scan_queue(*, source: Source, trigger: str, user: User | None) -> ScanRun:
    """Open a run and queue its execution once this transaction commits."""
    # Imported here: the task module imports this one.
    from inventory.tasks import scan_run_execute

    with transaction.atomic():
        run = scan_run_start(source=source, trigger=trigger, user=user)
        transaction.on_commit(partial(scan_run_execute.delay, run.pk))
    return run


def source_scan_request(*, source: Source, user: User) -> ScanRun:
    """A user's "Scan now": open a run and queue it.

    Raises ``ScanAlreadyRunning`` (from ``scan_run_start``) when the source has a running scan, and
    ``ValidationError`` for an import source (it is refreshed by importing a new file).
    """
    if not source.scannable:
        raise ValidationError(
            f"{source} is fed by file imports ({source.get_kind_display()}): "
            "import a newer file instead of scanning it."
        )
    with transaction.atomic():
        run = _scan_queue(source=source, trigger=ScanTrigger.USER, user=user)
        audit_log(action="scan.requested", actor=user, obj=run, details={"source": source.name})
    return run


def sources_scan_queue() -> dict[str, str]:
    """The scheduled scan: queue a run for every enabled vCenter source that is not being scanned already."""
    queued = {}
    for source in Source.objects.filter(kind=SourceKind.VCENTER, enabled=True):
        try:
            run = _scan_queue(source=source, trigger=ScanTrigger.TASK, user=None)
        except ScanAlreadyRunning:
            queued[source.name] = "already running"
            continue
        queued[source.name] = f"queued scan #{run.pk}"
    return queued
