"""Collect a vCenter's inventory in one paged PropertyCollector retrieval.

One ContainerView (recursive from the root folder) holds every type we need,
and one RetrievePropertiesEx, followed page by page with its token, reads the
properties of all of them: datacenters, folders, clusters and standalone
compute resources, hosts, resource pools, networks, datastores and VMs.
References between them (a VM's host, folder, networks ...) are resolved to
names from that same retrieval, never by another round trip.

Two readers produce the same rows (type, moref, {property path: value}) with
values normalized as ``KINDS`` says: ``PyvmomiRetriever`` (pyvmomi objects)
and ``fastpath.FastRetriever`` (the raw response parsed with lxml, about ten
times faster). ``build_inventory`` turns rows into an ``Inventory``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from pyVmomi import VmomiSupport, vim, vmodl

from inventory.observations import (
    Inventory,
    ObservedCluster,
    ObservedDatacenter,
    ObservedHost,
    ObservedVM,
)
from inventory.vsphere.events import as_utc, read_vm_events
from inventory.vsphere.fastpath import FastRetriever, Page, Row

logger = logging.getLogger(__name__)

# Objects per RetrievePropertiesEx page. vCenter caps a page itself (it may
# return fewer); 1,000 VMs with their device lists is a few MB of XML, which
# keeps each response well inside vCenter's and our memory budgets.
PAGE_SIZE = 1000
# A vCenter inventory with more pages than this is a bug (a token loop), not an estate.
MAX_PAGES = 10_000

# The property paths read per type: one PropertySpec each. A spec for a base
# type also matches its subtypes (ComputeResource → ClusterComputeResource,
# Network → DistributedVirtualPortgroup, ResourcePool → VirtualApp).
PROPERTIES: dict[type, list[str]] = {
    vim.Datacenter: ["name", "parent"],
    vim.Folder: ["name", "parent"],
    vim.ComputeResource: ["name", "parent"],
    vim.HostSystem: [
        "name",
        "parent",
        "hardware.systemInfo.uuid",
        "config.product.fullName",
        "config.product.version",
        "config.product.build",
    ],
    vim.ResourcePool: ["name", "parent"],
    vim.Network: ["name"],
    vim.Datastore: ["name"],
    vim.VirtualMachine: [
        "name",
        "parent",
        "parentVApp",
        "resourcePool",
        "runtime.host",
        "runtime.powerState",
        "runtime.bootTime",
        "network",
        "datastore",
        "config.instanceUuid",
        "config.uuid",
        "config.template",
        "config.guestFullName",
        "config.version",
        "config.createDate",
        "config.annotation",
        "config.hardware.numCPU",
        "config.hardware.memoryMB",
        "config.hardware.device",
        "config.extraConfig",
        "config.tools.toolsVersion",
        "guest.guestFullName",
        "guest.hostName",
        "guest.ipAddress",
        "guest.net",
        "guest.toolsStatus",
        "guest.toolsRunningStatus",
        "guest.toolsVersionStatus2",
        "customValue",
    ],
}
VIEW_TYPES = [vim.Datacenter, vim.Folder, vim.ComputeResource, vim.ClusterComputeResource, vim.HostSystem,
              vim.ResourcePool, vim.Network, vim.Datastore, vim.VirtualMachine]

# How each property path's value is normalized, by both readers:
#   str, int, bool, datetime: the value; moref: the referenced moref id;
#   morefs: a list of moref ids; macs: MAC addresses of the network cards in a
#   device list; options: {key: str(value)} of OptionValues; custom:
#   {field key: value} of CustomFieldValues; guest_ips: IPs of guest.net NICs.
KINDS: dict[str, str] = {
    "name": "str",
    "parent": "moref",
    "parentVApp": "moref",
    "resourcePool": "moref",
    "runtime.host": "moref",
    "runtime.powerState": "str",
    "runtime.bootTime": "datetime",
    "network": "morefs",
    "datastore": "morefs",
    "config.instanceUuid": "str",
    "config.uuid": "str",
    "config.template": "bool",
    "config.guestFullName": "str",
    "config.version": "str",
    "config.createDate": "datetime",
    "config.annotation": "str",
    "config.hardware.numCPU": "int",
    "config.hardware.memoryMB": "int",
    "config.hardware.device": "macs",
    "config.extraConfig": "options",
    "config.tools.toolsVersion": "int",
    "guest.guestFullName": "str",
    "guest.hostName": "str",
    "guest.ipAddress": "str",
    "guest.net": "guest_ips",
    "guest.toolsStatus": "str",
    "guest.toolsRunningStatus": "str",
    "guest.toolsVersionStatus2": "str",
    "customValue": "custom",
    "hardware.systemInfo.uuid": "str",
    "config.product.fullName": "str",
    "config.product.version": "str",
    "config.product.build": "str",
}
assert {p for paths in PROPERTIES.values() for p in paths} == set(KINDS), "every property path needs a kind"


# -- the pyvmomi reader ----------------------------------------------------------


def _option_text(value: Any) -> str:
    return "" if value is None else str(value)


NORMALIZERS = {
    "str": str,
    "int": int,
    "bool": bool,
    "datetime": lambda v: v,
    "moref": lambda v: v._moId,
    "morefs": lambda v: [m._moId for m in v],
    "macs": lambda v: [d.macAddress for d in v if isinstance(d, vim.vm.device.VirtualEthernetCard) and d.macAddress],
    "options": lambda v: {o.key: _option_text(o.value) for o in v},
    "custom": lambda v: {cv.key: getattr(cv, "value", None) or "" for cv in v},
    "guest_ips": lambda v: [ip for nic in v for ip in (nic.ipAddress or []) if ip],
}


def rows_from_result(result) -> Page:
    """Rows and token of a pyvmomi ``RetrieveResult`` (None when nothing matched)."""
    if result is None:
        return [], None
    rows: list[Row] = []
    for content in result.objects:
        props = {}
        for prop in content.propSet:
            kind = KINDS.get(prop.name)
            if kind is None or prop.val is None:
                continue
            props[prop.name] = NORMALIZERS[kind](prop.val)
        rows.append((content.obj._wsdlName, content.obj._moId, props))
    return rows, result.token or None


class Retriever(Protocol):
    def retrieve(self, spec, *, max_objects: int) -> Page: ...

    def continue_(self, token: str) -> Page: ...

    def cancel(self, token: str) -> None: ...


class PyvmomiRetriever:
    """RetrievePropertiesEx pages through pyvmomi's own (slow, complete) deserializer."""

    def __init__(self, property_collector):
        self.pc = property_collector

    def retrieve(self, spec, *, max_objects: int) -> Page:
        options = vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=max_objects)
        return rows_from_result(self.pc.RetrievePropertiesEx(specSet=[spec], options=options))

    def continue_(self, token: str) -> Page:
        return rows_from_result(self.pc.ContinueRetrievePropertiesEx(token=token))

    def cancel(self, token: str) -> None:
        self.pc.CancelRetrievePropertiesEx(token=token)


def retrieve_all(retriever: Retriever, spec, *, page_size: int = PAGE_SIZE) -> list[Row]:
    """Every row of a retrieval, following the continuation token page after page.

    If a page fails, the pending result is cancelled on the server (vCenter
    keeps it otherwise until the session ends) and the error propagates.
    """
    rows, token = retriever.retrieve(spec, max_objects=page_size)
    pages = 1
    try:
        while token:
            if pages >= MAX_PAGES:
                raise RuntimeError(f"RetrievePropertiesEx returned more than {MAX_PAGES} pages")
            page, token = retriever.continue_(token)
            rows.extend(page)
            pages += 1
    except Exception:
        if token:
            with contextlib.suppress(Exception):
                retriever.cancel(token)
        raise
    logger.debug("vSphere: retrieved %d objects in %d page(s)", len(rows), pages)
    return rows


def filter_spec(view) -> vmodl.query.PropertyCollector.FilterSpec:
    """All objects of ``view`` (a ContainerView), with ``PROPERTIES`` of each type."""
    pc = vmodl.query.PropertyCollector
    return pc.FilterSpec(
        objectSet=[
            pc.ObjectSpec(
                obj=view,
                skip=True,
                selectSet=[pc.TraversalSpec(name="view", type=vim.view.ContainerView, path="view", skip=False)],
            )
        ],
        propSet=[pc.PropertySpec(type=t, pathSet=list(paths)) for t, paths in PROPERTIES.items()],
    )


# -- from rows to an Inventory ----------------------------------------------------

_ROLES = [  # most specific first
    (vim.Datacenter, "datacenter"),
    (vim.Folder, "folder"),
    (vim.ComputeResource, "compute"),
    (vim.HostSystem, "host"),
    (vim.ResourcePool, "pool"),
    (vim.Network, "network"),
    (vim.Datastore, "datastore"),
    (vim.VirtualMachine, "vm"),
]


@functools.cache
def _role(type_name: str) -> str:
    try:
        cls = VmomiSupport.GetWsdlType("urn:vim25", type_name)
    except KeyError:
        return ""
    for base, role in _ROLES:
        if issubclass(cls, base):
            return role
    return ""


class _Objects:
    """Rows by moref, with the walks up the parent chain the inventory needs."""

    def __init__(self, rows: Iterable[Row]):
        self.props: dict[str, dict[str, Any]] = {}
        self.role: dict[str, str] = {}
        for type_name, moref, props in rows:
            self.props[moref] = props
            self.role[moref] = _role(type_name)

    def name(self, moref: str) -> str:
        return self.props.get(moref, {}).get("name", "")

    def names(self, morefs: Iterable[str]) -> list[str]:
        """Sorted unique names; a reference outside the retrieval keeps its moref."""
        return sorted({self.props.get(m, {}).get("name") or m for m in morefs})

    def up_to(self, moref: str, role: str) -> str:
        """The first object with ``role`` at or above ``moref`` in the parent chain, or ""."""
        seen = set()
        while moref and moref not in seen:
            if self.role.get(moref) == role:
                return moref
            seen.add(moref)
            moref = self.props.get(moref, {}).get("parent", "")
        return ""

    def folder_path(self, moref: str) -> str:
        """Names of the folders from below the datacenter's VM folder down to ``moref``: "Prod/Web"."""
        names = []
        seen = set()
        while self.role.get(moref) == "folder" and moref not in seen:
            seen.add(moref)
            parent = self.props[moref].get("parent", "")
            if self.role.get(parent) != "folder":  # moref is the datacenter's top-level vm folder
                break
            names.append(self.name(moref))
            moref = parent
        return "/".join(reversed(names))


def build_inventory(
    rows: Iterable[Row], *, observed_at: datetime, vcenter_uuid: str = "", field_names: dict[int, str] | None = None
) -> Inventory:
    """Turn retrieved rows into an ``Inventory`` (no events); lists sorted by name, then key."""
    objects = _Objects(rows)
    field_names = field_names or {}
    inventory = Inventory(observed_at=as_utc(observed_at), vcenter_uuid=vcenter_uuid or "")
    by_role: dict[str, list[str]] = {}
    for moref, role in objects.role.items():
        by_role.setdefault(role, []).append(moref)

    for moref in by_role.get("datacenter", []):
        inventory.datacenters.append(ObservedDatacenter(key=moref, name=objects.name(moref)))
    for moref in by_role.get("compute", []):
        inventory.clusters.append(
            ObservedCluster(key=moref, name=objects.name(moref), datacenter_key=objects.up_to(moref, "datacenter"))
        )
    for moref in by_role.get("host", []):
        props = objects.props[moref]
        inventory.hosts.append(
            ObservedHost(
                key=moref,
                name=props.get("name", ""),
                hardware_uuid=props.get("hardware.systemInfo.uuid", ""),
                cluster_key=objects.up_to(props.get("parent", ""), "compute"),
                datacenter_key=objects.up_to(moref, "datacenter"),
                product=props.get("config.product.fullName", ""),
                version=props.get("config.product.version", ""),
                build=props.get("config.product.build", ""),
            )
        )
    for moref in by_role.get("vm", []):
        inventory.vms.append(_observed_vm(moref, objects, field_names))

    def by_name(o):
        return (o.name, o.key)

    inventory.datacenters.sort(key=by_name)
    inventory.clusters.sort(key=by_name)
    inventory.hosts.sort(key=by_name)
    inventory.vms.sort(key=lambda vm: (vm.name, vm.moref))
    return inventory


def _observed_vm(moref: str, objects: _Objects, field_names: dict[int, str]) -> ObservedVM:
    """One VM's facts; a VM without config (being created, inaccessible) keeps what it has."""
    p = objects.props[moref]
    host = p.get("runtime.host", "")
    pool = p.get("resourcePool", "")
    # The VM's placement in the folder tree, else (a vApp member) its vApp's, else its pool's.
    anchor = p.get("parent") or p.get("parentVApp") or pool or host
    cluster = objects.up_to(objects.props.get(host, {}).get("parent", ""), "compute") or objects.up_to(pool, "compute")
    ips = set(p.get("guest.net", []))
    if p.get("guest.ipAddress"):
        ips.add(p["guest.ipAddress"])
    tools_version = p.get("config.tools.toolsVersion")
    return ObservedVM(
        moref=moref,
        name=p.get("name", ""),
        instance_uuid=p.get("config.instanceUuid", ""),
        bios_uuid=p.get("config.uuid", ""),
        power_state=p.get("runtime.powerState") or "unknown",
        is_template=p.get("config.template", False),
        datacenter_key=objects.up_to(anchor, "datacenter"),
        cluster_key=cluster,
        host_key=host,
        resource_pool=objects.name(pool),
        folder=objects.folder_path(p.get("parent", "")),
        datastores=objects.names(p.get("datastore", [])),
        networks=objects.names(p.get("network", [])),
        mac_addresses=sorted(set(p.get("config.hardware.device", []))),
        ip_addresses=sorted(ips),
        guest_os=p.get("config.guestFullName", ""),
        guest_os_tools=p.get("guest.guestFullName", ""),
        dns_name=p.get("guest.hostName", ""),
        tools_status=p.get("guest.toolsStatus") or p.get("guest.toolsRunningStatus", ""),
        tools_version="" if tools_version is None else str(tools_version),
        tools_version_status=p.get("guest.toolsVersionStatus2", ""),
        hardware_version=p.get("config.version", ""),
        cpu_count=p.get("config.hardware.numCPU"),
        memory_mb=p.get("config.hardware.memoryMB"),
        created_at=as_utc(p.get("config.createDate")),
        annotation=p.get("config.annotation", ""),
        custom_attributes={field_names.get(k, str(k)): v for k, v in sorted(p.get("customValue", {}).items())},
        advanced_settings=dict(sorted(p.get("config.extraConfig", {}).items())),
        boot_time=as_utc(p.get("runtime.bootTime")),
    )


def custom_field_names(content) -> dict[int, str]:
    """Custom attribute keys → names, for VMs (and global fields); one small call."""
    manager = content.customFieldsManager
    if manager is None:  # a standalone ESXi host has none
        return {}
    return {
        f.key: f.name
        for f in (manager.field or [])
        if f.managedObjectType in (None, vim.VirtualMachine)
    }


# -- the entry point --------------------------------------------------------------


def collect_inventory(
    si,
    *,
    since_event_key: int | None = None,
    since_event_time: datetime | None = None,
    page_size: int = PAGE_SIZE,
    fast: bool = True,
) -> Inventory:
    """Everything vCenter shows now, plus the VM events after ``since_event_key``.

    ``observed_at`` is the server's clock at the start; ``last_event_key`` the
    newest event key read (``since_event_key`` when there is none).
    ``since_event_time`` (the previous scan's ``observed_at``) narrows the
    event query on a real vCenter. ``fast`` parses the inventory with lxml
    (see fastpath); ``fast=False`` uses pyvmomi's objects, same result.
    """
    content = si.RetrieveContent()
    observed_at = si.CurrentTime()
    view = content.viewManager.CreateContainerView(container=content.rootFolder, type=VIEW_TYPES, recursive=True)
    try:
        pc = content.propertyCollector
        retriever = FastRetriever(si._stub, pc, KINDS) if fast else PyvmomiRetriever(pc)
        rows = retrieve_all(retriever, filter_spec(view), page_size=page_size)
    finally:
        with contextlib.suppress(Exception):
            view.DestroyView()
    inventory = build_inventory(
        rows,
        observed_at=observed_at,
        vcenter_uuid=content.about.instanceUuid or "",
        field_names=custom_field_names(content),
    )
    inventory.events = read_vm_events(si, since_key=since_event_key, since_time=since_event_time)
    inventory.last_event_key = max((e.key for e in inventory.events), default=since_event_key)
    logger.info(
        "vSphere: %d datacenters, %d clusters, %d hosts, %d VMs, %d events",
        len(inventory.datacenters), len(inventory.clusters), len(inventory.hosts),
        len(inventory.vms), len(inventory.events),
    )
    return inventory
