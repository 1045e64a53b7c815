"""The scan task on a real Celery worker (Redis broker) against the simulator: delivered twice, it scans once."""

import pytest
from celery.contrib.testing.worker import start_worker

from inventory.choices import ChangeKind, ScanStatus
from inventory.models import ScanRun, VirtualMachine, VMChange
from inventory.services.scan import source_scan_request
from inventory.services.sources import source_vcenter_save
from inventory.tasks import scan_run_execute
from portal.models import AuditEvent
from tests.task_log import task_log
from tests.vsphere_sim import harness

SCAN_TASK = "inventory.scan_run_execute"


@pytest.mark.django_db(transaction=True)
def test_a_scan_delivered_twice_to_a_real_worker_runs_twice_and_scans_once(
    vsphere_simulator_available, worker_app, role_users
):
    with task_log() as log:
        worker = start_worker(worker_app, pool="threads", concurrency=2, perform_ping_check=False,
                              shutdown_timeout=30, queues=["scans"])
        with worker, harness.Simulator(datacenters=1, clusters=1, cluster_hosts=2, hosts=0, vms=3) as sim:
            source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user",
                                         password="pass", use_http=True)
            run = source_scan_request(source=source, user=role_users["security_admin"])  # first delivery
            scan_run_execute.delay(run.pk)  # a second delivery of the same run, as a broker redelivery would do
            log.wait_until(lambda: len(log.outcomes(SCAN_TASK)) == 2)

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
