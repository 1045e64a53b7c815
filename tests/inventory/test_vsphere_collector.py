"""The vSphere collector against govmomi's simulator, through pyvmomi; plus the two things the simulator cannot do.

The simulator serves one page per RetrievePropertiesEx and never fails a
login, so the token loop is tested with a hand-made two-page response (the
one fake here) and a refused login with a proxy in front of a real simulator
that answers ``Login`` with vCenter's InvalidLogin fault. Everything else is
the real API: topology, facts, events and the fast (lxml) path against the
pyvmomi path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import http.client
import http.server
import io
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import pytest
from pyVmomi import vim, vmodl
from pyVmomi.SoapAdapter import SoapResponseDeserializer, SoapStubAdapter

from inventory.observations import Inventory, ObservedCluster, ObservedDatacenter, ObservedVM
from inventory.vsphere.collector import (
    KINDS,
    PyvmomiRetriever,
    build_inventory,
    collect_inventory,
    filter_spec,
    retrieve_all,
)
from inventory.vsphere.connection import VSphereError, open_session
from inventory.vsphere.fastpath import FastRetriever
from tests.vsphere_sim import harness

SECRET = "pa55-w0rd-never-shown"


# -- helpers ------------------------------------------------------------------


@contextlib.contextmanager
def session(sim: harness.Simulator):
    with open_session(host=sim.host, port=sim.port, user=harness.USER, password=SECRET, use_http=True) as si:
        yield si


def both_paths(si, **kwargs) -> tuple[Inventory, Inventory]:
    """The inventory through the fast path and through pyvmomi, with the same observed_at."""
    fast = collect_inventory(si, fast=True, **kwargs)
    slow = collect_inventory(si, fast=False, **kwargs)
    slow.observed_at = fast.observed_at  # two reads of the server clock
    return fast, slow


def assert_same_inventory(fast: Inventory, slow: Inventory) -> None:
    """Equal, field by field (so a failure names the field), ignoring list order."""
    for f in dataclasses.fields(Inventory):
        a, b = getattr(fast, f.name), getattr(slow, f.name)
        if isinstance(a, list):
            a, b = sorted(a, key=repr), sorted(b, key=repr)
        assert a == b, f.name


def vm_by_name(inventory: Inventory, name: str) -> ObservedVM:
    (vm,) = [vm for vm in inventory.vms if vm.name == name]
    return vm


def event_rows(inventory: Inventory) -> list[tuple]:
    return [(e.kind, e.vm_moref, e.vm_name, e.user, e.source_vm_moref, e.template_moref) for e in inventory.events]


# -- a simulator shared by the read-only tests ------------------------------------

# 2 datacenters, each: 2 clusters of 2 hosts with 2 VMs, 1 standalone host with 2 VMs.
topology = harness.simulator_fixture(scope="module", datacenters=2, clusters=2, cluster_hosts=2, hosts=1, vms=2)


@pytest.fixture(scope="module")
def collected(topology):
    """(ServiceInstance for cross-checks, fast inventory, pyvmomi inventory) of the untouched topology."""
    si = topology.connect()
    with session(topology) as our_si:
        fast, slow = both_paths(our_si)
    return si, fast, slow


@pytest.mark.simulator
def test_counts_and_names_of_a_known_topology(collected):
    _, inventory, _ = collected

    assert [dc.name for dc in inventory.datacenters] == ["DC0", "DC1"]
    assert [c.name for c in inventory.clusters] == ["DC0_C0", "DC0_C1", "DC0_H0", "DC1_C0", "DC1_C1", "DC1_H0"]
    assert len(inventory.hosts) == 10
    assert [vm.name for vm in inventory.vms] == [
        f"DC{d}_{place}_VM{v}" for d in (0, 1) for place in ("C0_RP0", "C1_RP0", "H0") for v in (0, 1)
    ]
    dc_key = {dc.name: dc.key for dc in inventory.datacenters}
    assert {c.name: c.datacenter_key for c in inventory.clusters} == {
        f"DC{d}_{c}": dc_key[f"DC{d}"] for d in (0, 1) for c in ("C0", "C1", "H0")
    }
    assert inventory.vcenter_uuid == harness.DEFAULT_INSTANCE_UUID
    assert inventory.observed_at.tzinfo is dt.UTC


@pytest.mark.simulator
def test_the_two_paths_agree_on_the_untouched_topology(collected):
    _, fast, slow = collected
    assert_same_inventory(fast, slow)


@pytest.mark.simulator
def test_host_facts(collected):
    si, inventory, _ = collected
    real = {h.name: h for h in harness.list_hosts(si)}
    clusters = {c.name: c.key for c in inventory.clusters}
    dcs = {d.name: d.key for d in inventory.datacenters}

    hosts = {h.name: h for h in inventory.hosts}
    assert sorted(hosts) == sorted(real)
    for name, host in hosts.items():
        assert host.key == real[name]._moId
        assert host.hardware_uuid == real[name].hardware.systemInfo.uuid
        assert len(host.hardware_uuid) == 36
    standalone = hosts["DC1_H0"]
    assert (standalone.product, standalone.version, standalone.build) == (
        "VMware ESXi 6.5.0 build-5969303", "6.5.0", "5969303"
    )
    assert (standalone.cluster_key, standalone.datacenter_key) == (clusters["DC1_H0"], dcs["DC1"])
    assert (hosts["DC0_C1_H1"].cluster_key, hosts["DC0_C1_H1"].datacenter_key) == (clusters["DC0_C1"], dcs["DC0"])
    assert len({h.hardware_uuid for h in hosts.values()}) == 10


@pytest.mark.simulator
def test_one_vm_has_its_full_set_of_facts(collected):
    si, inventory, _ = collected
    real = harness.find_vm(si, "DC1_C1_RP0_VM1")
    clusters = {c.name: c.key for c in inventory.clusters}

    assert vm_by_name(inventory, "DC1_C1_RP0_VM1") == ObservedVM(
        moref=real._moId,
        name="DC1_C1_RP0_VM1",
        instance_uuid=real.config.instanceUuid,
        bios_uuid=real.config.uuid,
        power_state="poweredOn",
        is_template=False,
        datacenter_key=[d.key for d in inventory.datacenters if d.name == "DC1"][0],
        cluster_key=clusters["DC1_C1"],
        host_key=real.runtime.host._moId,
        resource_pool="Resources",
        folder="",
        datastores=["LocalDS_0"],
        networks=["DC1_DVPG0"],
        mac_addresses=[real.config.hardware.device[-1].macAddress],
        ip_addresses=[],
        guest_os="otherGuest",
        guest_os_tools="",
        tools_status="toolsNotInstalled",
        tools_version="0",
        hardware_version="vmx-13",
        cpu_count=1,
        memory_mb=32,
        created_at=None,
        annotation="",
        custom_attributes={},
        advanced_settings={"govcsim": "TRUE"},
        boot_time=None,
    )
    assert real.runtime.host.parent.name == "DC1_C1"
    assert len(real.config.instanceUuid) == 36 and real.config.instanceUuid != real.config.uuid


@pytest.mark.simulator
def test_macs_and_networks_of_every_vm(collected):
    si, inventory, _ = collected
    rows = harness.retrieve(si, vim.VirtualMachine, ["name", "config.hardware.device", "network"])
    NIC = vim.vm.device.VirtualEthernetCard  # noqa: N806
    expected = {
        row["name"]: (
            sorted({d.macAddress for d in row["config.hardware.device"] if isinstance(d, NIC)}),
            sorted(n.name for n in row["network"]),
        )
        for row in rows
    }
    assert {vm.name: (vm.mac_addresses, vm.networks) for vm in inventory.vms} == expected
    assert all(len(macs) == 1 and nets == [f"{name[:3]}_DVPG0"] for name, (macs, nets) in expected.items())


@pytest.mark.simulator
def test_instance_uuid_flag_makes_two_different_vcenters():
    harness.require_simulator()
    uuid = "11111111-2222-3333-4444-555555555555"
    with harness.Simulator(datacenters=1, clusters=0, hosts=1, vms=1, instance_uuid=uuid) as sim, session(sim) as si:
        inventory = collect_inventory(si)
    assert inventory.vcenter_uuid == uuid
    assert [vm.name for vm in inventory.vms] == ["DC0_H0_VM0"]


# -- a simulator per scenario -------------------------------------------------------


@pytest.fixture
def small_sim():
    """1 datacenter: 1 cluster of 2 hosts with 2 VMs, 1 standalone host with 2 VMs."""
    harness.require_simulator()
    with harness.Simulator(datacenters=1, clusters=1, cluster_hosts=2, hosts=1, vms=2) as sim:
        yield sim


@pytest.mark.simulator
def test_changes_read_the_same_through_both_paths(small_sim):
    si = small_sim.connect()
    vm = harness.find_vm(si, "DC0_C0_RP0_VM0")
    # Reconfigure: advanced settings and a note with characters XML must escape.
    harness.reconfigure_extra_config(si, vm, "isolation.tools.copy.disable", "TRUE")
    harness._wait(si, vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(annotation="Web tier <prod> & \"gold\"\nline 2")))
    # Custom attributes. (A global one, without moType, breaks the simulator's answer to pyvmomi.)
    fields = si.content.customFieldsManager
    owner = fields.AddCustomFieldDef(name="owner", moType=vim.VirtualMachine)
    ticket = fields.AddCustomFieldDef(name="ticket", moType=vim.VirtualMachine)
    fields.SetField(entity=vm, key=owner.key, value="alice@example.com")
    fields.SetField(entity=vm, key=ticket.key, value="CHG-1234")
    # A clone, moved into Prod/Web; a powered-off VM; a created VM.
    clone = harness.clone_vm(si, vm, "web-clone")
    datacenter = si.content.rootFolder.childEntity[0]
    web = datacenter.vmFolder.CreateFolder("Prod").CreateFolder("Web")
    harness._wait(si, web.MoveIntoFolder_Task([clone]))
    harness.power_off(si, harness.find_vm(si, "DC0_H0_VM1"))
    harness.create_vm(si, "fresh", memory_mb=256, num_cpus=2)

    with session(small_sim) as our_si:
        fast, slow = both_paths(our_si)

    assert_same_inventory(fast, slow)
    changed = vm_by_name(fast, "DC0_C0_RP0_VM0")
    assert changed.advanced_settings == {"govcsim": "TRUE", "isolation.tools.copy.disable": "TRUE"}
    assert changed.annotation == "Web tier <prod> & \"gold\"\nline 2"
    assert changed.custom_attributes == {"owner": "alice@example.com", "ticket": "CHG-1234"}
    copy = vm_by_name(fast, "web-clone")
    assert copy.folder == "Prod/Web"
    assert copy.moref == clone._moId
    assert (copy.instance_uuid, copy.bios_uuid) == (clone.config.instanceUuid, clone.config.uuid)
    assert copy.instance_uuid != changed.instance_uuid and copy.bios_uuid != changed.bios_uuid
    assert copy.mac_addresses == changed.mac_addresses  # the simulator's quirk: one MAC per pool
    assert copy.advanced_settings == {"govcsim": "TRUE"}  # the simulator clones from the original spec
    assert vm_by_name(fast, "DC0_H0_VM1").power_state == "poweredOff"
    fresh = vm_by_name(fast, "fresh")
    assert (fresh.cpu_count, fresh.memory_mb, fresh.networks, fresh.mac_addresses, fresh.power_state) == (
        2, 256, [], [], "poweredOff"
    )
    assert len(fast.vms) == 6


@pytest.mark.simulator
def test_events_after_create_clone_reconfigure_power_off_and_destroy(small_sim):
    si = small_sim.connect()
    with session(small_sim) as our_si:
        before = collect_inventory(our_si)
    assert [e.kind for e in before.events] == ["VmCreatedEvent"] * 4  # the topology's own VMs
    assert before.last_event_key == before.events[-1].key

    source = harness.find_vm(si, "DC0_C0_RP0_VM0")
    created = harness.create_vm(si, "created")
    clone = harness.clone_vm(si, source, "cloned")
    harness.reconfigure_extra_config(si, source, "tools.setInfo.sizeLimit", "1048576")
    harness.power_off(si, source)  # VmPoweredOffEvent: not a lifecycle event, seen as a power_state change
    doomed = harness.find_vm(si, "DC0_H0_VM1")
    harness.destroy_vm(si, doomed)

    with session(small_sim) as our_si:
        fast, slow = both_paths(our_si, since_event_key=before.last_event_key)

    assert fast.events == slow.events
    assert event_rows(fast) == [
        ("VmCreatedEvent", created._moId, "created", "user", "", ""),
        ("VmBeingClonedEvent", source._moId, "DC0_C0_RP0_VM0", "user", "", ""),
        ("VmCreatedEvent", clone._moId, "cloned", "user", "", ""),
        ("VmClonedEvent", clone._moId, "cloned", "user", source._moId, ""),
        ("VmReconfiguredEvent", source._moId, "DC0_C0_RP0_VM0", "user", "", ""),
        ("VmRemovedEvent", doomed._moId, "DC0_H0_VM1", "user", "", ""),
    ]
    keys = [e.key for e in fast.events]
    assert keys == sorted(set(keys)) and keys[0] > before.last_event_key
    assert fast.last_event_key == keys[-1]
    assert all(e.at.tzinfo is dt.UTC and e.at <= fast.observed_at + dt.timedelta(seconds=1) for e in fast.events)
    assert "DC0_H0_VM1" not in [vm.name for vm in fast.vms]


@pytest.mark.simulator
def test_since_key_returns_only_later_events_and_keeps_the_key_when_there_are_none(small_sim):
    si = small_sim.connect()
    with session(small_sim) as our_si:
        everything = collect_inventory(our_si)
        second_key = everything.events[1].key
        later = collect_inventory(our_si, since_event_key=second_key)
        nothing_new = collect_inventory(our_si, since_event_key=everything.last_event_key)
        harness.reconfigure_extra_config(si, harness.find_vm(si, "DC0_H0_VM0"), "a", "b")
        one_new = collect_inventory(our_si, since_event_key=everything.last_event_key)

    assert [e.key for e in later.events] == [e.key for e in everything.events[2:]]
    assert later.last_event_key == everything.last_event_key
    assert (nothing_new.events, nothing_new.last_event_key) == ([], everything.last_event_key)
    assert [(e.kind, e.vm_name) for e in one_new.events] == [("VmReconfiguredEvent", "DC0_H0_VM0")]
    assert one_new.last_event_key == one_new.events[0].key > everything.last_event_key


@pytest.mark.simulator
def test_session_logs_out_on_exit(small_sim):
    with session(small_sim) as si:
        assert si.content.sessionManager.currentSession.userName == harness.USER
    with pytest.raises(vim.fault.NotAuthenticated):
        si.content.sessionManager.currentSession  # noqa: B018 (the call is the test)


# -- the token loop, with a hand-made two-page response ---------------------------

ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"
 xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><{method}Response xmlns="urn:vim25"><returnval>{body}</returnval></{method}Response></soapenv:Body>
</soapenv:Envelope>"""


def _obj(type_: str, moref: str, *props: str) -> str:
    return f'<objects><obj type="{type_}">{moref}</obj>{"".join(props)}</objects>'


def _prop(name: str, val: str) -> str:
    return f"<propSet><name>{name}</name>{val}</propSet>"


def _str(name: str, text: str, xsi: str = "xsd:string") -> str:
    return _prop(name, f'<val xsi:type="{xsi}">{text}</val>')


def _ref(name: str, type_: str, moref: str) -> str:
    return _prop(name, f'<val xsi:type="ManagedObjectReference" type="{type_}">{moref}</val>')


PAGE_1 = ENVELOPE.format(
    method="RetrievePropertiesEx",
    body="<token>page-2</token>"
    + _obj("Datacenter", "datacenter-21", _str("name", "Paris"), _ref("parent", "Folder", "group-d1"))
    + _obj("Folder", "group-v22", _str("name", "vm"), _ref("parent", "Datacenter", "datacenter-21"))
    + _obj("Folder", "group-v30", _str("name", "Prod"), _ref("parent", "Folder", "group-v22"))
    + _obj("Folder", "group-v31", _str("name", "Web &amp; API"), _ref("parent", "Folder", "group-v30"))
    + _obj("Folder", "group-h23", _str("name", "host"), _ref("parent", "Datacenter", "datacenter-21"))
    + _obj("ClusterComputeResource", "domain-c7", _str("name", "Gold"), _ref("parent", "Folder", "group-h23"))
    + _obj("ResourcePool", "resgroup-8", _str("name", "Resources"),
           _ref("parent", "ClusterComputeResource", "domain-c7"))
    + _obj("ResourcePool", "resgroup-9", _str("name", "Tier 1"), _ref("parent", "ResourcePool", "resgroup-8"))
    + _obj(
        "HostSystem", "host-10", _str("name", "esx01.example.com"),
        _ref("parent", "ClusterComputeResource", "domain-c7"),
        _str("hardware.systemInfo.uuid", "4c4c4544-0031-3510-8052-b4c04f4e3232"),
        _str("config.product.fullName", "VMware ESXi 8.0.2 build-22380479"),
        _str("config.product.version", "8.0.2"), _str("config.product.build", "22380479"),
    )
    + _obj("DistributedVirtualPortgroup", "dvportgroup-40", _str("name", "VLAN 40"))
    + _obj("Network", "network-41", _str("name", "VM Network"))
    + _obj("Datastore", "datastore-50", _str("name", "vsan-gold")),
)

PAGE_2 = ENVELOPE.format(
    method="ContinueRetrievePropertiesEx",
    body=_obj(
        "VirtualMachine", "vm-100",
        _str("name", "web01"),
        _ref("parent", "Folder", "group-v31"),
        _ref("resourcePool", "ResourcePool", "resgroup-9"),
        _ref("runtime.host", "HostSystem", "host-10"),
        _str("runtime.powerState", "poweredOn", "VirtualMachinePowerState"),
        _str("runtime.bootTime", "2024-05-02T08:15:00.5+02:00", "xsd:dateTime"),
        _prop("network", '<val xsi:type="ArrayOfManagedObjectReference">'
              '<ManagedObjectReference type="Network">network-41</ManagedObjectReference>'
              '<ManagedObjectReference type="DistributedVirtualPortgroup">dvportgroup-40</ManagedObjectReference>'
              "</val>"),
        _prop("datastore", '<val xsi:type="ArrayOfManagedObjectReference">'
              '<ManagedObjectReference type="Datastore">datastore-50</ManagedObjectReference></val>'),
        _str("config.instanceUuid", "5012a3b4-0000-1111-2222-333344445555"),
        _str("config.uuid", "4212a3b4-0000-1111-2222-333344445555"),
        _str("config.template", "false", "xsd:boolean"),
        _str("config.guestFullName", "Red Hat Enterprise Linux 9 (64-bit)"),
        _str("config.version", "vmx-21"),
        _str("config.createDate", "2023-11-20T10:00:00Z", "xsd:dateTime"),
        _str("config.annotation", "owner: web team &lt;web@example.com&gt;"),
        _str("config.hardware.numCPU", "4", "xsd:int"),
        _str("config.hardware.memoryMB", "16384", "xsd:int"),
        _prop("config.hardware.device", '<val xsi:type="ArrayOfVirtualDevice">'
              '<VirtualDevice xsi:type="VirtualDisk"><key>2000</key><capacityInKB>1024</capacityInKB></VirtualDevice>'
              '<VirtualDevice xsi:type="VirtualVmxnet3"><key>4000</key>'
              '<backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName>'
              '<network type="Network">network-41</network></backing>'
              "<addressType>assigned</addressType><macAddress>00:50:56:aa:bb:01</macAddress></VirtualDevice>"
              '<VirtualDevice xsi:type="VirtualE1000e"><key>4001</key>'
              '<backing xsi:type="VirtualEthernetCardDistributedVirtualPortBackingInfo"><port>'
              "<switchUuid>50 1a</switchUuid><portgroupKey>dvportgroup-40</portgroupKey></port></backing>"
              "<addressType>manual</addressType><macAddress>00:50:56:aa:bb:02</macAddress></VirtualDevice>"
              "</val>"),
        _prop("config.extraConfig", '<val xsi:type="ArrayOfOptionValue">'
              '<OptionValue xsi:type="OptionValue"><key>isolation.tools.copy.disable</key>'
              '<value xsi:type="xsd:string">TRUE</value></OptionValue>'
              '<OptionValue xsi:type="OptionValue"><key>tools.setInfo.sizeLimit</key>'
              '<value xsi:type="xsd:int">1048576</value></OptionValue>'
              '<OptionValue xsi:type="OptionValue"><key>svga.present</key>'
              '<value xsi:type="xsd:boolean">true</value></OptionValue>'
              '<OptionValue xsi:type="OptionValue"><key>empty.setting</key>'
              '<value xsi:type="xsd:string"></value></OptionValue>'
              "</val>"),
        _str("config.tools.toolsVersion", "12352", "xsd:int"),
        _str("guest.guestFullName", "Red Hat Enterprise Linux 9.3"),
        _str("guest.ipAddress", "10.0.40.11"),
        _prop("guest.net", '<val xsi:type="ArrayOfGuestNicInfo">'
              "<GuestNicInfo><network>VLAN 40</network><ipAddress>10.0.40.11</ipAddress>"
              "<ipAddress>fe80::250:56ff:feaa:bb02</ipAddress><macAddress>00:50:56:aa:bb:02</macAddress>"
              "<connected>true</connected><deviceConfigId>4001</deviceConfigId></GuestNicInfo>"
              "<GuestNicInfo><ipAddress>192.168.1.5</ipAddress><macAddress>00:50:56:aa:bb:01</macAddress>"
              "<connected>true</connected><deviceConfigId>4000</deviceConfigId></GuestNicInfo>"
              "</val>"),
        _str("guest.toolsStatus", "toolsOk", "VirtualMachineToolsStatus"),
        _str("guest.toolsRunningStatus", "guestToolsRunning"),
        _prop("customValue", '<val xsi:type="ArrayOfCustomFieldValue">'
              '<CustomFieldValue xsi:type="CustomFieldStringValue"><key>101</key><value>alice</value>'
              "</CustomFieldValue>"
              '<CustomFieldValue xsi:type="CustomFieldStringValue"><key>999</key><value>orphan</value>'
              "</CustomFieldValue>"
              "</val>"),
    )
    # Being created: no config, no guest, no host yet.
    + _obj(
        "VirtualMachine", "vm-101",
        _str("name", "web02"),
        _ref("parent", "Folder", "group-v22"),
        _ref("resourcePool", "ResourcePool", "resgroup-8"),
        _str("runtime.powerState", "poweredOff", "VirtualMachinePowerState"),
    ),
)

WEB01 = ObservedVM(
    moref="vm-100",
    name="web01",
    instance_uuid="5012a3b4-0000-1111-2222-333344445555",
    bios_uuid="4212a3b4-0000-1111-2222-333344445555",
    power_state="poweredOn",
    is_template=False,
    datacenter_key="datacenter-21",
    cluster_key="domain-c7",
    host_key="host-10",
    resource_pool="Tier 1",
    folder="Prod/Web & API",
    datastores=["vsan-gold"],
    networks=["VLAN 40", "VM Network"],
    mac_addresses=["00:50:56:aa:bb:01", "00:50:56:aa:bb:02"],
    ip_addresses=["10.0.40.11", "192.168.1.5", "fe80::250:56ff:feaa:bb02"],
    guest_os="Red Hat Enterprise Linux 9 (64-bit)",
    guest_os_tools="Red Hat Enterprise Linux 9.3",
    tools_status="toolsOk",
    tools_version="12352",
    hardware_version="vmx-21",
    cpu_count=4,
    memory_mb=16384,
    created_at=dt.datetime(2023, 11, 20, 10, 0, tzinfo=dt.UTC),
    annotation="owner: web team <web@example.com>",
    custom_attributes={"owner": "alice", "999": "orphan"},
    advanced_settings={
        "empty.setting": "",
        "isolation.tools.copy.disable": "TRUE",
        "svga.present": "True",
        "tools.setInfo.sizeLimit": "1048576",
    },
    boot_time=dt.datetime(2024, 5, 2, 6, 15, 0, 500000, tzinfo=dt.UTC),
)
WEB02 = ObservedVM(
    moref="vm-101", name="web02", power_state="poweredOff", datacenter_key="datacenter-21",
    cluster_key="domain-c7", resource_pool="Resources",
)


def _stub() -> SoapStubAdapter:
    """A stub that never connects: it only serializes requests and decodes recorded responses."""
    return SoapStubAdapter(host="vcenter.example.com", port=443, version="vim.version.version11")


def _recorded(stub, page: str):
    info = vmodl.query.PropertyCollector._GetMethodInfo("RetrievePropertiesEx")
    return SoapResponseDeserializer(stub).Deserialize(page.encode(), info.result)


class FakePropertyCollector:
    """Answers the pyvmomi retriever's calls with the recorded pages, and remembers the calls."""

    def __init__(self, pages, *, fail_on_continue: bool = False):
        self.pages = list(pages)
        self.calls: list[tuple] = []
        self.fail_on_continue = fail_on_continue

    def RetrievePropertiesEx(self, specSet, options):  # noqa: N802, N803 (pyvmomi's names)
        self.calls.append(("RetrievePropertiesEx", options.maxObjects))
        return self.pages.pop(0)

    def ContinueRetrievePropertiesEx(self, token):  # noqa: N802
        self.calls.append(("ContinueRetrievePropertiesEx", token))
        if self.fail_on_continue:
            raise ConnectionResetError("connection reset by peer")
        return self.pages.pop(0)

    def CancelRetrievePropertiesEx(self, token):  # noqa: N802
        self.calls.append(("CancelRetrievePropertiesEx", token))


def test_token_loop_reads_both_pages_through_both_paths():
    stub = _stub()
    pc = vmodl.query.PropertyCollector("propertyCollector", stub)
    spec = filter_spec(vim.view.ContainerView("session[1]view-1", stub))
    bodies: list[bytes] = []

    @contextlib.contextmanager
    def post(body: bytes):
        bodies.append(body)
        yield io.BytesIO((PAGE_1 if len(bodies) == 1 else PAGE_2).encode())

    fake_pc = FakePropertyCollector([_recorded(stub, PAGE_1), _recorded(stub, PAGE_2)])
    fast_rows = retrieve_all(FastRetriever(stub, pc, KINDS, post=post), spec, page_size=13)
    slow_rows = retrieve_all(PyvmomiRetriever(fake_pc), spec, page_size=13)

    assert fast_rows == slow_rows
    assert len(fast_rows) == 14
    assert [b.split(b"<soapenv:Body>")[1][:30] for b in bodies] == [
        b'<RetrievePropertiesEx xmlns="u', b'<ContinueRetrievePropertiesEx '
    ]
    assert b"<maxObjects>13</maxObjects>" in bodies[0]
    assert b'<obj type="ContainerView">session[1]view-1</obj>' in bodies[0]
    assert b"<pathSet>config.hardware.device</pathSet>" in bodies[0]
    assert b'<token versionId="6.5">page-2</token>' in bodies[1]
    assert fake_pc.calls == [("RetrievePropertiesEx", 13), ("ContinueRetrievePropertiesEx", "page-2")]

    inventory = build_inventory(
        fast_rows, observed_at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC), vcenter_uuid="vc-1", field_names={101: "owner"}
    )
    assert inventory.datacenters == [ObservedDatacenter(key="datacenter-21", name="Paris")]
    assert inventory.clusters == [ObservedCluster(key="domain-c7", name="Gold", datacenter_key="datacenter-21")]
    assert [(h.key, h.hardware_uuid, h.cluster_key, h.datacenter_key, h.product, h.version, h.build)
            for h in inventory.hosts] == [
        ("host-10", "4c4c4544-0031-3510-8052-b4c04f4e3232", "domain-c7", "datacenter-21",
         "VMware ESXi 8.0.2 build-22380479", "8.0.2", "22380479"),
    ]
    assert inventory.vms == [WEB01, WEB02]


def test_a_failing_page_cancels_the_pending_retrieval():
    stub = _stub()
    fake_pc = FakePropertyCollector([_recorded(stub, PAGE_1)], fail_on_continue=True)

    with pytest.raises(ConnectionResetError):
        retrieve_all(PyvmomiRetriever(fake_pc), vmodl.query.PropertyCollector.FilterSpec(), page_size=5)

    assert fake_pc.calls == [
        ("RetrievePropertiesEx", 5),
        ("ContinueRetrievePropertiesEx", "page-2"),
        ("CancelRetrievePropertiesEx", "page-2"),
    ]


def test_fast_path_raises_the_servers_fault():
    """A SOAP fault (HTTP 500) comes out of the fast path as the pyvmomi fault, as from the slow path."""
    harness.require_simulator()
    with harness.Simulator(datacenters=1, clusters=0, hosts=1, vms=1) as sim, session(sim) as si:
        content = si.RetrieveContent()
        pc = content.propertyCollector
        retriever = FastRetriever(si._stub, pc, KINDS)
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=vim.Folder("group-nope", si._stub))],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.Folder, pathSet=["name"])],
        )
        with pytest.raises(vmodl.fault.ManagedObjectNotFound):
            retriever.retrieve(spec, max_objects=10)
        with pytest.raises(vmodl.fault.ManagedObjectNotFound):
            PyvmomiRetriever(pc).retrieve(spec, max_objects=10)
        # The connection pool is still usable after the fault.
        assert len(retrieve_all(retriever, spec_of_root(content), page_size=10)) == 1


def spec_of_root(content):
    pc = vmodl.query.PropertyCollector
    return pc.FilterSpec(
        objectSet=[pc.ObjectSpec(obj=content.rootFolder)],
        propSet=[pc.PropertySpec(type=vim.Folder, pathSet=["name"])],
    )


# -- connection errors ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def http_server(handler: type[http.server.BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class Answers404(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_error(404, "Not Found")

    def log_message(self, *args):
        pass


class AnswersGarbage(Answers404):
    def do_GET(self):  # noqa: N802
        body = b"<html><body>Welcome to nginx!</body>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def raw_server(on_accept):
    """A TCP server calling ``on_accept(conn)`` for each connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            on_accept(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def connect_error(port: int, **kwargs) -> str:
    options = {"host": "127.0.0.1", "port": port, "user": "admin", "password": SECRET, "timeout": 5} | kwargs
    with pytest.raises(VSphereError) as caught, open_session(**options):
        pass
    message = str(caught.value)
    assert SECRET not in message
    return message


def test_closed_port_is_refused():
    port = _free_port()
    message = connect_error(port)
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message


def test_wrong_path_answering_404_is_not_a_vsphere_endpoint():
    with http_server(Answers404) as port:
        message = connect_error(port, use_http=True)
    assert message == (
        f"127.0.0.1:{port} answered HTTP 404 Not Found for /sdk/vimServiceVersions.xml: "
        "not a vSphere API endpoint (check the host name and port)"
    )


def test_garbage_answer_is_not_a_vsphere_endpoint():
    with http_server(AnswersGarbage) as port:
        message = connect_error(port, use_http=True)
    assert message.startswith(f"127.0.0.1:{port} answered /sdk/vimServiceVersions.xml with")
    assert "not a vSphere API endpoint" in message


def test_server_that_drops_the_connection():
    with raw_server(lambda conn: conn.close()) as port:
        message = connect_error(port, use_http=True)
    assert message.startswith(f"127.0.0.1:{port} closed the connection")


def test_server_that_never_answers_times_out():
    held = []
    with raw_server(held.append) as port:
        message = connect_error(port, use_http=True, timeout=0.5)
    for conn in held:
        conn.close()
    assert message == f"connecting to 127.0.0.1:{port} timed out after 0.5 s: the host is unreachable or too slow"


def test_unknown_host_name():
    message = connect_error(443, host="vcenter.does-not-exist.invalid")
    assert message.startswith("cannot resolve the host name of vcenter.does-not-exist.invalid:443")


@pytest.mark.simulator
def test_https_to_a_plain_http_port_fails_clearly(small_sim):
    message = connect_error(small_sim.port, use_http=False)
    assert message.startswith(f"127.0.0.1:{small_sim.port} does not speak TLS (HTTPS) on that port")


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vcenter.lab")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def test_untrusted_certificate_fails_verification_unless_told_otherwise(tmp_path):
    with http_server(Answers404, tls=_self_signed(tmp_path)) as port:
        verified = connect_error(port)
        unverified = connect_error(port, verify_tls=False)
    assert verified.startswith(
        f"the TLS certificate of 127.0.0.1:{port} could not be verified (self-signed certificate)"
    )
    assert "install the certificate of the CA" in verified and "--insecure" in verified
    # Without verification the TLS handshake succeeds, and the next problem shows.
    assert unverified.startswith(f"127.0.0.1:{port} answered HTTP 404 Not Found")


INVALID_LOGIN = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode>
<faultstring>Cannot complete login due to an incorrect user name or password.</faultstring>
<detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail>
</soapenv:Fault></soapenv:Body></soapenv:Envelope>"""


@contextlib.contextmanager
def login_fault_proxy(sim, fault_for):
    """The simulator behind a proxy that answers every Login with ``fault_for(request body)`` (an HTTP 500 SOAP
    fault) and forwards the rest; yields (port, the login requests it received)."""
    logins: list[bytes] = []

    class Proxy(Answers404):
        def do_GET(self):  # noqa: N802
            self._forward(None)

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if b"<Login " in body:
                logins.append(body)
                fault = fault_for(body)
                self.send_response(500)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(fault)))
                self.end_headers()
                self.wfile.write(fault)
                return
            self._forward(body)

        def _forward(self, body):
            upstream = http.client.HTTPConnection(sim.host, sim.port, timeout=10)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "accept-encoding")}
            upstream.request(self.command, self.path, body, headers)
            response = upstream.getresponse()
            data = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            upstream.close()

    with http_server(Proxy) as port:
        yield port, logins


@pytest.mark.simulator
def test_refused_login(small_sim):
    """A proxy in front of the simulator answers Login as vCenter does for a wrong password."""
    with login_fault_proxy(small_sim, lambda body: INVALID_LOGIN) as (port, logins):
        message = connect_error(port, use_http=True, user="auditor@vsphere.local")
    assert message == f"127.0.0.1:{port} refused the login of user 'auditor@vsphere.local': wrong user name or password"
    assert len(logins) == 1


# -- the simulator harness ------------------------------------------------------


@pytest.mark.parametrize(("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_missing_simulator_skips_but_fails_under_ci(monkeypatch, ci, outcome):
    monkeypatch.setattr(harness, "simulator_available", lambda: (False, "go: command not found"))
    monkeypatch.setenv("CI", ci)

    with pytest.raises(outcome, match="go: command not found"):
        harness.require_simulator()
