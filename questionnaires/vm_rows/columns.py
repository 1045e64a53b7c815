"""The VM list's columns: their names, headings, the headers files use for them and the spellings of their values."""

from inventory.choices import Platform
from portal.tabular.cells import key
from questionnaires.choices import DataCategory, DeclaredVMStatus, VMPurpose

COLUMNS = (
    "name",
    "address",
    "platform",
    "software",
    "location",
    "created_on",
    "created_by",
    "purpose",
    "purpose_other",
    "status",
    "owner",
    "data_categories",
    "notes",
    "uuid",
    "vm_id",
    "mac_address",
)
# The identity columns power users paste from RVTools or vSphere: optional, and what reconciliation trusts first.
IDENTITY_COLUMNS = ("uuid", "vm_id", "mac_address")
NOTES_MAX_LENGTH = 2_000
MAX_LENGTHS = {
    "name": 255,
    "address": 255,
    "software": 200,
    "location": 200,
    "created_by": 200,
    "purpose_other": 200,
    "owner": 200,
    "notes": NOTES_MAX_LENGTH,
    "uuid": 64,
    "vm_id": 100,
    "mac_address": 17,
}
# What people call each column: the grid's headings, the names problems use, and headers a file may use.
COLUMN_LABELS = {
    "name": "Name",
    "address": "Host name or IP",
    "platform": "Platform",
    "software": "Software and version",
    "location": "Where it runs",
    "created_on": "Created on",
    "created_by": "Created by",
    "purpose": "Purpose",
    "purpose_other": "Purpose if other",
    "status": "Status",
    "owner": "Owner",
    "data_categories": "Data handled",
    "notes": "Notes",
    "uuid": "UUID",
    "vm_id": "VM ID (moref)",
    "mac_address": "MAC address",
}
COLUMNS_HELP = ", ".join(COLUMN_LABELS[column] for column in COLUMNS)
# The spellings problems suggest: what people type, not the stored codes (each one is read back, see the tests).
PLATFORMS_HELP = "VMware ESXi, VMware Workstation, Hyper-V, KVM, Xen, VirtualBox, Cloud or Other"
PURPOSES_HELP = "Production, Development, Test, Departmental, Research or Other"
STATUSES_HELP = "Running, Stopped or Decommissioned"
DATA_CATEGORIES_HELP = "ePHI, Financial reporting, Customer financial data, Personal data or None"
# How the grid shows a row's data categories: short names people type back (DataCategory's labels are long).
DATA_CATEGORY_NAMES = {
    "ephi": "ePHI",
    "financial_reporting": "Financial reporting",
    "customer_financial": "Customer financial data",
    "personal": "Personal data",
    "none": "None",
}

HEADER_ALIASES = {
    "name": ("name", "vmname", "vm", "virtualmachine", "machinename"),
    "address": ("address", "hostname", "ip", "ipaddress", "hostnameorip", "hostnameoripaddress", "fqdn", "dnsname"),
    "platform": ("platform", "hypervisor", "virtualizationplatform"),
    "software": ("software", "virtualizationsoftware", "softwareversion", "softwareandversion"),
    "location": ("location", "site", "whereitruns", "runson"),
    "created_on": ("createdon", "created", "creationdate", "datecreated", "createdat"),
    "created_by": ("createdby", "creator", "builtby"),
    "purpose": ("purpose", "usage"),
    "purpose_other": ("purposeother", "otherpurpose", "purposeifother"),
    "status": ("status", "state", "currentstatus", "powerstate"),
    "owner": ("owner", "vmowner", "responsible"),
    "data_categories": ("datacategories", "datacategory", "data", "datahandled", "datatypes"),
    "notes": ("notes", "note", "comments", "comment", "remarks"),
    # RVTools' vInfo: "VM UUID" (instance UUID), "SMBIOS UUID" (BIOS UUID), "VM ID" (the moref); never
    # "VI SDK UUID", which is the vCenter's own.
    "uuid": ("uuid", "vmuuid", "instanceuuid", "biosuuid", "smbiosuuid"),
    "vm_id": ("vmid", "vmidmoref", "moref", "morefid", "managedobjectid"),
    "mac_address": ("macaddress", "mac", "vmmacaddress"),
}
# Header keys (``cells.key``) to columns.
HEADERS = {alias: column for column, aliases in HEADER_ALIASES.items() for alias in aliases}


def _spellings(choices, extra: dict[str, str]) -> dict[str, str]:
    """Choice values and labels, and extra spellings, by ``cells.key``."""
    spellings = {key(value): value for value in choices.values}
    spellings.update((key(label), value) for value, label in choices.choices)
    spellings.update((key(spelling), value) for spelling, value in extra.items())
    return spellings


PLATFORMS = _spellings(
    Platform,
    {
        "ESXi": Platform.VMWARE_ESXI,
        "ESX": Platform.VMWARE_ESXI,
        "vSphere": Platform.VMWARE_ESXI,
        "VMware ESXi": Platform.VMWARE_ESXI,
        "VMware ESX": Platform.VMWARE_ESXI,
        "VMware vSphere": Platform.VMWARE_ESXI,
        "vCenter": Platform.VMWARE_ESXI,
        "VMware Workstation": Platform.VMWARE_WORKSTATION,
        "VMware Workstation Pro": Platform.VMWARE_WORKSTATION,
        "Workstation": Platform.VMWARE_WORKSTATION,
        "VMware Fusion": Platform.VMWARE_WORKSTATION,
        "Fusion": Platform.VMWARE_WORKSTATION,
        "VMware Player": Platform.VMWARE_WORKSTATION,
        "Hyper-V": Platform.HYPERV,
        "Microsoft Hyper-V": Platform.HYPERV,
        "QEMU": Platform.KVM,
        "QEMU/KVM": Platform.KVM,
        "libvirt": Platform.KVM,
        "Proxmox": Platform.KVM,
        "Proxmox VE": Platform.KVM,
        "oVirt": Platform.KVM,
        "XenServer": Platform.XEN,
        "Citrix Hypervisor": Platform.XEN,
        "XCP-ng": Platform.XEN,
        "VBox": Platform.VIRTUALBOX,
        "Oracle VirtualBox": Platform.VIRTUALBOX,
        "Oracle VM VirtualBox": Platform.VIRTUALBOX,
        "AWS": Platform.CLOUD,
        "EC2": Platform.CLOUD,
        "Amazon": Platform.CLOUD,
        "Azure": Platform.CLOUD,
        "GCP": Platform.CLOUD,
        "Google Cloud": Platform.CLOUD,
        "OCI": Platform.CLOUD,
    },
)
PURPOSES = _spellings(
    VMPurpose, {"prod": VMPurpose.PRODUCTION, "dev": VMPurpose.DEVELOPMENT, "testing": VMPurpose.TEST}
)
STATUSES = _spellings(
    DeclaredVMStatus,
    {
        "on": DeclaredVMStatus.RUNNING,
        "powered on": DeclaredVMStatus.RUNNING,
        "poweredOn": DeclaredVMStatus.RUNNING,
        "off": DeclaredVMStatus.STOPPED,
        "powered off": DeclaredVMStatus.STOPPED,
        "poweredOff": DeclaredVMStatus.STOPPED,
        "suspended": DeclaredVMStatus.STOPPED,
        "decommissioned": DeclaredVMStatus.DECOMMISSIONED,
        "retired": DeclaredVMStatus.DECOMMISSIONED,
    },
)
DATA_CATEGORIES = _spellings(
    DataCategory,
    {"ePHI": DataCategory.EPHI, "PHI": DataCategory.EPHI, "PII": DataCategory.PERSONAL, "personal data": "personal"},
)
