"""The evaluation on a real Celery worker (Redis broker) on the ``policies`` queue, after a simulator scan."""

import pytest
from celery.contrib.testing.worker import start_worker

from inventory.choices import FindingState
from inventory.models import Finding
from inventory.services.policies import policies_load
from inventory.services.scan import source_scan_request
from inventory.services.sources import source_vcenter_save
from inventory.tasks import policies_evaluate_task
from tests.task_log import task_log
from tests.vsphere_sim import harness

EVALUATE_TASK = "inventory.policies_evaluate"


@pytest.mark.django_db(transaction=True)
def test_a_complete_scan_is_evaluated_on_the_policies_queue_and_a_second_delivery_changes_nothing(
    vsphere_simulator_available, worker_app, role_users
):
    policies_load()
    with task_log() as log:
        worker = start_worker(worker_app, pool="threads", concurrency=1, perform_ping_check=False,
                              shutdown_timeout=30, queues=["scans", "policies"])
        with worker, harness.Simulator(datacenters=1, clusters=1, cluster_hosts=1, hosts=0, vms=2) as sim:
            source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user",
                                         password="pass", use_http=True)
            source_scan_request(source=source, user=role_users["security_admin"])
            log.wait_until(lambda: len(log.outcomes(EVALUATE_TASK)) == 1)
            first = set(Finding.objects.values_list("kind", "vm__name", "state"))
            policies_evaluate_task.delay(source_id=source.pk)  # a second delivery, as a broker redelivery would do
            log.wait_until(lambda: len(log.outcomes(EVALUATE_TASK)) == 2)

    assert [state for state, _ in log.outcomes(EVALUATE_TASK)] == ["SUCCESS", "SUCCESS"]
    # The simulator's VMs run without VMware Tools on ESXi 6.5 build 5969303, with no hardening settings.
    assert first == {(kind, name, FindingState.OPEN) for kind in ("unpatched", "off_baseline")
                     for name in ("DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1")}
    assert set(Finding.objects.values_list("kind", "vm__name", "state")) == first
