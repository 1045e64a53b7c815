"""Read the VM lifecycle events vCenter logged since the previous scan.

Events give what a snapshot of the inventory cannot: who created a VM, what
a clone was cloned from, which template a VM was deployed from. A fresh
event collector is created per read (and destroyed after: vCenter allows a
few per session), rewound to its oldest event and read forward to the end;
events are de-duplicated by key and returned oldest first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from datetime import datetime

from pyVmomi import vim

from inventory.observations import EXPORT_TASKS, ObservedEvent, VMEventKind

logger = logging.getLogger(__name__)

# Every kind the scanner reads is asked for; the filter keeps the rest of vCenter's event history out.
VM_EVENT_TYPES = tuple(VMEventKind)
# Events a collector holds (EventFilterSpec.maxCount) and events per
# ReadNextEvents call: 1,000 is the most vCenter accepts for either.
EVENT_PAGE_SIZE = 1000
# A guard against a server that never reports the end of the collector.
MAX_EVENT_PAGES = 1000


def read_vm_events(si, *, since_key: int | None, since_time: datetime | None = None) -> list[ObservedEvent]:
    """VM events with a key above ``since_key`` (all kept ones when None), oldest first.

    ``since_time`` (the previous scan's server time) also goes into the
    filter, so a real vCenter does not scan its whole event history; the
    key check is what guarantees nothing is read twice.
    """
    manager = si.RetrieveContent().eventManager
    if manager is None:
        return []
    spec = vim.event.EventFilterSpec(eventTypeId=list(VM_EVENT_TYPES), maxCount=EVENT_PAGE_SIZE)
    spec.disableFullMessage = True  # the formatted message is not used; vCenter skips building it
    if since_time is not None:
        spec.time = vim.event.EventFilterSpec.ByTime(beginTime=since_time)
    collector = manager.CreateCollectorForEvents(filter=spec)
    events: dict[int, object] = {}
    try:
        collector.RewindCollector()
        for _ in range(MAX_EVENT_PAGES):
            page = collector.ReadNextEvents(maxCount=EVENT_PAGE_SIZE)
            if not page:
                break
            for event in page:
                if since_key is None or event.key > since_key:
                    events.setdefault(event.key, event)
        else:
            logger.warning("vSphere: stopped reading events after %d pages", MAX_EVENT_PAGES)
    finally:
        with contextlib.suppress(Exception):
            collector.DestroyCollector()
    observed = [o for o in (observe_event(events[key]) for key in sorted(events)) if o is not None]
    logger.debug("vSphere: %d VM events after key %s", len(observed), since_key)
    return observed


def as_utc(value: datetime | None) -> datetime | None:
    """A server time in UTC (pyvmomi gives its own tzinfo class; Django, JSON and pickle prefer UTC)."""
    return None if value is None else value.astimezone(dt.UTC)


def _moref(arg) -> str:
    """The moref inside a VmEventArgument (or "")."""
    vm = getattr(arg, "vm", None) if arg is not None else None
    return vm._moId if vm is not None else ""


def _host(arg) -> str:
    """The moref inside a HostEventArgument (or "")."""
    host = getattr(arg, "host", None) if arg is not None else None
    return host._moId if host is not None else ""


def observe_event(event) -> ObservedEvent | None:
    """One pyvmomi event as an ``ObservedEvent``; None for an event about no VM, and for a task that is not an
    export (every task on a VM logs a TaskEvent: only the ones that copy a VM off are kept)."""
    vm_arg = getattr(event, "vm", None)
    vm_moref = _moref(vm_arg)
    if not vm_moref:
        return None
    info = getattr(event, "info", None) if isinstance(event, vim.event.TaskEvent) else None
    task = (getattr(info, "descriptionId", "") or "") if info is not None else ""
    if isinstance(event, vim.event.TaskEvent) and task not in EXPORT_TASKS:
        return None
    ds = getattr(event, "ds", None)
    return ObservedEvent(
        key=event.key,
        at=as_utc(event.createdTime),
        kind=type(event)._wsdlName,
        vm_moref=vm_moref,
        vm_name=vm_arg.name or "",
        user=event.userName or "",
        source_vm_moref=_moref(getattr(event, "sourceVm", None)),
        template_moref=_moref(getattr(event, "srcTemplate", None)),
        task=task,
        host_moref=_host(getattr(event, "host", None)),
        datastore=(getattr(ds, "name", "") or "") if ds is not None else "",
    )
