"""The demo inventory: RVTools exports of two vCenters at three dates, and a Hyper-V lab from CSV.

The exports are written as RVTools tab CSV folders and go through the real
importers, so the demo's VMs have the history a real estate would show:
renames, moves between hosts, power changes, reconfigurations, new VMs and
VMs that went missing and were removed.
"""

import csv
import datetime
import io
import random
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from django.test import override_settings
from django.utils import timezone

from inventory.choices import ActionKind, PolicyKind, Sanction, ScanStatus, ScanTrigger, SourceKind
from inventory.models import Finding, Policy, ScanRun, Source, VirtualMachine, VMChange
from inventory.observations import (
    Inventory,
    ObservedCluster,
    ObservedDatacenter,
    ObservedEvent,
    ObservedHost,
    ObservedVM,
    VMEventKind,
)
from inventory.services.demo_requests import demo_requests_load
from inventory.services.findings import findings_except, policies_evaluate
from inventory.services.identity import inventory_apply
from inventory.services.imports import rvtools_import, vm_csv_import
from inventory.services.policies import policies_load, policy_update, vm_exports_record
from inventory.services.policy_actions import action_batch_propose
from inventory.services.scan_runs import scan_run_finish, scan_run_start
from portal.db import chunked
from portal.models import User

DEMO_SEED = 4242
# (source name, vCenter host, datacenters, clusters per datacenter, hosts per cluster, VMs)
DEMO_VCENTERS = [
    ("vcenter-east (RVTools)", "vc-east.demo.vmcensus.example", 2, 3, 4, 1800),
    ("vcenter-west (RVTools)", "vc-west.demo.vmcensus.example", 1, 2, 4, 700),
]
DEMO_SNAPSHOT_DAYS_AGO = (60, 30, 1)
# VMs per vCenter that share their BIOS UUID with another one.
COPIED_PAIRS = 3
HYPERV_SOURCE = "hyperv-lab (CSV)"
ROLES = ["web", "app", "db", "cache", "batch", "etl", "ldap", "mq", "jump", "build", "test", "ehr", "gl", "crm"]
GUESTS = [
    ("Microsoft Windows Server 2019 (64-bit)", "windows2019srv_64Guest"),
    ("Microsoft Windows Server 2022 (64-bit)", "windows2022srvNext_64Guest"),
    ("Red Hat Enterprise Linux 8 (64-bit)", "rhel8_64Guest"),
    ("Ubuntu Linux (64-bit)", "ubuntu64Guest"),
    ("CentOS 7 (64-bit)", "centos7_64Guest"),
]
NETWORKS = ["VM Network", "Prod-App", "Prod-DB", "DMZ", "Backup", "Test"]
INFO_HEADER = [
    "VM", "Powerstate", "Template", "SRM Placeholder", "DNS Name", "PowerOn", "Creation date", "CPUs", "Memory",
    "NICs", "Primary IP Address", "Network #1", "Network #2", "Resource pool", "Folder", "HW version", "Path",
    "Annotation", "Datacenter", "Cluster", "Host", "OS according to the configuration file",
    "OS according to the VMware Tools", "VM ID", "VM UUID", "SMBIOS UUID", "VI SDK Server", "VI SDK UUID",
]
IDENTITY_HEADER = ["VM ID", "VM UUID", "VI SDK Server", "VI SDK UUID"]


@dataclass
class _DemoVM:
    number: int
    name: str
    datacenter: str
    cluster: str
    host: str
    power: str
    cpus: int
    memory: int
    guest: str
    network: str
    created: datetime.datetime
    instance_uuid: str
    bios_uuid: str
    mac: str
    ip: str
    annotation: str
    template: bool = False
    tools: str = "toolsOk"


@dataclass
class _DemoVCenter:
    source_name: str
    server: str
    sdk_uuid: str
    hosts: list[tuple[str, str, str, str]] = field(default_factory=list)  # datacenter, cluster, host, hardware uuid
    vms: list[_DemoVM] = field(default_factory=list)


def _fmt(moment: datetime.datetime) -> str:
    return moment.strftime("%Y/%m/%d %H:%M:%S")


def _build_vcenter(rng: random.Random, spec: tuple, start: datetime.datetime) -> _DemoVCenter:
    source_name, server, datacenters, clusters, hosts_per_cluster, vm_count = spec
    vcenter = _DemoVCenter(source_name, server, str(uuid.UUID(int=rng.getrandbits(128))))
    short = server.split(".")[0].removeprefix("vc-")
    for d in range(datacenters):
        for c in range(clusters):
            for h in range(hosts_per_cluster):
                vcenter.hosts.append((
                    f"{short.upper()}-DC{d + 1}", f"{short}-dc{d + 1}-cl{c + 1}",
                    f"esx{d + 1}{c + 1}{h + 1:02d}.{short}.demo.vmcensus.example",
                    str(uuid.UUID(int=rng.getrandbits(128))),
                ))
    for number in range(1, vm_count + 1):
        vcenter.vms.append(_new_vm(rng, vcenter, number, start - datetime.timedelta(days=rng.randint(60, 1500))))
    # A few VMs copied without a new BIOS UUID (a file-level copy registered again): the portal flags the pairs.
    for original, copy in zip(vcenter.vms[10:10 + COPIED_PAIRS], vcenter.vms[-COPIED_PAIRS:], strict=True):
        copy.bios_uuid = original.bios_uuid
    return vcenter


def _new_vm(rng: random.Random, vcenter: _DemoVCenter, number: int, created: datetime.datetime) -> _DemoVM:
    datacenter, cluster, host, _ = rng.choice(vcenter.hosts)
    role = rng.choice(ROLES)
    guest = rng.choice(GUESTS)[0]
    short = vcenter.server.split(".")[0].removeprefix("vc-")
    return _DemoVM(
        number=number,
        name=f"{short}-{role}{number:04d}",
        datacenter=datacenter, cluster=cluster, host=host,
        power="poweredOn" if rng.random() < 0.85 else "poweredOff",
        cpus=rng.choice([1, 2, 2, 4, 4, 8]), memory=rng.choice([2048, 4096, 8192, 16384]),
        guest=guest, network=rng.choice(NETWORKS), created=created,
        instance_uuid=str(uuid.UUID(int=rng.getrandbits(128))), bios_uuid=str(uuid.UUID(int=rng.getrandbits(128))),
        mac=f"00:50:56:{rng.randrange(256):02x}:{rng.randrange(256):02x}:{rng.randrange(256):02x}",
        ip=f"10.{rng.randrange(1, 250)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        annotation=rng.choice(["", "", f"{role} tier", f"ticket CHG-{rng.randrange(99999):05d}"]),
        template=rng.random() < 0.01,
        tools=rng.choice(["toolsOk", "toolsOk", "toolsOk", "toolsOld", "toolsNotRunning"]),
    )


def _evolve(rng: random.Random, vcenter: _DemoVCenter, moment: datetime.datetime) -> None:
    """What a month does to an estate: renames, moves, power changes, resizes, new and deleted VMs."""
    for vm in vcenter.vms:
        roll = rng.random()
        if roll < 0.02:
            vm.name = f"{vm.name}-old" if rng.random() < 0.5 else vm.name.replace("test", "prod")
        elif roll < 0.05:
            vm.datacenter, vm.cluster, vm.host, _ = rng.choice(
                [host for host in vcenter.hosts if host[0] == vm.datacenter]
            )
        elif roll < 0.10:
            vm.power = "poweredOff" if vm.power == "poweredOn" else "poweredOn"
        elif roll < 0.11:
            vm.memory *= 2
    deleted = set(rng.sample(range(len(vcenter.vms)), k=len(vcenter.vms) // 60))
    vcenter.vms = [vm for index, vm in enumerate(vcenter.vms) if index not in deleted]
    next_number = max(vm.number for vm in vcenter.vms) + 1
    for offset in range(len(vcenter.vms) // 40):
        created = moment - datetime.timedelta(days=rng.randint(1, 25))
        vcenter.vms.append(_new_vm(rng, vcenter, next_number + offset, created))


def _write_tab(folder: Path, tab: str, header: list[str], rows: list[list]) -> None:
    with (folder / f"RVTools_tab{tab}.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


def _write_export(folder: Path, vcenter: _DemoVCenter, moment: datetime.datetime) -> None:
    def identity(vm: _DemoVM) -> list[str]:
        return [f"vm-{vm.number}", vm.instance_uuid, vcenter.server, vcenter.sdk_uuid]

    _write_tab(folder, "vInfo", INFO_HEADER, [
        [vm.name, vm.power, str(vm.template), "False", f"{vm.name}.demo.vmcensus.example",
         _fmt(moment - datetime.timedelta(days=3)) if vm.power == "poweredOn" else "", _fmt(vm.created), vm.cpus,
         vm.memory, 1, vm.ip if vm.power == "poweredOn" else "", vm.network, "", "Resources",
         "Discovered virtual machine" if vm.number % 7 == 0 else "Production", "vmx-19",
         f"[{vm.cluster}-ds01] {vm.name}/{vm.name}.vmx",
         vm.annotation, vm.datacenter, vm.cluster, vm.host, vm.guest, vm.guest if vm.power == "poweredOn" else "",
         *[identity(vm)[0], vm.instance_uuid, vm.bios_uuid, vcenter.server, vcenter.sdk_uuid]]
        for vm in vcenter.vms
    ])
    tools_header = ["VM", "Tools", "Tools Version", "Required Version", "Upgradeable", *IDENTITY_HEADER]
    _write_tab(folder, "vTools", tools_header, [
        [vm.name, vm.tools if vm.power == "poweredOn" else "toolsNotRunning", "12352", "12352", "False", *identity(vm)]
        for vm in vcenter.vms
    ])
    _write_tab(folder, "vNetwork", ["VM", "NIC label", "Adapter", "Network", "Switch", "Connected", "Mac Address",
                                    "Type", "IPv4 Address", "IPv6 Address", *IDENTITY_HEADER], [
        [vm.name, "Network adapter 1", "Vmxnet3", vm.network, "vSwitch0", "True", vm.mac, "assigned",
         vm.ip if vm.power == "poweredOn" else "", "", *identity(vm)]
        for vm in vcenter.vms
    ])
    _write_tab(folder, "vHost", ["Host", "Datacenter", "Cluster", "ESX Version", "Vendor", "Model", "Object ID",
                                 "UUID", "VI SDK Server", "VI SDK UUID"], [
        [host, datacenter, cluster, "VMware ESXi 7.0.3 build-21930508", "Dell Inc.", "PowerEdge R750",
         f"host-{index + 10}", hardware_uuid, vcenter.server, vcenter.sdk_uuid]
        for index, (datacenter, cluster, host, hardware_uuid) in enumerate(vcenter.hosts)
    ])
    _write_tab(folder, "vMetaData", ["RVTools version", "xlsx creation datetime"], [["4.6.1", _fmt(moment)]])


def _hyperv_csv(rng: random.Random) -> str:
    stream = io.StringIO()
    writer = csv.writer(stream)
    writer.writerow(["name", "vm_id", "bios_uuid", "platform", "host", "power_state", "guest_os", "ip_addresses",
                     "cpu_count", "memory_mb", "created_at", "annotation"])
    for number in range(1, 61):
        writer.writerow([
            f"lab-vm{number:02d}", str(uuid.UUID(int=rng.getrandbits(128))), str(uuid.UUID(int=rng.getrandbits(128))),
            "hyperv" if number <= 45 else "virtualbox", f"hv{1 + number % 3:02d}.lab.demo.vmcensus.example",
            rng.choice(["on", "on", "off"]), rng.choice(GUESTS)[0], f"192.168.50.{number}",
            rng.choice([1, 2, 4]), rng.choice([1024, 2048, 4096]), f"2025-{1 + number % 12:02d}-15",
            "just testing" if number % 9 == 0 else "",
        ])
    return stream.getvalue()


def demo_load() -> list[str]:
    """The inventory's part of ``manage.py load_demo``: the estate, the deployment requests, then the policies and
    their findings."""
    return _estate_load() + demo_requests_load() + governance_demo_load()


def _estate_load() -> list[str]:
    """Import the demo inventory once; a second run finds it there and changes nothing."""
    if Source.objects.filter(name=DEMO_VCENTERS[0][0]).exists():
        return ["Inventory: demo sources already loaded."]
    for spec in DEMO_VCENTERS:
        # Deleted VMs are removed after two complete imports, so the demo shows that step too.
        Source.objects.create(name=spec[0], kind=SourceKind.RVTOOLS, missing_scans_before_removed=2)
    rng = random.Random(DEMO_SEED)
    today = timezone.now().replace(microsecond=0)
    moments = [today - datetime.timedelta(days=days) for days in DEMO_SNAPSHOT_DAYS_AGO]
    with tempfile.TemporaryDirectory(prefix="vmcensus-demo-") as workdir:
        for spec in DEMO_VCENTERS:
            vcenter = _build_vcenter(rng, spec, moments[0])
            for index, moment in enumerate(moments):
                if index:
                    _evolve(rng, vcenter, moment)
                folder = Path(workdir) / f"{vcenter.server}-{index}"
                folder.mkdir()
                _write_export(folder, vcenter, moment)
                rvtools_import(path=folder, source_name=vcenter.source_name)
    vm_csv_import(stream=io.BytesIO(_hyperv_csv(rng).encode()), source_name=HYPERV_SOURCE, file_name="hyperv-lab.csv")
    return [f"Inventory: {VirtualMachine.objects.count()} VMs from {Source.objects.count()} sources, "
            f"{VMChange.objects.count()} history entries."]


# -- governance: policies, a small scanned lab, findings of every kind, one excepted --------------------------

LAB_SOURCE = "vcenter-lab (scanned demo)"
LAB_HOST = "vc-lab.demo.vmcensus.example"
# One VM in this many of the imported estate has no approval (the rest were approved before the demo starts).
UNAPPROVED_ONE_IN = 40
HARDENED = {"isolation.device.connectable.disable": "TRUE", "RemoteDisplay.maxConnections": "1",
            "tools.guestlib.enableHostInfo": "FALSE"}
# (name, host key, extra advanced settings, tools version status, power state)
LAB_VMS = [
    ("lab-web01", "host-11", {}, "guestToolsCurrent", "poweredOn"),
    ("lab-web02", "host-11", {}, "guestToolsCurrent", "poweredOn"),
    ("lab-app01", "host-11", {}, "guestToolsCurrent", "poweredOn"),
    ("lab-db01", "host-12", {}, "guestToolsCurrent", "poweredOn"),
    ("lab-kiosk01", "host-12", {"isolation.tools.copy.disable": "FALSE", "isolation.tools.paste.disable": "FALSE"},
     "guestToolsCurrent", "poweredOn"),
    ("lab-nfv01", "host-12", {"ethernet0.filter0.name": "dvfilter-maclearn"}, "guestToolsCurrent", "poweredOn"),
    ("lab-ehr01", "host-11", {}, "guestToolsCurrent", "poweredOn"),
    ("lab-build01", "host-11", {}, "guestToolsNeedUpgrade", "poweredOn"),
    ("lab-old01", "host-13", {}, "guestToolsSupportedOld", "poweredOn"),
]
LAB_HOSTS = [("host-11", "esx-lab-11", "8.0.2", "22380479"), ("host-12", "esx-lab-12", "8.0.2", "22380479"),
             ("host-13", "esx-lab-13", "7.0.3", "17630552")]


def _lab_inventory(observed_at: datetime.datetime) -> Inventory:
    inventory = Inventory(observed_at=observed_at, vcenter_uuid="5f1c0de0-demo-4ab5-9c1e-labvcenter00")
    inventory.datacenters = [ObservedDatacenter(key="datacenter-2", name="Lab")]
    inventory.clusters = [ObservedCluster(key="domain-c8", name="Lab-Cluster", datacenter_key="datacenter-2")]
    inventory.hosts = [ObservedHost(key=key, name=name, cluster_key="domain-c8", datacenter_key="datacenter-2",
                                    product=f"VMware ESXi {version} build-{build}", version=version, build=build,
                                    hardware_uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, name)))
                       for key, name, version, build in LAB_HOSTS]
    for number, (name, host, extra, tools, power) in enumerate(LAB_VMS, start=101):
        inventory.vms.append(ObservedVM(
            moref=f"vm-{number}", name=name, instance_uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"i-{name}")),
            bios_uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"b-{name}")), power_state=power,
            datacenter_key="datacenter-2", cluster_key="domain-c8", host_key=host, folder="Lab/Servers",
            datastores=["lab-ds01"], networks=["Lab-Net"], tools_status="toolsOk", tools_version="12352",
            tools_version_status=tools, hardware_version="vmx-19" if name != "lab-old01" else "vmx-13",
            guest_os="Red Hat Enterprise Linux 9 (64-bit)", cpu_count=2, memory_mb=4096,
            advanced_settings={**HARDENED, **extra},
        ))
    return inventory


def _lab_scan(source: Source, observed_at: datetime.datetime, events: list[ObservedEvent]) -> ScanRun:
    """Apply the lab's observation the way a scan does (the endpoint is fictional: the demo does not connect)."""
    run = scan_run_start(source=source, trigger=ScanTrigger.COMMAND, observed_at=observed_at)
    inventory = _lab_inventory(observed_at)
    inventory.events = events
    counts = inventory_apply(run=run, inventory=inventory, complete=True)
    vm_exports_record(run=run, events=events)
    return scan_run_finish(run=run, status=ScanStatus.COMPLETE, counts=counts)


def governance_demo_load() -> list[str]:
    """Policies and baselines, the scanned lab (never approved: its VMs are rogue), approvals for most of the
    imported estate (given before the portal kept requests), the evaluation, and one
    finding excepted by ``secadmin``: the security admin's queue has work of every kind waiting."""
    if Source.objects.filter(name=LAB_SOURCE).exists():
        return ["Governance: demo policies and findings already loaded."]
    secadmin = User.objects.filter(username="secadmin").first()
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        policies_load()
        dormant = Policy.objects.get(kind=PolicyKind.DORMANT)
        policy_update(policy=dormant, user=secadmin, enabled=True, config={**dormant.config, "days": 45},
                      scope=dormant.scope, actions=dormant.actions,
                      note="45 days for the demo estate, whose history starts 60 days ago")
        ids = list(VirtualMachine.objects.order_by("id").values_list("id", flat=True))
        approved = [vm_id for index, vm_id in enumerate(ids) if index % UNAPPROVED_ONE_IN]
        for chunk in chunked(approved):
            VirtualMachine.objects.filter(id__in=chunk).update(sanction=Sanction.APPROVED)
        source = Source.objects.create(name=LAB_SOURCE, kind=SourceKind.VCENTER, host=LAB_HOST, enabled=False,
                                       username="svc-vmcensus@vsphere.local")
        now = timezone.now().replace(microsecond=0)
        _lab_scan(source, now - datetime.timedelta(days=20), [])
        VirtualMachine.objects.filter(source=source, name="lab-ehr01").update(data_categories=["ePHI"])
        _lab_scan(source, now - datetime.timedelta(hours=2), [
            ObservedEvent(key=5001, at=now - datetime.timedelta(days=3), kind=VMEventKind.TASK, vm_moref="vm-104",
                          vm_name="lab-db01", user="LAB\\contractor", task="VirtualMachine.exportVm"),
            ObservedEvent(key=5002, at=now - datetime.timedelta(days=2), kind=VMEventKind.CLONED, vm_moref="vm-190",
                          vm_name="lab-app01-copy", user="LAB\\contractor", source_vm_moref="vm-103",
                          host_moref="host-99", datastore="usb-datastore"),
        ])
        result = policies_evaluate()
        old = Finding.objects.filter(kind=PolicyKind.UNPATCHED, vm__name="lab-old01").first()
        if old is not None and secadmin is not None:
            findings_except(ids=[old.pk], user=secadmin, until=timezone.localdate() + datetime.timedelta(days=60),
                            reason="Host upgrade to ESXi 8.0 U2 is scheduled next quarter (CHG-2291)")
            # A dry run of powering off the lab's rogue VMs: what an enabled policy would do, nothing done.
            action_batch_propose(policy=Policy.objects.get(kind=PolicyKind.ROGUE), action=ActionKind.POWER_OFF,
                                 user=secadmin)
    opened = ", ".join(f"{kind} {count}" for kind, count in result.open_by_kind.items() if count)
    return [f"Governance: {Policy.objects.count()} policies, {Finding.objects.count()} findings ({opened}); "
            "one excepted by secadmin."]
