"""The scan task on a real Celery worker (Redis broker) against the simulator: delivered twice, it scans once."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from inventory.choices import ChangeKind, ScanStatus
from inventory.models import ScanRun, VMChange
from inventory.services.scan import source_scan_request
from inventory.services.sources import source_vcenter_save
from inventory.tasks import scan_run_execute
from tests.vsphere_sim import harness


@pytest.mark.django_db(transaction=True)
def test_a_scan_delivered_twice_to_a_real_worker_runs_once(vsphere_simulator_available, worker_app, role_users):
    worker = start_worker(worker_app, pool="threads", concurrency=2, perform_ping_check=False, queues=["scans"])
    with worker, harness.Simulator(datacenters=1, clusters=1, cluster_hosts=2, hosts=0, vms=3) as sim:
        source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                     use_http=True)
        run = source_scan_request(source=source, user=role_users["security_admin"])
        scan_run_execute.delay(run.pk)  # a second delivery of the same run, as a broker redelivery would do

        deadline = time.monotonic() + 60
        while ScanRun.objects.get(pk=run.pk).status == ScanStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # let the second delivery finish too

    run.refresh_from_db()
    assert (run.status, run.vms_seen, run.discovered) == (ScanStatus.COMPLETE, 3, 3)
    assert ScanRun.objects.count() == 1
    assert VMChange.objects.filter(kind=ChangeKind.DISCOVERED).count() == 3
