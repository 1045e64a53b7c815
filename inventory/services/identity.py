"""Turn one observed inventory into VMs with stable identity, history rows and lifecycle.

Every collector (the vSphere scanner, the RVTools and CSV importers) ends here.
A VM is matched to a known one by, in order of trust:

1. (vCenter UUID, instance UUID);
2. (source, instance UUID) when the observation or the known VM has no vCenter
   UUID: an RVTools export without its ``VI SDK UUID`` column says which VM,
   not which vCenter, so within the source it was imported into the instance
   UUID is still the VM's own;
3. (vCenter, or the source for platforms without one, moref) when the instance
   UUID changed but the moref did not;
4. the BIOS UUID of a VM that is not live any more (missing, removed, or gone
   from this very source): a VM moved between vCenters.

Never by name, IP or host. Two live VMs with one BIOS UUID stay two VMs and
both get ``copied``. Observations are written in batches, each in its own
transaction; only a complete scan marks unseen VMs missing or removed.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from inventory.choices import ChangeKind, PowerState, VMStatus
from inventory.models import Cluster, Datacenter, Host, ScanRun, Source, VirtualMachine, VMChange
from inventory.observations import CREATION_EVENTS, Inventory, ObservedEvent, ObservedVM, VMEventKind
from portal.db import chunked

# VMs per transaction: a crash loses at most one batch, and 10,000 VMs take
# twenty batches of a handful of bulk statements each.
APPLY_BATCH_SIZE = 500

# Facts whose change is a timeline entry, by kind. Other facts (identity keys, IPs,
# Tools, boot time) change too often or mean too little to be history: updated silently.
LOCATION_FIELDS = ("source", "datacenter", "cluster", "host", "datastores", "resource_pool", "folder")
NETWORK_FIELDS = ("networks", "mac_addresses")
CONFIG_FIELDS = (
    "cpu_count", "memory_mb", "hardware_version", "guest_os", "annotation", "advanced_settings",
    "custom_attributes", "is_template",
)
TRACKED_KINDS = (
    (ChangeKind.RENAMED, ("name",)),
    (ChangeKind.RELOCATED, LOCATION_FIELDS),
    (ChangeKind.NETWORK_CHANGED, NETWORK_FIELDS),
    (ChangeKind.POWER_CHANGED, ("power_state",)),
    (ChangeKind.RECONFIGURED, CONFIG_FIELDS),
)
# The vCenter events whose user is the actor of a change of that kind.
ACTOR_EVENTS = {
    ChangeKind.DISCOVERED: CREATION_EVENTS,
    ChangeKind.RENAMED: frozenset({VMEventKind.RENAMED}),
    ChangeKind.RELOCATED: frozenset({VMEventKind.MIGRATED, VMEventKind.RELOCATED}),
    ChangeKind.RECONFIGURED: frozenset({VMEventKind.RECONFIGURED}),
    ChangeKind.REMOVED: frozenset({VMEventKind.REMOVED}),
}
FOREIGN_KEYS = ("source", "datacenter", "cluster", "host")


@dataclass
class ApplyCounts:
    discovered: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: int = 0
    reappeared: int = 0
    removed: int = 0


@dataclass
class _Hierarchy:
    datacenters: dict[str, Datacenter] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)


@dataclass
class _Context:
    run: ScanRun
    source: Source
    inventory: Inventory
    hierarchy: _Hierarchy
    events_by_vm: dict[str, list[ObservedEvent]]
    counts: ApplyCounts = field(default_factory=ApplyCounts)
    # (foreign key name, id) → name, for writing the old location of known VMs into history.
    related_names: dict[tuple[str, int], str] = field(default_factory=dict)


# --- the compute hierarchy ---------------------------------------------------------------------------------------


def _hierarchy_apply(source: Source, inventory: Inventory, seen_at: datetime.datetime) -> _Hierarchy:
    """Upsert datacenters, clusters and hosts; a host keeps its row through a rename (hardware UUID, then moref)."""
    hierarchy = _Hierarchy()
    known_dcs = {dc.moref: dc for dc in Datacenter.objects.filter(source=source)}
    for observed in inventory.datacenters:
        dc = known_dcs.get(observed.key) or Datacenter(source=source, moref=observed.key)
        if dc.pk is None or dc.name != observed.name:
            dc.name = observed.name
            dc.save()
        hierarchy.datacenters[observed.key] = dc

    known_clusters = {cluster.moref: cluster for cluster in Cluster.objects.filter(source=source)}
    for observed in inventory.clusters:
        cluster = known_clusters.get(observed.key) or Cluster(source=source, moref=observed.key)
        datacenter = hierarchy.datacenters.get(observed.datacenter_key)
        if cluster.pk is None or (cluster.name, cluster.datacenter_id) != (observed.name, datacenter and datacenter.pk):
            cluster.name, cluster.datacenter = observed.name, datacenter
            cluster.save()
        hierarchy.clusters[observed.key] = cluster

    known_hosts = list(Host.objects.filter(source=source))
    by_uuid = {host.hardware_uuid: host for host in known_hosts if host.hardware_uuid}
    by_moref = {host.moref: host for host in known_hosts if host.moref}
    changed_hosts, new_hosts = [], []
    for observed in inventory.hosts:
        host = (observed.hardware_uuid and by_uuid.get(observed.hardware_uuid)) or by_moref.get(observed.key)
        wanted = {
            "moref": observed.key,
            "name": observed.name,
            "hardware_uuid": observed.hardware_uuid or (host.hardware_uuid if host else ""),
            "cluster": hierarchy.clusters.get(observed.cluster_key),
            "datacenter": hierarchy.datacenters.get(observed.datacenter_key),
            "product": observed.product,
            "version": observed.version,
            "build": observed.build,
            "last_seen": seen_at,
        }
        if host is None:
            host = Host(source=source, **wanted)
            new_hosts.append(host)
        else:
            for name, value in wanted.items():
                setattr(host, name, value)
            changed_hosts.append(host)
        hierarchy.hosts[observed.key] = host
    Host.objects.bulk_create(new_hosts, batch_size=APPLY_BATCH_SIZE)
    Host.objects.bulk_update(
        changed_hosts,
        ["moref", "name", "hardware_uuid", "cluster", "datacenter", "product", "version", "build", "last_seen"],
        batch_size=APPLY_BATCH_SIZE,
    )
    return hierarchy


# --- matching ----------------------------------------------------------------------------------------------------


def _known_vms(source: Source, inventory: Inventory) -> list[VirtualMachine]:
    """VMs this observation may be about: the source's own, and those of the same vCenter seen via another source."""
    scope = Q(source=source)
    if inventory.vcenter_uuid:
        scope |= Q(vcenter_uuid=inventory.vcenter_uuid)
    return list(VirtualMachine.objects.filter(scope))


def _bios_candidates(bios_uuids: list[str], exclude_ids: set[int]) -> dict[str, list[VirtualMachine]]:
    candidates: dict[str, list[VirtualMachine]] = defaultdict(list)
    for chunk in chunked(bios_uuids):
        for vm in (
            VirtualMachine.objects.filter(bios_uuid__in=chunk).order_by("-last_seen", "id")
        ):
            if vm.pk not in exclude_ids:
                candidates[vm.bios_uuid].append(vm)
    return candidates


def _source_instance_match(candidates: list[VirtualMachine], vcenter_uuid: str) -> VirtualMachine | None:
    """The one VM of the source with this instance UUID whose vCenter may be the observation's; None if not one."""
    possible = [
        vm for vm in candidates if not vcenter_uuid or not vm.vcenter_uuid or vm.vcenter_uuid == vcenter_uuid
    ]
    return possible[0] if len(possible) == 1 else None


def _match(source: Source, inventory: Inventory) -> list[tuple[ObservedVM, VirtualMachine | None]]:
    """Pair each observation with the known VM it is, or None for a VM never seen before."""
    known = _known_vms(source, inventory)
    by_instance = {
        (vm.vcenter_uuid, vm.instance_uuid): vm for vm in known if vm.vcenter_uuid and vm.instance_uuid
    }
    # Rule 2 is kept to one source: another source may be another vCenter, where the same UUID is a copy.
    by_source_instance: dict[str, list[VirtualMachine]] = defaultdict(list)
    for vm in known:
        if vm.source_id == source.pk and vm.instance_uuid:
            by_source_instance[vm.instance_uuid].append(vm)
    moref_scope = inventory.vcenter_uuid or None
    by_moref = {
        vm.moref: vm
        for vm in known
        if vm.moref and ((vm.vcenter_uuid == moref_scope) if moref_scope else vm.source_id == source.pk)
    }
    observed_instances = {vm.instance_uuid for vm in inventory.vms if vm.instance_uuid}
    matched: dict[int, VirtualMachine] = {}
    pairs: list[tuple[ObservedVM, VirtualMachine | None]] = []

    for observed in inventory.vms:
        vm = None
        if inventory.vcenter_uuid and observed.instance_uuid:
            vm = by_instance.get((inventory.vcenter_uuid, observed.instance_uuid))
        if vm is None and observed.instance_uuid:
            vm = _source_instance_match(by_source_instance.get(observed.instance_uuid, []), inventory.vcenter_uuid)
        if vm is None and observed.moref:
            candidate = by_moref.get(observed.moref)
            # The moref is trusted only when the VM that held it is not itself still present under its UUID.
            if candidate is not None and candidate.instance_uuid not in observed_instances:
                vm = candidate
        if vm is not None and vm.pk in matched:
            vm = None
        if vm is not None:
            matched[vm.pk] = vm
        pairs.append((observed, vm))

    unmatched_bios = sorted({observed.bios_uuid for observed, vm in pairs if vm is None and observed.bios_uuid})
    if unmatched_bios:
        candidates = _bios_candidates(unmatched_bios, set(matched))
        for index, (observed, vm) in enumerate(pairs):
            if vm is not None or not observed.bios_uuid:
                continue
            for candidate in candidates.get(observed.bios_uuid, []):
                # A live VM elsewhere is a copy, not this VM: never merge two live VMs.
                gone_from_here = candidate.source_id == source.pk or (
                    inventory.vcenter_uuid and candidate.vcenter_uuid == inventory.vcenter_uuid
                )
                if candidate.pk not in matched and (candidate.status != VMStatus.PRESENT or gone_from_here):
                    matched[candidate.pk] = candidate
                    pairs[index] = (observed, candidate)
                    break
    return pairs


# --- facts and history -------------------------------------------------------------------------------------------


def _wanted_facts(ctx: _Context, observed: ObservedVM) -> dict[str, Any]:
    """The VM's fields as observed. Empty values mean "not known" and are left out, so they never erase a fact."""
    hierarchy = ctx.hierarchy
    facts: dict[str, Any] = {
        "source": ctx.source,
        "vcenter_uuid": ctx.inventory.vcenter_uuid,
        "moref": observed.moref,
        "instance_uuid": observed.instance_uuid,
        "bios_uuid": observed.bios_uuid,
        "name": observed.name,
        "power_state": observed.power_state if observed.power_state in PowerState.values else "",
        "is_template": observed.is_template,
        "datacenter": hierarchy.datacenters.get(observed.datacenter_key),
        "cluster": hierarchy.clusters.get(observed.cluster_key),
        "host": hierarchy.hosts.get(observed.host_key),
        "resource_pool": observed.resource_pool,
        "folder": observed.folder,
        "datastores": sorted(set(observed.datastores)),
        "networks": sorted(set(observed.networks)),
        "mac_addresses": sorted({mac.lower() for mac in observed.mac_addresses}),
        "ip_addresses": sorted(set(observed.ip_addresses)),
        "guest_os": observed.guest_os,
        "guest_os_tools": observed.guest_os_tools,
        "tools_status": observed.tools_status,
        "tools_version": observed.tools_version,
        "tools_version_status": observed.tools_version_status,
        "hardware_version": observed.hardware_version,
        "cpu_count": observed.cpu_count,
        "memory_mb": observed.memory_mb,
        "created_at": observed.created_at,
        "created_by": observed.created_by or _creator(ctx, observed.moref),
        "annotation": observed.annotation,
        "custom_attributes": dict(observed.custom_attributes),
        "advanced_settings": dict(observed.advanced_settings),
        "boot_time": observed.boot_time,
        "platform": observed.platform,
        "dns_name": observed.dns_name,
    }
    return {name: value for name, value in facts.items() if value not in ("", None, [], {}) or name == "is_template"}


def _display(name: str, value: Any) -> Any:
    """How an observed fact is written into history: names for related rows, JSON-safe values for the rest."""
    if name in FOREIGN_KEYS:
        return str(value) if value is not None else None
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def _display_current(ctx: _Context, vm: VirtualMachine, name: str) -> Any:
    """The known VM's current value for history, without loading its related rows one by one."""
    if name in FOREIGN_KEYS:
        related_id = getattr(vm, f"{name}_id")
        return ctx.related_names.get((name, related_id)) if related_id is not None else None
    return _display(name, getattr(vm, name))


def _same(vm: VirtualMachine, name: str, wanted: Any) -> bool:
    if name in FOREIGN_KEYS:
        return getattr(vm, f"{name}_id") == getattr(wanted, "pk", None)
    return getattr(vm, name) == wanted


def _related_names(pairs: list[tuple[ObservedVM, VirtualMachine | None]]) -> dict[tuple[str, int], str]:
    """Names of the sources, datacenters, clusters and hosts known VMs point at: one query per kind."""
    models = {"source": Source, "datacenter": Datacenter, "cluster": Cluster, "host": Host}
    names: dict[tuple[str, int], str] = {}
    for name, model in models.items():
        ids = sorted({getattr(vm, f"{name}_id") for _, vm in pairs if vm is not None} - {None})
        for chunk in chunked(ids):
            rows = model.objects.filter(pk__in=chunk).values_list("pk", "name")
            names.update(((name, pk), label) for pk, label in rows)
    return names


def _actor(ctx: _Context, moref: str, kind: str) -> str:
    names = ACTOR_EVENTS.get(kind, ())
    for event in reversed(ctx.events_by_vm.get(moref, [])):
        if event.kind in names and event.user:
            return event.user
    return ""


def _creator(ctx: _Context, moref: str) -> str:
    for event in ctx.events_by_vm.get(moref, []):
        if event.kind in CREATION_EVENTS and event.user:
            return event.user
    return ""


def _change(ctx: _Context, vm: VirtualMachine, kind: str, old: Any, new: Any) -> VMChange:
    return VMChange(
        vm=vm, kind=kind, at=ctx.inventory.observed_at, scan_run=ctx.run,
        actor=_actor(ctx, vm.moref, kind), old=old, new=new,
    )


def _update_known(ctx: _Context, vm: VirtualMachine, wanted: dict[str, Any]) -> tuple[list[str], list[VMChange]]:
    """Apply observed facts to a known VM; return the fields that changed and the history rows they make."""
    changed_fields = [name for name, value in wanted.items() if not _same(vm, name, value)]
    changes: list[VMChange] = []
    for kind, names in TRACKED_KINDS:
        differing = [name for name in names if name in changed_fields]
        if not differing:
            continue
        old = {name: _display_current(ctx, vm, name) for name in differing}
        new = {name: _display(name, wanted[name]) for name in differing}
        if kind in (ChangeKind.RENAMED, ChangeKind.POWER_CHANGED):
            old, new = old[names[0]], new[names[0]]
        changes.append(_change(ctx, vm, kind, old, new))
    for name in changed_fields:
        setattr(vm, name, wanted[name])
    if vm.status != VMStatus.PRESENT:
        changes.append(_change(ctx, vm, ChangeKind.REAPPEARED, vm.status, VMStatus.PRESENT))
        vm.status, vm.missing_scans = VMStatus.PRESENT, 0
        changed_fields += ["status", "missing_scans"]
        ctx.counts.reappeared += 1
    return changed_fields, changes


def _discovered_facts(vm: VirtualMachine) -> dict[str, Any]:
    return {
        "name": vm.name,
        "host": _display("host", vm.host),
        "cluster": _display("cluster", vm.cluster),
        "datacenter": _display("datacenter", vm.datacenter),
        "power_state": vm.power_state,
        "instance_uuid": vm.instance_uuid,
        "bios_uuid": vm.bios_uuid,
    }


def _apply_batch(ctx: _Context, pairs: list[tuple[ObservedVM, VirtualMachine | None]]) -> None:
    seen_at = ctx.inventory.observed_at
    new_vms: list[VirtualMachine] = []
    updated: dict[int, VirtualMachine] = {}
    update_fields: set[str] = set()
    changes: list[VMChange] = []
    unchanged_ids: list[int] = []
    for observed, vm in pairs:
        wanted = _wanted_facts(ctx, observed)
        if vm is None:
            vm = VirtualMachine(first_seen=seen_at, last_seen=seen_at, last_scan=ctx.run, **wanted)
            new_vms.append(vm)
            continue
        fields, vm_changes = _update_known(ctx, vm, wanted)
        if fields:
            vm.last_seen, vm.last_scan = seen_at, ctx.run
            updated[vm.pk] = vm
            update_fields.update(fields)
        else:
            unchanged_ids.append(vm.pk)
        changes.extend(vm_changes)
        if any(change.kind != ChangeKind.REAPPEARED for change in vm_changes):
            ctx.counts.changed += 1
        elif not vm_changes:
            ctx.counts.unchanged += 1

    with transaction.atomic():
        VirtualMachine.objects.bulk_create(new_vms, batch_size=APPLY_BATCH_SIZE)
        changes.extend(_change(ctx, vm, ChangeKind.DISCOVERED, None, _discovered_facts(vm)) for vm in new_vms)
        if updated:
            VirtualMachine.objects.bulk_update(
                list(updated.values()), sorted(update_fields | {"last_seen", "last_scan"}), batch_size=APPLY_BATCH_SIZE
            )
        if unchanged_ids:
            VirtualMachine.objects.filter(pk__in=unchanged_ids).update(last_seen=seen_at, last_scan=ctx.run)
        VMChange.objects.bulk_create(changes, batch_size=APPLY_BATCH_SIZE)
        ctx.counts.discovered += len(new_vms)
        ScanRun.objects.filter(pk=ctx.run.pk).update(
            vms_seen=ctx.run.vms_seen + len(pairs), heartbeat_at=timezone.now()
        )
        ctx.run.vms_seen += len(pairs)


# --- after every batch: lineage, lifecycle, copies ---------------------------------------------------------------


def _lineage_apply(ctx: _Context) -> None:
    """Link clones and deployments to their source VM or template, from this scan's events."""
    links = [
        event for events in ctx.events_by_vm.values() for event in events
        if (event.kind == VMEventKind.CLONED and event.source_vm_moref)
        or (event.kind == VMEventKind.DEPLOYED and event.template_moref)
    ]
    if not links:
        return
    morefs = {event.vm_moref for event in links} | {event.source_vm_moref or event.template_moref for event in links}
    scope = Q(vcenter_uuid=ctx.inventory.vcenter_uuid) if ctx.inventory.vcenter_uuid else Q(source=ctx.source)
    by_moref = {vm.moref: vm for vm in VirtualMachine.objects.filter(scope, moref__in=morefs)}
    changes = []
    for event in links:
        child = by_moref.get(event.vm_moref)
        parent = by_moref.get(event.source_vm_moref or event.template_moref)
        if child is None or parent is None or child.pk == parent.pk:
            continue
        if event.kind == VMEventKind.CLONED and child.cloned_from_id is None:
            child.cloned_from = parent
            child.save(update_fields=["cloned_from"])
            changes.append(VMChange(
                vm=child, kind=ChangeKind.CLONED, at=event.at, scan_run=ctx.run, actor=event.user,
                old=None, new={"cloned_from": parent.name, "cloned_from_id": parent.pk},
            ))
        elif event.kind == VMEventKind.DEPLOYED and child.template_id is None:
            child.template = parent
            child.save(update_fields=["template"])
    VMChange.objects.bulk_create(changes)


def _lifecycle_apply(ctx: _Context) -> None:
    """After a complete scan: VMs not seen go missing, and removed after N scans or a VmRemovedEvent."""
    removed_morefs = {
        moref for moref, events in ctx.events_by_vm.items()
        if any(event.kind == VMEventKind.REMOVED for event in events)
    }
    threshold = ctx.source.missing_scans_before_removed
    scope = Q(source=ctx.source)
    if ctx.inventory.vcenter_uuid:
        # One export may hold several vCenters: each observation speaks only for its own.
        scope &= Q(vcenter_uuid=ctx.inventory.vcenter_uuid)
    unseen = list(
        VirtualMachine.objects.filter(scope)
        .exclude(status=VMStatus.REMOVED)
        .exclude(last_scan=ctx.run)
        .only("id", "moref", "status", "missing_scans")
    )
    changes, updated = [], []
    for vm in unseen:
        old_status = vm.status
        vm.missing_scans += 1
        if vm.moref in removed_morefs or vm.missing_scans >= threshold:
            vm.status = VMStatus.REMOVED
        else:
            vm.status = VMStatus.MISSING
        if vm.status != old_status:
            if old_status == VMStatus.PRESENT:
                changes.append(_change(ctx, vm, ChangeKind.MISSING, old_status, VMStatus.MISSING))
                ctx.counts.missing += 1
            if vm.status == VMStatus.REMOVED:
                changes.append(_change(ctx, vm, ChangeKind.REMOVED, VMStatus.MISSING, VMStatus.REMOVED))
                ctx.counts.removed += 1
        updated.append(vm)
    with transaction.atomic():
        VirtualMachine.objects.bulk_update(updated, ["status", "missing_scans"], batch_size=APPLY_BATCH_SIZE)
        VMChange.objects.bulk_create(changes, batch_size=APPLY_BATCH_SIZE)


def vm_copied_flags_refresh() -> None:
    """``copied`` is true exactly for live VMs that share a BIOS UUID with another live VM."""
    shared = (
        VirtualMachine.objects.filter(status=VMStatus.PRESENT).exclude(bios_uuid="")
        .values("bios_uuid").annotate(count=Count("id")).filter(count__gt=1).values("bios_uuid")
    )
    with transaction.atomic():
        VirtualMachine.objects.filter(copied=True).exclude(status=VMStatus.PRESENT, bios_uuid__in=shared).update(
            copied=False
        )
        VirtualMachine.objects.filter(copied=False, status=VMStatus.PRESENT, bios_uuid__in=shared).update(copied=True)


def _events_by_vm(events: Iterable[ObservedEvent]) -> dict[str, list[ObservedEvent]]:
    by_vm: dict[str, list[ObservedEvent]] = defaultdict(list)
    for event in sorted(events, key=lambda event: event.key):
        by_vm[event.vm_moref].append(event)
    return by_vm


def inventory_apply(*, run: ScanRun, inventory: Inventory, complete: bool) -> ApplyCounts:
    """Write one observation into the inventory, batch by batch, and return what it changed.

    ``complete`` says the observation covers the whole source: only then are
    VMs that were not seen marked missing (and later removed). An exception
    part-way leaves every finished batch written and the rest as it was.
    """
    source = run.source
    with transaction.atomic():
        hierarchy = _hierarchy_apply(source, inventory, inventory.observed_at)
        if inventory.vcenter_uuid and source.vcenter_uuid != inventory.vcenter_uuid:
            source.vcenter_uuid = inventory.vcenter_uuid
            source.save(update_fields=["vcenter_uuid"])
    ctx = _Context(
        run=run, source=source, inventory=inventory, hierarchy=hierarchy,
        events_by_vm=_events_by_vm(inventory.events),
    )
    ScanRun.objects.filter(pk=run.pk).update(vms_total=len(inventory.vms))
    pairs = _match(source, inventory)
    ctx.related_names = _related_names(pairs)
    for batch in chunked(pairs, APPLY_BATCH_SIZE):
        _apply_batch(ctx, batch)
    _lineage_apply(ctx)
    if complete:
        _lifecycle_apply(ctx)
    vm_copied_flags_refresh()
    return ctx.counts
