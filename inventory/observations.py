"""What one collection observed, in a shape shared by the vSphere collector and the file importers.

The scan service turns an ``Inventory`` into VMs, hosts and history; it never
knows whether the facts came from pyvmomi, an RVTools workbook or a CSV file.
``key`` fields identify an object within one observation: the moref for
vCenter, a name-derived key for imports that carry no moref.
"""

import datetime
from dataclasses import dataclass, field
from enum import StrEnum


class VMEventKind(StrEnum):
    """The vCenter VM events the scanner reads, named as vCenter sends them (the event's class)."""

    CREATED = "VmCreatedEvent"
    BEING_DEPLOYED = "VmBeingDeployedEvent"
    DEPLOYED = "VmDeployedEvent"
    BEING_CLONED = "VmBeingClonedEvent"
    CLONED = "VmClonedEvent"
    MIGRATED = "VmMigratedEvent"
    RELOCATED = "VmRelocatedEvent"
    RENAMED = "VmRenamedEvent"
    REMOVED = "VmRemovedEvent"
    RECONFIGURED = "VmReconfiguredEvent"
    REGISTERED = "VmRegisteredEvent"  # a VM added back to the inventory from its files: a creation, for the scanner
    TASK = "TaskEvent"  # a task on a VM; the scanner keeps those that copy a VM off (EXPORT_TASKS)


# Events that bring a VM into being: the user they name created it (``created_by``) and is the actor of its
# discovery in the timeline.
CREATION_EVENTS = frozenset(
    {VMEventKind.CREATED, VMEventKind.BEING_DEPLOYED, VMEventKind.DEPLOYED, VMEventKind.CLONED,
     VMEventKind.REGISTERED}
)


# vCenter tasks that copy a VM off its estate: an OVF / OVA export ("Export OVF template").
EXPORT_TASKS = frozenset({"VirtualMachine.exportVm"})


@dataclass
class ObservedDatacenter:
    key: str
    name: str


@dataclass
class ObservedCluster:
    key: str
    name: str
    datacenter_key: str = ""


@dataclass
class ObservedHost:
    key: str
    name: str
    hardware_uuid: str = ""
    cluster_key: str = ""
    datacenter_key: str = ""
    product: str = ""
    version: str = ""
    build: str = ""


@dataclass
class ObservedVM:
    """One VM as observed. Empty strings and None mean "not known", never "false"."""

    moref: str
    name: str
    instance_uuid: str = ""
    bios_uuid: str = ""
    power_state: str = "unknown"
    is_template: bool = False
    datacenter_key: str = ""
    cluster_key: str = ""
    host_key: str = ""
    resource_pool: str = ""
    folder: str = ""
    datastores: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    mac_addresses: list[str] = field(default_factory=list)
    ip_addresses: list[str] = field(default_factory=list)
    guest_os: str = ""
    guest_os_tools: str = ""
    dns_name: str = ""
    tools_status: str = ""
    tools_version: str = ""
    tools_version_status: str = ""  # guest.toolsVersionStatus2: guestToolsCurrent, guestToolsNeedUpgrade...
    hardware_version: str = ""
    cpu_count: int | None = None
    memory_mb: int | None = None
    created_at: datetime.datetime | None = None
    created_by: str = ""
    annotation: str = ""
    custom_attributes: dict[str, str] = field(default_factory=dict)
    advanced_settings: dict[str, str] = field(default_factory=dict)
    boot_time: datetime.datetime | None = None
    platform: str = ""


@dataclass
class ObservedEvent:
    """A vCenter event about a VM, read since the previous scan.

    ``kind`` is a ``VMEventKind`` (the event class name: VmCreatedEvent, VmClonedEvent, ...);
    ``vm_moref`` the VM it is about; ``source_vm_moref`` the clone source;
    ``template_moref`` the template of a deployment.
    """

    key: int
    at: datetime.datetime
    kind: str
    vm_moref: str
    vm_name: str = ""
    user: str = ""
    source_vm_moref: str = ""
    template_moref: str = ""
    task: str = ""  # a TaskEvent's task (info.descriptionId), e.g. VirtualMachine.exportVm
    host_moref: str = ""  # the host the event names (a clone's: where the new VM runs)
    datastore: str = ""  # the datastore the event names, by name


@dataclass
class Inventory:
    """Everything one collection saw. ``vcenter_uuid`` is empty for sources other than vCenter."""

    observed_at: datetime.datetime
    vcenter_uuid: str = ""
    datacenters: list[ObservedDatacenter] = field(default_factory=list)
    clusters: list[ObservedCluster] = field(default_factory=list)
    hosts: list[ObservedHost] = field(default_factory=list)
    vms: list[ObservedVM] = field(default_factory=list)
    events: list[ObservedEvent] = field(default_factory=list)
    last_event_key: int | None = None
