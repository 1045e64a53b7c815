"""Choices of the inventory app."""

from django.db import models


class SourceKind(models.TextChoices):
    VCENTER = "vcenter", "vCenter / ESXi"
    RVTOOLS = "rvtools", "RVTools import"
    CSV = "csv", "CSV import"


class ScanStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETE = "complete", "Complete"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


class ScanTrigger(models.TextChoices):
    COMMAND = "command", "Command line"
    TASK = "task", "Scheduled task"
    USER = "user", "Button in the portal"
    IMPORT = "import", "File import"


class PowerState(models.TextChoices):
    ON = "poweredOn", "On"
    OFF = "poweredOff", "Off"
    SUSPENDED = "suspended", "Suspended"
    UNKNOWN = "unknown", "Unknown"


class VMStatus(models.TextChoices):
    PRESENT = "present", "Present"
    MISSING = "missing", "Missing"
    REMOVED = "removed", "Removed"


class Sanction(models.TextChoices):
    APPROVED = "approved", "Approved"
    PENDING = "pending", "Pending approval"
    UNAPPROVED = "unapproved", "Unapproved"


class ChangeKind(models.TextChoices):
    DISCOVERED = "discovered", "Discovered"
    RENAMED = "renamed", "Renamed"
    RELOCATED = "relocated", "Relocated"
    NETWORK_CHANGED = "network_changed", "Network changed"
    POWER_CHANGED = "power_changed", "Power changed"
    RECONFIGURED = "reconfigured", "Reconfigured"
    REPURPOSED = "repurposed", "Repurposed"
    CLONED = "cloned", "Cloned"
    MISSING = "missing", "Missing"
    REAPPEARED = "reappeared", "Reappeared"
    REMOVED = "removed", "Removed"
    REQUEST_LINKED = "request_linked", "Linked to a deployment request"
    SANCTION_CHANGED = "sanction_changed", "Sanction changed"
    FINDING_OPENED = "finding_opened", "Finding opened"
    FINDING_CHANGED = "finding_changed", "Finding changed"
    VCENTER_ACTION = "vcenter_action", "vCenter action"


class Platform(models.TextChoices):
    """The hypervisor or service a VM runs on: what imports record and what people declare in questionnaires."""

    VMWARE_ESXI = "vmware-esxi", "VMware ESXi / vSphere"
    VMWARE_WORKSTATION = "vmware-workstation", "VMware Workstation / Fusion"
    HYPERV = "hyperv", "Microsoft Hyper-V"
    KVM = "kvm", "KVM"
    XEN = "xen", "Xen"
    VIRTUALBOX = "virtualbox", "VirtualBox"
    CLOUD = "cloud", "Cloud (AWS, Azure, GCP...)"
    OTHER = "other", "Other"


class PolicyKind(models.TextChoices):
    """What a policy looks for; each kind has its evaluator in ``inventory.services.policies``."""

    ROGUE = "rogue", "Rogue (no approval)"
    DORMANT = "dormant", "Dormant (powered off for long)"
    UNPATCHED = "unpatched", "Unpatched (Tools, hardware, host build)"
    OFF_BASELINE = "off_baseline", "Off its hardening baseline"
    COPIED = "copied", "Copied (BIOS UUID shared)"
    EXPORTED = "exported", "Exported or cloned out of scope"
    EXPIRED = "expired", "Past its approved end date"
    UNDECLARED = "undeclared", "Undeclared by its managers"
    RUNNING_BUT_DECOMMISSIONED = "running_but_decommissioned", "Declared decommissioned but running"


class FindingState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    EXCEPTED = "excepted", "Excepted"
    RESOLVED = "resolved", "Resolved"


class Comparison(models.TextChoices):
    """How a baseline rule compares a VM's advanced setting with the value it expects."""

    EQUALS = "equals", "Equals (any case)"
    AT_LEAST = "at_least", "At least (number)"
    AT_MOST = "at_most", "At most (number)"
    ABSENT = "absent", "Absent (no key matches)"


class ActionKind(models.TextChoices):
    POWER_OFF = "power_off", "Power off"
    UPGRADE_TOOLS = "upgrade_tools", "Upgrade VMware Tools"


class ActionBatchState(models.TextChoices):
    """A batch of vCenter actions: proposed by one security admin, confirmed by another, then carried out."""

    DRY_RUN = "dry_run", "Dry run (nothing done)"
    AWAITING = "awaiting", "Awaiting a second security admin"
    CONFIRMED = "confirmed", "Confirmed, running"
    DONE = "done", "Done"
    FAILED = "failed", "Done with failures"
    CANCELLED = "cancelled", "Cancelled"


class AttemptState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
class DataCategory(models.TextChoices):
    """Data a VM handles; scopes HIPAA (ePHI), SOX (financial reporting) and GLBA (customer financial data)."""

    EPHI = "ephi", "Electronic protected health information (ePHI)"
    FINANCIAL_REPORTING = "financial_reporting", "Financial reporting"
    CUSTOMER_FINANCIAL = "customer_financial", "Customer financial data"
    PERSONAL = "personal", "Other personal data"
    NONE = "none", "None of these"


class RequestState(models.TextChoices):
    """Where a deployment request is; ``services/approvals.py`` holds the transitions allowed between them."""

    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    FULFILLED = "fulfilled", "Fulfilled"
    EXPIRED = "expired", "Expired"


class Environment(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging / pre-production"
    TEST = "test", "Test"
    DEVELOPMENT = "development", "Development"
    DISASTER_RECOVERY = "disaster_recovery", "Disaster recovery"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
