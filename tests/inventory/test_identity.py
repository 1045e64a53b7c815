"""Identity, history and lifecycle from observed inventories, independent of where they came from.

The vSphere scenario tests drive the same code through the simulator; these
cover the rules the simulator cannot stage (vCenter moves, copies, crashes).
"""

import dataclasses
import datetime

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from inventory.choices import ChangeKind, ScanStatus, SourceKind, VMStatus
from inventory.models import Host, ScanRun, Source, VirtualMachine, VMChange
from inventory.observations import (
    Inventory,
    ObservedCluster,
    ObservedDatacenter,
    ObservedEvent,
    ObservedHost,
    ObservedVM,
)
from inventory.services import identity
from inventory.services.identity import inventory_apply
from inventory.services.scan_runs import ScanAlreadyRunning, scan_run_finish, scan_run_start

pytestmark = pytest.mark.django_db
T0 = datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.UTC)
VCENTER_A = "vc-a-uuid"
VCENTER_B = "vc-b-uuid"


def vm(number: int, **facts) -> ObservedVM:
    defaults = dict(
        moref=f"vm-{number}", name=f"app{number:02d}", instance_uuid=f"inst-{number}", bios_uuid=f"bios-{number}",
        power_state="poweredOn", datacenter_key="dc-1", cluster_key="c-1", host_key="h-1",
        networks=["VM Network"], mac_addresses=["00:50:56:00:00:01"], cpu_count=2, memory_mb=4096,
        guest_os="Ubuntu Linux (64-bit)", advanced_settings={"isolation.tools.copy.disable": "TRUE"},
    )
    return ObservedVM(**{**defaults, **facts})


def inventory(vms, *, at=T0, vcenter=VCENTER_A, events=()) -> Inventory:
    return Inventory(
        observed_at=at,
        vcenter_uuid=vcenter,
        datacenters=[ObservedDatacenter("dc-1", "DC1")],
        clusters=[ObservedCluster("c-1", "Prod", "dc-1"), ObservedCluster("c-2", "Test", "dc-1")],
        hosts=[
            ObservedHost("h-1", "esx01", hardware_uuid="hw-1", cluster_key="c-1", datacenter_key="dc-1"),
            ObservedHost("h-2", "esx02", hardware_uuid="hw-2", cluster_key="c-2", datacenter_key="dc-1"),
        ],
        vms=list(vms),
        events=list(events),
    )


@pytest.fixture
def source():
    return Source.objects.create(name="vc-a", kind=SourceKind.VCENTER, host="vc-a.example", vcenter_uuid=VCENTER_A)


def scan(source, observed: Inventory, *, complete=True) -> ScanRun:
    run = scan_run_start(source=source, trigger="command", observed_at=observed.observed_at)
    counts = inventory_apply(run=run, inventory=observed, complete=complete)
    return scan_run_finish(run=run, status=ScanStatus.COMPLETE if complete else ScanStatus.PARTIAL, counts=counts)


def history(vm_row) -> list[tuple]:
    return [(change.kind, change.old, change.new) for change in vm_row.changes.order_by("at", "id")]


def test_first_scan_discovers_every_vm_once(source):
    run = scan(source, inventory([vm(1), vm(2)]))

    assert (run.discovered, run.changed, run.unchanged, run.missing) == (2, 0, 0, 0)
    first = VirtualMachine.objects.get(instance_uuid="inst-1")
    assert (first.name, first.host.name, first.cluster.name, first.datacenter.name) == ("app01", "esx01", "Prod", "DC1")
    assert (first.status, first.first_seen, first.last_seen, first.last_scan) == (VMStatus.PRESENT, T0, T0, run)
    assert history(first) == [(ChangeKind.DISCOVERED, None, {
        "name": "app01", "host": "esx01", "cluster": "Prod", "datacenter": "DC1", "power_state": "poweredOn",
        "instance_uuid": "inst-1", "bios_uuid": "bios-1",
    })]


def test_rescan_with_nothing_changed_writes_no_history(source):
    scan(source, inventory([vm(1), vm(2)]))
    later = T0 + datetime.timedelta(hours=1)

    run = scan(source, inventory([vm(1), vm(2)], at=later))

    assert (run.discovered, run.changed, run.unchanged) == (0, 0, 2)
    assert VMChange.objects.filter(scan_run=run).count() == 0
    assert set(VirtualMachine.objects.values_list("last_seen", flat=True)) == {later}


def test_renamed_and_moved_vm_keeps_its_id_with_one_renamed_and_one_relocated_row(source):
    scan(source, inventory([vm(1)]))
    original_id = VirtualMachine.objects.get().pk

    run = scan(source, inventory([vm(1, name="billing-db", host_key="h-2", cluster_key="c-2")]))

    moved = VirtualMachine.objects.get()
    assert moved.pk == original_id and moved.name == "billing-db" and moved.host.name == "esx02"
    assert (run.changed, run.discovered) == (1, 0)
    assert [(c.kind, c.old, c.new) for c in VMChange.objects.filter(scan_run=run).order_by("kind")] == [
        (ChangeKind.RELOCATED, {"cluster": "Prod", "host": "esx01"}, {"cluster": "Test", "host": "esx02"}),
        (ChangeKind.RENAMED, "app01", "billing-db"),
    ]


def test_each_kind_of_change_gets_its_own_row(source):
    scan(source, inventory([vm(1)]))

    run = scan(source, inventory([vm(
        1, power_state="poweredOff", networks=["DMZ"], memory_mb=8192,
        advanced_settings={"isolation.tools.copy.disable": "FALSE"},
    )]))

    assert sorted((c.kind, c.old, c.new) for c in VMChange.objects.filter(scan_run=run)) == [
        (ChangeKind.NETWORK_CHANGED, {"networks": ["VM Network"]}, {"networks": ["DMZ"]}),
        (ChangeKind.POWER_CHANGED, "poweredOn", "poweredOff"),
        (ChangeKind.RECONFIGURED,
         {"advanced_settings": {"isolation.tools.copy.disable": "TRUE"}, "memory_mb": 4096},
         {"advanced_settings": {"isolation.tools.copy.disable": "FALSE"}, "memory_mb": 8192}),
    ]


def test_volatile_facts_update_silently(source):
    scan(source, inventory([vm(1)]))

    run = scan(source, inventory([vm(1, ip_addresses=["10.0.0.5"], tools_status="toolsOk")]))

    current = VirtualMachine.objects.get()
    assert (current.ip_addresses, current.tools_status) == (["10.0.0.5"], "toolsOk")
    assert VMChange.objects.filter(scan_run=run).count() == 0


def test_unknown_values_never_erase_known_facts(source):
    scan(source, inventory([vm(1, annotation="billing", tools_version="12352")]))

    scan(source, inventory([vm(1, annotation="", tools_version="", memory_mb=None, guest_os="")]))

    current = VirtualMachine.objects.get()
    assert (current.annotation, current.tools_version, current.memory_mb, current.guest_os) == (
        "billing", "12352", 4096, "Ubuntu Linux (64-bit)",
    )


def test_new_instance_uuid_with_the_same_moref_is_the_same_vm(source):
    scan(source, inventory([vm(1)]))
    original_id = VirtualMachine.objects.get().pk

    scan(source, inventory([vm(1, instance_uuid="inst-1-regenerated")]))

    assert list(VirtualMachine.objects.values_list("pk", "instance_uuid")) == [(original_id, "inst-1-regenerated")]


def test_vm_moved_between_vcenters_keeps_its_id_by_bios_uuid(source):
    scan(source, inventory([vm(1), vm(2)]))
    scan(source, inventory([vm(2)]))  # vm 1 left vCenter A: missing there
    other = Source.objects.create(name="vc-b", kind=SourceKind.VCENTER, host="vc-b.example")
    original = VirtualMachine.objects.get(bios_uuid="bios-1")

    run = scan(other, inventory([vm(1, moref="vm-900", instance_uuid="inst-b-1")], vcenter=VCENTER_B))

    moved = VirtualMachine.objects.get(bios_uuid="bios-1")
    assert moved.pk == original.pk and moved.source == other and moved.status == VMStatus.PRESENT
    assert [(c.kind, c.old, c.new) for c in VMChange.objects.filter(scan_run=run).order_by("kind")] == [
        (ChangeKind.REAPPEARED, VMStatus.MISSING, VMStatus.PRESENT),
        # The datacenter, cluster and host rows are vCenter B's, which happen to carry the same names.
        (ChangeKind.RELOCATED,
         {"source": "vc-a", "datacenter": "DC1", "cluster": "Prod", "host": "esx01"},
         {"source": "vc-b", "datacenter": "DC1", "cluster": "Prod", "host": "esx01"}),
    ]


@pytest.fixture
def import_source():
    return Source.objects.create(name="rvtools", kind=SourceKind.RVTOOLS)


@pytest.mark.parametrize(
    "known_by",
    [
        {"bios_uuid": ""},  # an export without VI SDK UUID nor SMBIOS UUID
        {"bios_uuid": "", "moref": ""},  # ... nor VM ID
        {"instance_uuid": ""},  # BIOS UUID and moref, no instance UUID
    ],
    ids=["instance uuid and moref", "instance uuid only", "bios uuid and moref"],
)
def test_without_a_vcenter_uuid_a_vm_is_matched_within_its_source(import_source, known_by):
    observed = [vm(1, **known_by), vm(2, **known_by)]
    runs = [scan(import_source, inventory(observed, vcenter="", at=T0 + datetime.timedelta(days=day)))
            for day in range(3)]

    assert [(run.discovered, run.unchanged, run.missing) for run in runs] == [(2, 0, 0), (0, 2, 0), (0, 2, 0)]
    assert VirtualMachine.objects.count() == 2
    assert [VMChange.objects.filter(scan_run=run).count() for run in runs] == [2, 0, 0]


def test_a_vm_seen_with_and_without_its_vcenter_uuid_stays_one(import_source):
    scan(import_source, inventory([vm(1, bios_uuid="", moref="")], vcenter=""))
    original_id = VirtualMachine.objects.get().pk

    with_uuid = scan(import_source, inventory([vm(1, bios_uuid="", moref="")], vcenter=VCENTER_A))
    without_again = scan(import_source, inventory([vm(1, bios_uuid="", moref="")], vcenter=""))

    assert list(VirtualMachine.objects.values_list("pk", "vcenter_uuid")) == [(original_id, VCENTER_A)]
    assert [(run.discovered, run.unchanged, run.missing) for run in (with_uuid, without_again)] == [
        (0, 1, 0), (0, 1, 0),
    ]


def test_one_instance_uuid_in_two_vcenters_of_a_source_is_not_guessed_without_a_vcenter_uuid(import_source):
    scan(import_source, inventory([vm(1, bios_uuid="", moref="vm-a")], vcenter=VCENTER_A))
    scan(import_source, inventory([vm(1, bios_uuid="", moref="vm-b")], vcenter=VCENTER_B))

    run = scan(import_source, inventory([vm(1, bios_uuid="", moref="")], vcenter=""))

    assert (run.discovered, run.missing, VirtualMachine.objects.count()) == (1, 2, 3)


def test_without_vcenter_uuids_another_source_with_the_same_instance_uuid_is_another_vm(import_source):
    scan(import_source, inventory([vm(1)], vcenter=""))
    other = Source.objects.create(name="rvtools-dr", kind=SourceKind.RVTOOLS)

    scan(other, inventory([vm(1, bios_uuid="bios-dr")], vcenter=""))

    assert sorted(VirtualMachine.objects.values_list("source__name", "instance_uuid")) == [
        ("rvtools", "inst-1"), ("rvtools-dr", "inst-1"),
    ]


def test_without_vcenter_uuids_a_vm_moved_to_another_source_keeps_its_id_by_bios_uuid(import_source):
    scan(import_source, inventory([vm(1), vm(2)], vcenter=""))
    scan(import_source, inventory([vm(2)], vcenter=""))  # vm 1 left: missing in this source
    original = VirtualMachine.objects.get(bios_uuid="bios-1")
    other = Source.objects.create(name="rvtools-dr", kind=SourceKind.RVTOOLS)

    run = scan(other, inventory([vm(1, moref="vm-900", instance_uuid="inst-dr-1")], vcenter=""))

    moved = VirtualMachine.objects.get(bios_uuid="bios-1")
    assert (moved.pk, moved.source, moved.status, run.discovered, run.reappeared) == (
        original.pk, other, VMStatus.PRESENT, 0, 1,
    )


def test_two_live_vms_with_one_bios_uuid_are_kept_apart_and_flagged_copied(source):
    scan(source, inventory([vm(1)]))
    other = Source.objects.create(name="vc-b", kind=SourceKind.VCENTER, host="vc-b.example")

    scan(other, inventory([vm(1, moref="vm-900", instance_uuid="inst-copy")], vcenter=VCENTER_B))

    pair = VirtualMachine.objects.filter(bios_uuid="bios-1").order_by("pk")
    assert [(row.source.name, row.copied) for row in pair] == [("vc-a", True), ("vc-b", True)]

    scan(other, inventory([], vcenter=VCENTER_B))  # the copy is deleted
    assert [(row.source.name, row.status, row.copied) for row in pair.all()] == [
        ("vc-a", VMStatus.PRESENT, False), ("vc-b", VMStatus.MISSING, False),
    ]


def test_same_named_vms_in_two_clusters_stay_two(source):
    scan(source, inventory([vm(1, name="web"), vm(2, name="web", cluster_key="c-2", host_key="h-2")]))

    assert sorted(VirtualMachine.objects.values_list("name", "cluster__name")) == [("web", "Prod"), ("web", "Test")]


def test_only_a_complete_scan_marks_vms_missing(source):
    scan(source, inventory([vm(1), vm(2)]))

    scan(source, inventory([vm(1)]), complete=False)
    assert VirtualMachine.objects.get(moref="vm-2").status == VMStatus.PRESENT

    run = scan(source, inventory([vm(1)]))
    gone = VirtualMachine.objects.get(moref="vm-2")
    assert (gone.status, gone.missing_scans, run.missing) == (VMStatus.MISSING, 1, 1)
    assert history(gone)[-1] == (ChangeKind.MISSING, VMStatus.PRESENT, VMStatus.MISSING)


def test_missing_vm_is_removed_after_the_configured_number_of_scans_and_can_reappear(source):
    source.missing_scans_before_removed = 2
    source.save()
    scan(source, inventory([vm(1), vm(2)]))
    scan(source, inventory([vm(1)]))
    run = scan(source, inventory([vm(1)]))

    gone = VirtualMachine.objects.get(moref="vm-2")
    assert (gone.status, run.removed) == (VMStatus.REMOVED, 1)

    back = scan(source, inventory([vm(1), vm(2)]))
    assert VirtualMachine.objects.get(moref="vm-2").status == VMStatus.PRESENT
    assert back.reappeared == 1
    assert [kind for kind, _, _ in history(gone)] == [
        ChangeKind.DISCOVERED, ChangeKind.MISSING, ChangeKind.REMOVED, ChangeKind.REAPPEARED,
    ]


def test_removed_event_removes_the_vm_at_once_with_its_actor(source):
    scan(source, inventory([vm(1), vm(2)]))
    removal = ObservedEvent(key=50, at=T0, kind="VmRemovedEvent", vm_moref="vm-2", user="VSPHERE\\ops")

    scan(source, inventory([vm(1)], events=[removal]))

    gone = VirtualMachine.objects.get(moref="vm-2")
    assert gone.status == VMStatus.REMOVED
    assert [(c.kind, c.actor) for c in gone.changes.order_by("id")][-2:] == [
        (ChangeKind.MISSING, ""), (ChangeKind.REMOVED, "VSPHERE\\ops"),
    ]


def test_clone_event_links_the_clone_to_its_source_and_names_its_creator(source):
    scan(source, inventory([vm(1)]))
    events = [
        ObservedEvent(key=10, at=T0, kind="VmCreatedEvent", vm_moref="vm-2", user="VSPHERE\\alice"),
        ObservedEvent(key=11, at=T0, kind="VmClonedEvent", vm_moref="vm-2", user="VSPHERE\\alice",
                      source_vm_moref="vm-1"),
    ]

    scan(source, inventory([vm(1), vm(2, name="app01-clone")], events=events))

    parent, clone = VirtualMachine.objects.get(moref="vm-1"), VirtualMachine.objects.get(moref="vm-2")
    assert (clone.cloned_from, clone.created_by) == (parent, "VSPHERE\\alice")
    assert history(clone)[-1] == (ChangeKind.CLONED, None, {"cloned_from": "app01", "cloned_from_id": parent.pk})


def test_a_host_renamed_keeps_its_row(source):
    scan(source, inventory([vm(1)]))
    host_id = Host.objects.get(hardware_uuid="hw-1").pk
    renamed = inventory([vm(1)])
    renamed.hosts[0] = dataclasses.replace(renamed.hosts[0], name="esx01.corp.example", key="host-99")

    scan(source, renamed)

    assert Host.objects.get(pk=host_id).name == "esx01.corp.example"
    assert Host.objects.count() == 2


def test_a_crash_while_writing_keeps_finished_batches_and_nothing_else(source, monkeypatch):
    monkeypatch.setattr(identity, "APPLY_BATCH_SIZE", 2)
    scan(source, inventory([vm(1), vm(2), vm(3), vm(4)]))
    run = scan_run_start(source=source, trigger="command")
    # The second batch breaks a database constraint (a negative CPU count) half-way through the scan.
    broken = inventory([vm(1, name="renamed1"), vm(2), vm(3, name="renamed3"), vm(4, cpu_count=-1)])

    with pytest.raises(IntegrityError):
        inventory_apply(run=run, inventory=broken, complete=True)

    assert list(VirtualMachine.objects.order_by("moref").values_list("name", "status")) == [
        ("renamed1", VMStatus.PRESENT), ("app02", VMStatus.PRESENT), ("app03", VMStatus.PRESENT),
        ("app04", VMStatus.PRESENT),
    ]
    assert ScanRun.objects.get(pk=run.pk).vms_seen == 2


def test_one_running_scan_per_source(source):
    scan_run_start(source=source, trigger="command")

    with pytest.raises(ScanAlreadyRunning):
        scan_run_start(source=source, trigger="task")
    assert ScanRun.objects.filter(source=source).count() == 1


def _apply_queries(numbers: range, *, vcenter: str) -> tuple[int, int]:
    """Statements of a first scan and of a rescan that renames and moves every VM, each in a source of its own."""
    source = Source.objects.create(name=vcenter, kind=SourceKind.VCENTER, host=vcenter, vcenter_uuid=vcenter)
    counts = []
    for observed in (
        inventory([vm(number) for number in numbers], vcenter=vcenter),
        inventory([vm(number, name=f"renamed{number}", host_key="h-2") for number in numbers], vcenter=vcenter),
    ):
        run = scan_run_start(source=source, trigger="command")
        with CaptureQueriesContext(connection) as queries:
            inventory_apply(run=run, inventory=observed, complete=True)
        scan_run_finish(run=run, status=ScanStatus.COMPLETE)
        counts.append(len(queries))
    return counts[0], counts[1]


def test_queries_are_bounded_by_batches_not_by_vms(monkeypatch):
    """Within one batch, 5 and 20 VMs cost the same statements, first scan and rescan with changes alike;
    each further batch costs the same again. (More VMs than SQLite takes parameters in one INSERT would
    add statements the database backend splits off, so one batch stays small here.)"""
    assert _apply_queries(range(0, 5), vcenter="vc-5") == _apply_queries(range(100, 120), vcenter="vc-20")

    monkeypatch.setattr(identity, "APPLY_BATCH_SIZE", 10)
    one, two, four = (
        _apply_queries(range(start, start + size), vcenter=f"vc-batches-{size}")
        for start, size in ((200, 10), (300, 20), (400, 40))
    )
    per_batch = (two[0] - one[0], two[1] - one[1])
    assert min(per_batch) > 0
    assert four == (one[0] + 3 * per_batch[0], one[1] + 3 * per_batch[1])


def test_a_vm_deployed_from_a_template_points_at_it(source):
    scan(source, inventory([vm(1, name="tpl-rhel9", is_template=True, power_state="poweredOff")]))
    deployed = ObservedEvent(key=20, at=T0, kind="VmDeployedEvent", vm_moref="vm-2", user="VSPHERE\\bob",
                             template_moref="vm-1")

    scan(source, inventory([vm(1, name="tpl-rhel9", is_template=True, power_state="poweredOff"), vm(2)],
                           events=[deployed]))

    template, child = VirtualMachine.objects.get(moref="vm-1"), VirtualMachine.objects.get(moref="vm-2")
    assert (child.template, child.created_by, child.cloned_from) == (template, "VSPHERE\\bob", None)
    assert list(template.deployed_vms.all()) == [child]


def test_the_scheduled_scan_queues_every_enabled_vcenter_once(source, django_capture_on_commit_callbacks):
    from inventory.services.scan import sources_scan_queue

    busy = Source.objects.create(name="vc-busy", kind=SourceKind.VCENTER, host="vc-busy.example")
    scan_run_start(source=busy, trigger="command")
    Source.objects.create(name="vc-off", kind=SourceKind.VCENTER, host="vc-off.example", enabled=False)
    Source.objects.create(name="rvtools", kind=SourceKind.RVTOOLS)

    with django_capture_on_commit_callbacks() as queued:
        result = sources_scan_queue()

    run = ScanRun.objects.get(source=source)
    assert result == {"vc-a": f"queued scan #{run.pk}", "vc-busy": "already running"}
    assert (run.trigger, run.status, len(queued)) == ("task", ScanStatus.RUNNING, 1)


def test_the_events_that_create_a_vm_are_the_ones_that_name_its_discoverer():
    """One list: whoever a creation event names both created the VM and is the actor of its discovery."""
    from inventory.choices import ChangeKind
    from inventory.observations import CREATION_EVENTS, VMEventKind
    from inventory.services.identity import ACTOR_EVENTS
    from inventory.vsphere.events import VM_EVENT_TYPES

    assert ACTOR_EVENTS[ChangeKind.DISCOVERED] == CREATION_EVENTS
    assert {VMEventKind.CREATED, VMEventKind.CLONED, VMEventKind.DEPLOYED, VMEventKind.REGISTERED} <= CREATION_EVENTS
    assert set(VM_EVENT_TYPES) >= CREATION_EVENTS | {kind for kinds in ACTOR_EVENTS.values() for kind in kinds}
