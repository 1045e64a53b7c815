"""The scanner against a real vSphere API (govmomi's simulator), driven through pyvmomi.

Each test starts its own simulator (1 datacenter, 2 clusters of 2 hosts, 2 VMs
per cluster, one standalone host with 2 VMs), changes it the way an
administrator would, scans again and asserts exact identities and history.
"""

import socket

import pytest
from django.core.management import CommandError, call_command

from inventory.choices import ChangeKind, ScanStatus, VMStatus
from inventory.models import Host, VirtualMachine, VMChange
from inventory.services.scan import source_scan
from inventory.services.sources import source_vcenter_save
from tests.vsphere_sim import harness

pytestmark = [pytest.mark.django_db, pytest.mark.simulator]


@pytest.fixture
def sim(vsphere_simulator_available):
    with harness.Simulator(datacenters=1, clusters=2, cluster_hosts=2, hosts=1, vms=2) as simulator:
        yield simulator


@pytest.fixture
def si(sim):
    return sim.connect()


@pytest.fixture
def source(sim):
    return source_vcenter_save(
        name="lab", host=sim.host, port=sim.port, username="user", password="pass", use_http=True
    )


def by_name() -> dict[str, VirtualMachine]:
    return {vm.name: vm for vm in VirtualMachine.objects.select_related("host", "cluster", "datacenter")}


def changes_of(vm: VirtualMachine, run=None) -> list[tuple]:
    rows = VMChange.objects.filter(vm=vm)
    if run is not None:
        rows = rows.filter(scan_run=run)
    return [(change.kind, change.old, change.new) for change in rows.order_by("id")]


def test_first_scan_records_every_vm_host_and_cluster(source, si):
    run = source_scan(source=source)

    assert (run.status, run.vms_seen, run.discovered, run.missing) == (ScanStatus.COMPLETE, 6, 6, 0)
    vms = by_name()
    assert sorted(vms) == [
        "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_C1_RP0_VM0", "DC0_C1_RP0_VM1", "DC0_H0_VM0", "DC0_H0_VM1",
    ]
    observed = {vm.name: vm for vm in harness.list_vms(si)}
    for name, vm in vms.items():
        assert (vm.instance_uuid, vm.bios_uuid, vm.moref) == (
            observed[name].config.instanceUuid, observed[name].config.uuid, observed[name]._moId,
        )
        assert vm.host.name == observed[name].runtime.host.name
        assert (vm.status, vm.datacenter.name) == (VMStatus.PRESENT, "DC0")
        assert vm.vcenter_uuid == si.content.about.instanceUuid
        assert changes_of(vm) == [(ChangeKind.DISCOVERED, None, {
            "name": name, "host": vm.host.name, "cluster": vm.cluster.name, "datacenter": "DC0",
            "power_state": "poweredOn", "instance_uuid": vm.instance_uuid, "bios_uuid": vm.bios_uuid,
        })]
    assert vms["DC0_C1_RP0_VM0"].cluster.name == "DC0_C1"
    hosts = {host.name: host for host in Host.objects.all()}
    assert sorted(hosts) == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C1_H0", "DC0_C1_H1", "DC0_H0"]
    real_host = {host.name: host for host in harness.list_hosts(si)}["DC0_C0_H0"]
    assert hosts["DC0_C0_H0"].hardware_uuid == real_host.hardware.systemInfo.uuid
    assert hosts["DC0_C0_H0"].product.startswith("VMware ESXi")


def test_rescan_with_nothing_changed_writes_no_history(source):
    source_scan(source=source)

    run = source_scan(source=source)

    assert (run.status, run.discovered, run.changed, run.unchanged, run.missing) == (ScanStatus.COMPLETE, 0, 0, 6, 0)
    assert VMChange.objects.filter(scan_run=run).count() == 0


def test_renamed_and_moved_vm_keeps_its_id_with_one_renamed_and_one_relocated_row(source, si):
    source_scan(source=source)
    before = by_name()["DC0_C0_RP0_VM0"]
    vm = harness.find_vm(si, "DC0_C0_RP0_VM0")
    target = {host.name: host for host in harness.list_hosts(si)}["DC0_C1_H1"]
    harness.rename_vm(si, vm, "billing-db-01")
    harness.relocate_vm(si, vm, target)

    run = source_scan(source=source)

    after = VirtualMachine.objects.get(pk=before.pk)
    assert (after.name, after.host.name, after.cluster.name) == ("billing-db-01", "DC0_C1_H1", "DC0_C1")
    assert VirtualMachine.objects.count() == 6
    assert (run.changed, run.discovered) == (1, 0)
    assert changes_of(after, run) == [
        (ChangeKind.RENAMED, "DC0_C0_RP0_VM0", "billing-db-01"),
        # Both clusters' root pools are called "Resources", so only the cluster and host differ.
        (ChangeKind.RELOCATED, {"cluster": "DC0_C0", "host": before.host.name},
         {"cluster": "DC0_C1", "host": "DC0_C1_H1"}),
    ]


def test_clone_is_a_new_vm_whose_cloned_from_is_its_source(source, si):
    source_scan(source=source)
    parent = by_name()["DC0_C0_RP0_VM1"]
    harness.clone_vm(si, harness.find_vm(si, "DC0_C0_RP0_VM1"), "DC0_C0_RP0_VM1-clone")

    run = source_scan(source=source)

    clone = VirtualMachine.objects.get(name="DC0_C0_RP0_VM1-clone")
    assert (clone.cloned_from_id, clone.created_by, run.discovered) == (parent.pk, "user", 1)
    assert clone.instance_uuid != parent.instance_uuid and clone.bios_uuid != parent.bios_uuid
    assert [kind for kind, _, _ in changes_of(clone)] == [ChangeKind.DISCOVERED, ChangeKind.CLONED]
    assert changes_of(clone)[-1] == (ChangeKind.CLONED, None, {"cloned_from": "DC0_C0_RP0_VM1",
                                                               "cloned_from_id": parent.pk})
    assert list(parent.clones.all()) == [clone]


def test_reconfigured_advanced_setting_is_one_reconfigured_row(source, si):
    source_scan(source=source)
    vm = by_name()["DC0_C1_RP0_VM0"]
    before = dict(vm.advanced_settings)
    real_vm = harness.find_vm(si, "DC0_C1_RP0_VM0")
    harness.reconfigure_extra_config(si, real_vm, "isolation.tools.copy.disable", "TRUE")

    run = source_scan(source=source)

    assert changes_of(vm, run) == [(
        ChangeKind.RECONFIGURED,
        {"advanced_settings": before},
        {"advanced_settings": {**before, "isolation.tools.copy.disable": "TRUE"}},
    )]
    assert VMChange.objects.get(vm=vm, scan_run=run).actor == "user"


def test_power_off_is_one_power_changed_row(source, si):
    source_scan(source=source)
    vm = by_name()["DC0_H0_VM0"]
    harness.power_off(si, harness.find_vm(si, "DC0_H0_VM0"))

    run = source_scan(source=source)

    assert changes_of(vm, run) == [(ChangeKind.POWER_CHANGED, "poweredOn", "poweredOff")]


def test_destroyed_vm_goes_missing_then_removed(source, si):
    source_scan(source=source)
    vm = by_name()["DC0_C0_RP0_VM1"]
    harness.destroy_vm(si, harness.find_vm(si, "DC0_C0_RP0_VM1"))

    run = source_scan(source=source)

    vm.refresh_from_db()
    assert (vm.status, run.missing, run.removed) == (VMStatus.REMOVED, 1, 1)
    assert changes_of(vm, run) == [
        (ChangeKind.MISSING, VMStatus.PRESENT, VMStatus.MISSING),
        (ChangeKind.REMOVED, VMStatus.MISSING, VMStatus.REMOVED),
    ]
    assert VMChange.objects.get(vm=vm, kind=ChangeKind.REMOVED).actor == "user"


def test_vm_created_between_scans_is_discovered_with_its_creator(source, si):
    source_scan(source=source)
    harness.create_vm(si, "new-ledger-01")

    run = source_scan(source=source)

    created = VirtualMachine.objects.get(name="new-ledger-01")
    assert (run.discovered, run.unchanged, created.created_by) == (1, 6, "user")
    assert [kind for kind, _, _ in changes_of(created)] == [ChangeKind.DISCOVERED]


def test_same_named_vms_in_two_clusters_stay_two(source, si):
    pool = harness.find_vm(si, "DC0_C1_RP0_VM0").resourcePool
    harness.create_vm(si, "DC0_C0_RP0_VM0", pool=pool)

    source_scan(source=source)

    twins = VirtualMachine.objects.filter(name="DC0_C0_RP0_VM0").order_by("cluster__name")
    assert [vm.cluster.name for vm in twins] == ["DC0_C0", "DC0_C1"]
    assert len({vm.instance_uuid for vm in twins}) == 2


def test_scan_against_a_closed_port_fails_and_marks_nothing_missing(source):
    source_scan(source=source)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    source.port = closed_port
    source.save()

    run = source_scan(source=source)

    assert run.status == ScanStatus.FAILED
    assert f"127.0.0.1:{closed_port}" in run.error and "refused" in run.error.lower()
    assert set(VirtualMachine.objects.values_list("status", flat=True)) == {VMStatus.PRESENT}
    assert VMChange.objects.filter(scan_run=run).count() == 0


def test_scan_command_prints_counts_and_exit_status(source, si, capsys):
    call_command("scan", "lab")
    assert "lab: complete in" in capsys.readouterr().out

    source.port = 9  # discard: nothing listens there
    source.save()
    with pytest.raises(CommandError, match="did not complete"):
        call_command("scan", "lab")
    assert "scan failed" in capsys.readouterr().err
