"""Policies against a real vSphere API (govmomi's simulator): the estate is changed the way an administrator
would, scanned (which evaluates the policies), and the exact findings asserted; then the vCenter actions, read
back through pyvmomi."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from pyVmomi import vim

from inventory.choices import ActionBatchState, AttemptState, ChangeKind, FindingState, PolicyKind, Sanction
from inventory.models import ActionAttempt, Finding, Policy, VirtualMachine, VMChange
from inventory.services.findings import findings_evaluate, findings_except
from inventory.services.policies import policies_load
from inventory.services.policy_actions import action_batch_confirm, action_batch_propose, policy_tags_apply
from inventory.services.scan import source_scan
from inventory.services.sources import source_vcenter_save
from inventory.tasks import action_batch_execute_task
from inventory.vsphere.actions import FINDING_ATTRIBUTE
from portal.choices import Role
from portal.models import AuditEvent
from tests.factories import DeploymentRequestFactory, UserFactory
from tests.vsphere_sim import harness

pytestmark = [pytest.mark.django_db, pytest.mark.simulator]

HARDENED = {"isolation.device.connectable.disable": "TRUE", "RemoteDisplay.maxConnections": "1"}
# The kinds these scenarios exercise; the simulator's VMs have no VMware Tools, so "unpatched" would flag all.
UNDER_TEST = (PolicyKind.ROGUE, PolicyKind.DORMANT, PolicyKind.OFF_BASELINE, PolicyKind.COPIED)


@pytest.fixture
def sim(vsphere_simulator_available):
    with harness.Simulator(datacenters=1, clusters=1, cluster_hosts=1, hosts=0, vms=3) as simulator:
        yield simulator


@pytest.fixture
def si(sim):
    return sim.connect()


@pytest.fixture
def source(sim):
    return source_vcenter_save(
        name="lab", host=sim.host, port=sim.port, username="user", password="pass", use_http=True
    )


@pytest.fixture
def policies(db):
    policies_load()
    Policy.objects.exclude(kind__in=UNDER_TEST).update(enabled=False)
    return {policy.kind: policy for policy in Policy.objects.all()}


@pytest.fixture
def scan(source, django_capture_on_commit_callbacks):
    """Scan the simulator as the task does: once the scan commits, its receiver evaluates the policies."""

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return source_scan(source=source)

    return run


def harden(si, vm, settings=HARDENED):
    for key, value in settings.items():
        harness.reconfigure_extra_config(si, vm, key, value)


def open_findings() -> set[tuple[str, str]]:
    return set(Finding.objects.exclude(state=FindingState.RESOLVED).values_list("kind", "vm__name"))


def test_scans_find_a_rogue_vm_a_copy_an_off_baseline_vm_and_a_dormant_one(scan, si, policies):
    vm0, vm1, vm2 = (harness.find_vm(si, f"DC0_C0_RP0_VM{n}") for n in range(3))
    for vm in (vm0, vm1, vm2):
        harden(si, vm)
    harness.reconfigure_extra_config(si, vm1, "isolation.tools.copy.disable", "FALSE")
    scan()
    assert open_findings() == {("off_baseline", "DC0_C0_RP0_VM1")}
    # VM0 has been there ten days with no approval; the others were approved.
    VirtualMachine.objects.filter(name="DC0_C0_RP0_VM0").update(
        first_seen=timezone.now() - datetime.timedelta(days=10))
    VirtualMachine.objects.exclude(name="DC0_C0_RP0_VM0").update(sanction=Sanction.APPROVED)
    # VM2 is powered off, and the scan's record of it is backdated to 100 days ago.
    harness.power_off(si, vm2)
    clone = harness.clone_vm(si, vm0, "VM0-copy")
    spec = vim.vm.ConfigSpec(uuid=vm0.config.uuid)
    harness._wait(si, clone.ReconfigVM_Task(spec=spec))
    harden(si, clone)

    run = scan()
    assert ("dormant", "DC0_C0_RP0_VM2") not in open_findings()
    VMChange.objects.filter(vm__name="DC0_C0_RP0_VM2", kind=ChangeKind.POWER_CHANGED, scan_run=run).update(
        at=timezone.now() - datetime.timedelta(days=100))
    findings_evaluate()

    assert clone.config.uuid == vm0.config.uuid
    assert open_findings() == {
        ("rogue", "DC0_C0_RP0_VM0"), ("off_baseline", "DC0_C0_RP0_VM1"), ("dormant", "DC0_C0_RP0_VM2"),
        ("copied", "DC0_C0_RP0_VM0"), ("copied", "VM0-copy"),
    }
    dormant = Finding.objects.get(kind="dormant")
    assert dormant.evidence["judged_from"] == "powered off, per the power history"
    off = Finding.objects.get(kind="off_baseline")
    assert off.evidence["failures"] == [{"key": "isolation.tools.copy.disable", "expected": "TRUE", "actual": "FALSE"}]

    # The administrator fixes VM1; the next scan resolves its finding with the evidence.
    harness.reconfigure_extra_config(si, vm1, "isolation.tools.copy.disable", "TRUE")
    scan()
    resolved = Finding.objects.get(kind="off_baseline")
    assert (resolved.state, resolved.resolution["summary"]) == (
        FindingState.RESOLVED, "the condition cleared at this evaluation")


def test_an_exception_holds_until_its_date_then_the_finding_reopens(scan, si, policies):
    admin = UserFactory(role=Role.SECURITY_ADMIN)
    scan()
    VirtualMachine.objects.filter(name="DC0_C0_RP0_VM0").update(
        first_seen=timezone.now() - datetime.timedelta(days=10))
    VirtualMachine.objects.exclude(name="DC0_C0_RP0_VM0").update(sanction=Sanction.APPROVED)
    Policy.objects.exclude(kind=PolicyKind.ROGUE).update(enabled=False)
    scan()
    finding = Finding.objects.get(kind="rogue")
    findings_except(ids=[finding.pk], user=admin, until=timezone.localdate() + datetime.timedelta(days=1),
                    reason="pending the owner's request")

    scan()
    assert Finding.objects.get(pk=finding.pk).state == FindingState.EXCEPTED
    findings_evaluate(now=timezone.now() + datetime.timedelta(days=2))

    assert Finding.objects.get(pk=finding.pk).state == FindingState.OPEN


@pytest.fixture
def rogue(scan, si, policies):
    """VM0 is rogue (present ten days without approval), the rogue policy tags and may power off."""
    scan()
    VirtualMachine.objects.filter(name="DC0_C0_RP0_VM0").update(
        first_seen=timezone.now() - datetime.timedelta(days=10))
    VirtualMachine.objects.exclude(name="DC0_C0_RP0_VM0").update(sanction=Sanction.APPROVED)
    Policy.objects.exclude(kind=PolicyKind.ROGUE).update(enabled=False)
    policy = Policy.objects.get(kind=PolicyKind.ROGUE)
    policy.actions = {**policy.actions, "tag": True}
    policy.save()
    findings_evaluate()
    return policy


def test_the_finding_tag_is_set_in_vcenter_and_read_back(source, si, rogue):
    counts = policy_tags_apply(source=source)

    vm0 = harness.find_vm(si, "DC0_C0_RP0_VM0")
    names = {f.key: f.name for f in si.content.customFieldsManager.field}
    assert counts == {"done": 1}
    assert {names[v.key]: v.value for v in vm0.customValue} == {FINDING_ATTRIBUTE: "rogue"}
    assert policy_tags_apply(source=source) == {"done": 0, "failed": 0, "skipped": 0}
    assert VMChange.objects.filter(kind=ChangeKind.VCENTER_ACTION, vm__name="DC0_C0_RP0_VM0").count() == 1


def test_a_dry_run_leaves_the_vm_on(source, si, rogue):
    admin = UserFactory(role=Role.SECURITY_ADMIN)

    batch = action_batch_propose(policy=rogue, action="power_off", user=admin)

    assert batch.state == ActionBatchState.DRY_RUN
    assert list(batch.attempts.values_list("vm__name", "state", "result")) == [
        ("DC0_C0_RP0_VM0", AttemptState.SKIPPED, "dry run: would be power off")]
    assert harness.find_vm(si, "DC0_C0_RP0_VM0").runtime.powerState == "poweredOn"


def test_a_confirmed_power_off_turns_the_vm_off_once_even_when_the_task_runs_twice(
    source, si, rogue, django_capture_on_commit_callbacks,
):
    first, second = UserFactory(role=Role.SECURITY_ADMIN), UserFactory(role=Role.SECURITY_ADMIN)
    rogue.actions = {**rogue.actions, "power_off": {"enabled": True}}
    rogue.save()
    batch = action_batch_propose(policy=rogue, action="power_off", user=first)
    assert batch.state == ActionBatchState.AWAITING
    with pytest.raises(PermissionDenied):
        action_batch_confirm(batch=batch, user=first)
    assert harness.find_vm(si, "DC0_C0_RP0_VM0").runtime.powerState == "poweredOn"

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        action_batch_confirm(batch=batch, user=second)
    again = action_batch_execute_task.apply(args=[batch.pk])

    assert len(callbacks) == 1 and again.successful()
    batch.refresh_from_db()
    attempt = ActionAttempt.objects.get(batch=batch)
    assert (batch.state, again.result) == (ActionBatchState.DONE, ActionBatchState.DONE)
    assert (attempt.state, attempt.tries) == (AttemptState.SUCCEEDED, 1)
    assert "PowerOff" in attempt.result or "powerOff" in attempt.result
    assert harness.find_vm(si, "DC0_C0_RP0_VM0").runtime.powerState == "poweredOff"
    assert harness.find_vm(si, "DC0_C0_RP0_VM1").runtime.powerState == "poweredOn"
    assert VMChange.objects.filter(kind=ChangeKind.VCENTER_ACTION, vm__name="DC0_C0_RP0_VM0").count() == 1
    assert AuditEvent.objects.filter(action="vcenter.power_off").count() == 1
    assert Finding.objects.get(kind="rogue").state == FindingState.OPEN


# -- exported: clones out of scope from the simulator's events; OVF exports from events built as vCenter sends them

def export_task_event(*, key: int, vm, user: str, task: str = "VirtualMachine.exportVm"):
    """A TaskEvent as vCenter delivers it for an "Export OVF template" task (the simulator implements no ExportVm
    and logs no TaskEvent): the VM as its argument, the task's descriptionId in ``info``."""
    return vim.event.TaskEvent(
        key=key, chainId=key, createdTime=timezone.now(), userName=user,
        vm=vim.event.VmEventArgument(vm=vim.VirtualMachine(vm._moId), name=vm.name),
        info=vim.TaskInfo(key=f"task-{key}", task=vim.Task(f"task-{key}"), descriptionId=task,
                          entity=vim.VirtualMachine(vm._moId), entityName=vm.name, state="success",
                          cancelled=False, cancelable=False, reason=vim.TaskReasonUser(userName=user),
                          queueTime=timezone.now(), eventChainId=key),
    )


def test_an_ovf_export_read_from_events_is_an_exported_finding(scan, si, policies):
    from inventory.models import ScanRun
    from inventory.services.policies import vm_exports_record
    from inventory.vsphere.events import observe_event

    Policy.objects.filter(kind=PolicyKind.EXPORTED).update(enabled=True)
    Policy.objects.exclude(kind=PolicyKind.EXPORTED).update(enabled=False)
    scan()
    vm0 = harness.find_vm(si, "DC0_C0_RP0_VM0")
    events = [observe_event(export_task_event(key=9001, vm=vm0, user="VSPHERE.LOCAL\\mallory")),
              observe_event(export_task_event(key=9002, vm=vm0, user="x", task="VirtualMachine.powerOn"))]

    assert events[1] is None
    assert vm_exports_record(run=ScanRun.objects.get(), events=[events[0]]) == 1
    assert vm_exports_record(run=ScanRun.objects.get(), events=[events[0]]) == 0
    findings_evaluate()

    finding = Finding.objects.get(kind="exported")
    assert finding.vm.name == "DC0_C0_RP0_VM0"
    assert finding.evidence["exports"][0]["why"] == "exported as OVF / OVA by VSPHERE.LOCAL\\mallory"


@pytest.fixture
def two_clusters(vsphere_simulator_available, django_capture_on_commit_callbacks):
    with harness.Simulator(datacenters=1, clusters=2, cluster_hosts=1, hosts=0, vms=1) as simulator:
        source = source_vcenter_save(name="lab2", host=simulator.host, port=simulator.port, username="user",
                                     password="pass", use_http=True)
        yield simulator.connect(), source


def test_a_clone_to_a_cluster_outside_the_policy_scope_is_an_exported_finding(
    two_clusters, policies, django_capture_on_commit_callbacks,
):
    si, source = two_clusters
    admin = UserFactory(role=Role.SECURITY_ADMIN)
    exported = Policy.objects.get(kind=PolicyKind.EXPORTED)
    Policy.objects.exclude(kind=PolicyKind.EXPORTED).update(enabled=False)
    from inventory.services.policies import policy_update

    policy_update(policy=exported, user=admin, enabled=True, config=exported.config, scope={"clusters": ["DC0_C0"]},
                  actions=exported.actions)
    with django_capture_on_commit_callbacks(execute=True):
        source_scan(source=source)
    vm = harness.find_vm(si, "DC0_C0_RP0_VM0")
    inside = harness.clone_vm(si, vm, "copy-inside")
    # The simulator clones onto the source's host whatever the spec says: the copy is moved out after.
    outside = harness.clone_vm(si, vm, "copy-outside")
    harness.relocate_vm(si, outside, {h.name: h for h in harness.list_hosts(si)}["DC0_C1_H0"])

    with django_capture_on_commit_callbacks(execute=True):
        source_scan(source=source)

    assert inside.runtime.host.parent.name == "DC0_C0"
    (finding,) = Finding.objects.filter(kind="exported")
    assert finding.vm.name == "DC0_C0_RP0_VM0"
    assert [e["why"].split(" by ")[0] for e in finding.evidence["exports"]] == ["clone copy-outside"]
    assert "to cluster DC0_C1, outside the policy's clusters" in finding.evidence["summary"]

    # An approved request for the copy covers it: the next evaluation resolves the finding.
    copy = VirtualMachine.objects.get(name="copy-outside")
    DeploymentRequestFactory(vm=copy, state="approved")
    VirtualMachine.objects.filter(pk=copy.pk).update(sanction=Sanction.APPROVED)
    findings_evaluate()
    assert Finding.objects.get(pk=finding.pk).state == FindingState.RESOLVED
