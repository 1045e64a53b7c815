"""The scan task on a real Celery worker (Redis broker) against the simulator: delivered twice, it scans once."""

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, task_prerun
from django.db import connections

from inventory.choices import ChangeKind, ScanStatus
from inventory.models import ScanRun, VirtualMachine, VMChange
from inventory.services.scan import source_scan_request
from inventory.services.sources import source_vcenter_save
from inventory.tasks import scan_run_execute
from portal.models import AuditEvent
from tests.vsphere_sim import harness

SCAN_TASK = "inventory.scan_run_execute"


class _TaskLog:
    """Which tasks the worker started and finished, from Celery's signals."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.finished: list[tuple[str, str, object]] = []

    def prerun(self, sender=None, **kwargs):
        with self.lock:
            self.started.append(sender.name)

    def postrun(self, sender=None, retval=None, state=None, **kwargs):
        connections.close_all()  # the worker thread's own connection: never left open on the test database
        with self.lock:
            self.finished.append((sender.name, state, retval))

    def outcomes(self, name: str) -> list[tuple[str, object]]:
        """(state, return value) of each finished run of ``name``."""
        with self.lock:
            return [(state, retval) for finished, state, retval in self.finished if finished == name]

    def idle(self) -> bool:
        with self.lock:
            return len(self.started) == len(self.finished)


@pytest.mark.django_db(transaction=True)
def test_a_scan_delivered_twice_to_a_real_worker_runs_twice_and_scans_once(
    vsphere_simulator_available, worker_app, role_users
):
    log = _TaskLog()
    task_prerun.connect(log.prerun, weak=False)
    task_postrun.connect(log.postrun, weak=False)
    try:
        worker = start_worker(worker_app, pool="threads", concurrency=2, perform_ping_check=False,
                              shutdown_timeout=30, queues=["scans"])
        with worker, harness.Simulator(datacenters=1, clusters=1, cluster_hosts=2, hosts=0, vms=3) as sim:
            source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user",
                                         password="pass", use_http=True)
            run = source_scan_request(source=source, user=role_users["security_admin"])  # first delivery
            scan_run_execute.delay(run.pk)  # a second delivery of the same run, as a broker redelivery would do

            deadline = time.monotonic() + 60
            while not (len(log.outcomes(SCAN_TASK)) == 2 and log.idle()):
                assert time.monotonic() < deadline, f"the worker did not finish: {log.started} / {log.finished}"
                time.sleep(0.1)
    finally:
        task_prerun.disconnect(log.prerun)
        task_postrun.disconnect(log.postrun)

    # Both deliveries ran to the end without an error: one scanned, the other found the run taken and returned
    # its status at that moment (still running, or complete).
    outcomes = log.outcomes(SCAN_TASK)
    assert [state for state, _ in outcomes] == ["SUCCESS", "SUCCESS"]
    assert ScanStatus.COMPLETE in [status for _, status in outcomes]
    assert {status for _, status in outcomes} <= {ScanStatus.RUNNING, ScanStatus.COMPLETE}
    run.refresh_from_db()
    assert (run.status, run.vms_seen, run.discovered) == (ScanStatus.COMPLETE, 3, 3)
    assert ScanRun.objects.count() == 1
    assert VirtualMachine.objects.count() == 3
    assert VMChange.objects.filter(kind=ChangeKind.DISCOVERED).count() == 3
    # The audit trail shows one scan asked for and one scan ended.
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "source.created", "scan.requested", "scan.complete",
    ]
