"""The only code that changes vCenter: a custom attribute on VMs, power off, and upgrade VMware Tools.

Everything else in the portal reads vCenter. Each function here takes an open session (``source_session``),
checks the VM's state in vCenter before acting (a template is never touched, a VM already off is not powered
off again) and returns what vCenter's task said, so the caller can record every attempt.
"""

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from pyVmomi import vim, vmodl

from inventory.models import Source
from inventory.vsphere.connection import VSphereError, open_session

# The custom attribute that carries a VM's open finding kinds in vCenter, for administrators who never open the
# portal: "rogue,unpatched", empty once nothing is open.
FINDING_ATTRIBUTE = "vmcensus.finding"
# How long a power-off or a Tools upgrade may take before it counts as failed (it is retried later).
TASK_TIMEOUT_SECONDS = 300
TASK_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Outcome:
    """What became of one action: ``done`` (vCenter's task succeeded), ``skipped`` (nothing to do, said why) or
    ``failed`` (the fault, as vCenter gave it)."""

    state: str
    result: str


@contextlib.contextmanager
def source_session(source: Source) -> Iterator[vim.ServiceInstance]:
    with open_session(host=source.host, port=source.port, user=source.username, password=source.password,
                      use_http=source.use_http, verify_tls=source.verify_tls,
                      timeout=settings.VSPHERE_TIMEOUT) as si:
        yield si


def _vm(si, moref: str) -> vim.VirtualMachine:
    return vim.VirtualMachine(moref, si._stub)


def _fault_text(fault) -> str:
    return getattr(fault, "msg", "") or type(fault).__name__


def _wait(task) -> Outcome:
    """Wait for a task; its final state and result (or fault) as text."""
    deadline = time.monotonic() + TASK_TIMEOUT_SECONDS
    while task.info.state in (vim.TaskInfo.State.queued, vim.TaskInfo.State.running):
        if time.monotonic() > deadline:
            return Outcome("failed", f"task {task._moId} still {task.info.state} after {TASK_TIMEOUT_SECONDS} s")
        time.sleep(TASK_POLL_SECONDS)
    info = task.info
    if info.state == vim.TaskInfo.State.success:
        return Outcome("done", f"task {task._moId} ({info.descriptionId}): success")
    return Outcome("failed", f"task {task._moId} ({info.descriptionId}): {_fault_text(info.error)}")


def _finding_field_key(si) -> int:
    """The key of the ``vmcensus.finding`` attribute, defined on VMs the first time it is needed."""
    manager = si.RetrieveContent().customFieldsManager
    if manager is None:
        raise VSphereError("this endpoint has no custom attributes (a standalone ESXi host): cannot tag VMs")
    for definition in manager.field or []:
        if definition.name == FINDING_ATTRIBUTE and definition.managedObjectType in (None, vim.VirtualMachine):
            return definition.key
    try:
        return manager.AddCustomFieldDef(name=FINDING_ATTRIBUTE, moType=vim.VirtualMachine).key
    except vim.fault.DuplicateName:  # another writer defined it meanwhile
        return next(d.key for d in manager.field if d.name == FINDING_ATTRIBUTE)


def vms_tag(si, values: dict[str, str]) -> dict[str, Outcome]:
    """Set ``vmcensus.finding`` on each VM (moref → value); one outcome per VM."""
    manager = si.RetrieveContent().customFieldsManager
    key = _finding_field_key(si)
    outcomes = {}
    for moref, value in values.items():
        try:
            manager.SetField(entity=_vm(si, moref), key=key, value=value)
        except vmodl.fault.ManagedObjectNotFound:
            outcomes[moref] = Outcome("skipped", "the VM no longer exists in vCenter")
        except (vim.fault.VimFault, vmodl.MethodFault) as fault:
            outcomes[moref] = Outcome("failed", _fault_text(fault))
        else:
            outcomes[moref] = Outcome("done", f"{FINDING_ATTRIBUTE} = {value!r}")
    return outcomes


def _current(vm) -> tuple[bool, str] | None:
    """(is a template, power state) as vCenter has it now; None for a VM that is gone."""
    try:
        return bool(vm.config.template) if vm.config else False, str(vm.runtime.powerState)
    except vmodl.fault.ManagedObjectNotFound:
        return None


def _act(si, moref: str, *, start, never: str, refuse) -> Outcome:
    """Run ``start(vm)`` (a vCenter task) on a VM that exists and is no template, unless ``refuse(power)`` gives
    the reason to skip it; a fault is a failed outcome, never an exception."""
    vm = _vm(si, moref)
    current = _current(vm)
    if current is None:
        return Outcome("skipped", "the VM no longer exists in vCenter")
    is_template, power = current
    if is_template:
        return Outcome("skipped", f"a template: never {never}")
    reason = refuse(power)
    if reason:
        return Outcome("skipped", reason)
    try:
        return _wait(start(vm))
    except (vim.fault.VimFault, vmodl.MethodFault) as fault:
        return Outcome("failed", _fault_text(fault))


def vm_power_off(si, moref: str) -> Outcome:
    """Power a VM off (hard power off, as PowerOffVM_Task does), unless it is a template, gone or already off."""
    return _act(si, moref, start=lambda vm: vm.PowerOffVM_Task(), never="powered off",
                refuse=lambda power: "already powered off" if power == vim.VirtualMachinePowerState.poweredOff else "")


def vm_upgrade_tools(si, moref: str) -> Outcome:
    """Upgrade VMware Tools in a running VM (UpgradeTools_Task), unless it is a template, gone or off."""
    return _act(si, moref, start=lambda vm: vm.UpgradeTools_Task(), never="upgraded",
                refuse=lambda power: "" if power == vim.VirtualMachinePowerState.poweredOn
                else f"{power}: Tools are upgraded in a running VM")
