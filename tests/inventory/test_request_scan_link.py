"""A scan of a real vSphere API (govmomi's simulator) links the VM whose ``vmcensus.request`` custom attribute, set
through vCenter's CustomFieldsManager as an administrator would, carries an approved request's number; and the link
runs as its own task after the scan, which never waits for it nor fails with it."""

import datetime
import logging

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connections
from django.utils import timezone

from inventory.choices import ChangeKind, Decision, Environment, RequestState, Sanction, ScanStatus
from inventory.models import DeploymentRequest, VirtualMachine, VMChange
from inventory.services.approvals import REQUEST_ATTRIBUTE, deployment_request_create, deployment_request_decide
from inventory.services.scan import source_scan
from inventory.services.sources import source_vcenter_save
from portal.choices import Role
from tests.factories import PersonFactory, UserFactory
from tests.task_log import task_log
from tests.vsphere_sim import harness

pytestmark = [pytest.mark.simulator]
LINK_TASK = "inventory.deployment_requests_link"


def set_request_attribute(si, vm, value: str) -> None:
    """What whoever deploys the VM does in vCenter: define the attribute once, set it on the VM."""
    from pyVmomi import vim

    fields = si.content.customFieldsManager
    field = next((f for f in fields.field or [] if f.name == REQUEST_ATTRIBUTE), None)
    if field is None:
        field = fields.AddCustomFieldDef(name=REQUEST_ATTRIBUTE, moType=vim.VirtualMachine)
    fields.SetField(entity=vm, key=field.key, value=value)


def approved_request() -> DeploymentRequest:
    manager = UserFactory(username="manny", role=Role.MANAGER)
    PersonFactory(name="Manny Manager", user=manager)
    security_admin = UserFactory(username="sec", role=Role.SECURITY_ADMIN)
    PersonFactory(user=security_admin)
    request = deployment_request_create(
        user=manager, owner=manager.person, submit=True, purpose="Payroll", environment=Environment.PRODUCTION,
        vcpu=2, memory_gb=8, disk_gb=80, os="RHEL 9", start_date=timezone.localdate(),
        end_date=timezone.localdate() + datetime.timedelta(days=30),
    )
    deployment_request_decide(request=request, user=security_admin, decision=Decision.APPROVE)
    request.refresh_from_db()
    return request


@pytest.fixture
def sim(vsphere_simulator_available):
    with harness.Simulator(datacenters=1, clusters=1, cluster_hosts=1, hosts=0, vms=2) as simulator:
        yield simulator


@pytest.mark.django_db
def test_a_scan_links_the_vm_carrying_the_number_in_its_custom_attribute(sim, django_capture_on_commit_callbacks):
    si = sim.connect()
    request = approved_request()
    set_request_attribute(si, harness.find_vm(si, "DC0_C0_RP0_VM1"), request.number)
    source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                 use_http=True)

    with django_capture_on_commit_callbacks(execute=True):
        run = source_scan(source=source)

    request.refresh_from_db()
    vm = VirtualMachine.objects.get(name="DC0_C0_RP0_VM1")
    assert run.status == ScanStatus.COMPLETE
    assert vm.custom_attributes == {REQUEST_ATTRIBUTE: request.number}
    assert (request.state, request.vm) == (RequestState.FULFILLED, vm)
    assert (vm.sanction, VirtualMachine.objects.get(name="DC0_C0_RP0_VM0").sanction) == (
        Sanction.PENDING, Sanction.UNAPPROVED)
    link = VMChange.objects.get(vm=vm, kind=ChangeKind.REQUEST_LINKED)
    assert (link.scan_run, link.new["how"]) == (run, "by scan")

    with django_capture_on_commit_callbacks(execute=True):
        source_scan(source=source)
    assert VMChange.objects.filter(kind=ChangeKind.REQUEST_LINKED).count() == 1


UNREACHABLE_BROKER = "redis://127.0.0.1:9/0"


@pytest.fixture
def unreachable_broker(monkeypatch):
    """The portal's Celery app sending to a port where no broker listens (Celery reads the environment's
    CELERY_BROKER_URL before its configuration, so both say so)."""
    from portal.celery import app

    monkeypatch.setenv("CELERY_BROKER_URL", UNREACHABLE_BROKER)
    changed = {"broker_url": UNREACHABLE_BROKER, "broker_write_url": UNREACHABLE_BROKER, "task_always_eager": False,
               "broker_connection_timeout": 1, "broker_connection_retry": False}
    saved = {key: app.conf[key] for key in changed}
    app.conf.update(changed)
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield app
    finally:
        app.conf.update(saved)
        app._pool = None
        app.amqp._producer_pool = None


@pytest.mark.django_db
def test_a_broker_outage_after_the_scan_leaves_the_scan_complete(sim, unreachable_broker,
                                                                 django_capture_on_commit_callbacks, caplog):
    source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                 use_http=True)

    with caplog.at_level(logging.ERROR, logger="inventory.receivers"), \
            django_capture_on_commit_callbacks(execute=True):
        run = source_scan(source=source)

    run.refresh_from_db()
    assert run.status == ScanStatus.COMPLETE
    assert f"Could not queue the deployment request links after scan #{run.pk}" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_on_a_real_worker_the_link_runs_as_its_own_task_after_the_scan(sim, worker_app):
    si = sim.connect()
    request = approved_request()
    set_request_attribute(si, harness.find_vm(si, "DC0_C0_RP0_VM0"), request.number)
    source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                 use_http=True)
    try:
        with task_log() as log, start_worker(worker_app, pool="threads", concurrency=1, perform_ping_check=False,
                                             shutdown_timeout=30, queues=["default"]):
            run = source_scan(source=source)
            # The scan has returned, complete; the link is the worker's to make.
            assert run.status == ScanStatus.COMPLETE
            log.wait_until(lambda: log.outcomes(LINK_TASK))
        assert log.results(LINK_TASK) == [[request.number]]
        request.refresh_from_db()
        assert (request.state, request.vm.name) == (RequestState.FULFILLED, "DC0_C0_RP0_VM0")
    finally:
        connections.close_all()
