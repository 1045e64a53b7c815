"""The estate as scanners see it: sources, scans, the compute hierarchy and VMs with their history."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from inventory.choices import (
    ActionBatchState,
    ActionKind,
    AttemptState,
    ChangeKind,
    Comparison,
    DataCategory,
    Decision,
    Environment,
    FindingState,
    Platform,
    PolicyKind,
    PowerState,
    RequestState,
    Sanction,
    ScanStatus,
    ScanTrigger,
    SourceKind,
    VMStatus,
)
from inventory.fields import EncryptedTextField


class Source(models.Model):
    """Where VMs are observed from: a vCenter or ESXi endpoint, or a file import (RVTools, CSV)."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(default=443)
    username = models.CharField(max_length=200, blank=True)
    password = EncryptedTextField(blank=True, help_text="Encrypted at rest; never shown back.")
    use_http = models.BooleanField(default=False, help_text="Plain HTTP: only for a lab or a simulator.")
    verify_tls = models.BooleanField(default=True)
    vcenter_uuid = models.CharField(
        max_length=64, blank=True, help_text="The vCenter's own instance UUID, learnt at the first scan."
    )
    missing_scans_before_removed = models.PositiveSmallIntegerField(
        default=3, help_text="Complete scans a VM may be missing from before it counts as removed."
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def scannable(self) -> bool:
        """Only a vCenter / ESXi endpoint is scanned; import sources are refreshed by importing a newer file."""
        return self.kind == SourceKind.VCENTER

    @property
    def endpoint(self) -> str:
        if not self.scannable:
            return ""
        scheme = "http" if self.use_http else "https"
        return f"{scheme}://{self.host}:{self.port}/sdk"


class ScanRun(models.Model):
    """One collection from a source. Only a complete run may mark VMs missing."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="scan_runs")
    status = models.CharField(max_length=20, choices=ScanStatus.choices, default=ScanStatus.RUNNING)
    trigger = models.CharField(max_length=20, choices=ScanTrigger.choices, default=ScanTrigger.COMMAND)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker took the run on.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of a running scan.")
    observed_at = models.DateTimeField(help_text="When the inventory was observed (an export's creation time).")
    vms_seen = models.PositiveIntegerField(default=0)
    vms_total = models.PositiveIntegerField(null=True, blank=True, help_text="VMs to process, once known.")
    discovered = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    missing = models.PositiveIntegerField(default=0)
    reappeared = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    last_event_key = models.BigIntegerField(null=True, blank=True, help_text="Newest vCenter event read.")
    error = models.TextField(blank=True)
    file_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source"], condition=Q(status="running"), name="scan_run_one_running_per_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} scan #{self.pk} ({self.get_status_display()})"

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None


class Datacenter(models.Model):
    """A vCenter datacenter (or a site named in an import)."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="datacenters")
    moref = models.CharField(max_length=100)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["source", "moref"], name="datacenter_unique_moref")]

    def __str__(self) -> str:
        return self.name


class Cluster(models.Model):
    """A cluster (or the compute resource of a standalone host)."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="clusters")
    datacenter = models.ForeignKey(Datacenter, null=True, blank=True, on_delete=models.SET_NULL)
    moref = models.CharField(max_length=100)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["source", "moref"], name="cluster_unique_moref")]

    def __str__(self) -> str:
        return self.name


class Host(models.Model):
    """A hypervisor host. Its identity is its hardware UUID, then its moref: a renamed host stays the same host."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="hosts")
    datacenter = models.ForeignKey(Datacenter, null=True, blank=True, on_delete=models.SET_NULL)
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.SET_NULL)
    moref = models.CharField(max_length=100, blank=True)
    hardware_uuid = models.CharField(max_length=64, blank=True, db_index=True)
    name = models.CharField(max_length=255)
    product = models.CharField(max_length=200, blank=True, help_text="e.g. VMware ESXi 6.5.0 build-5969303")
    version = models.CharField(max_length=50, blank=True)
    build = models.CharField(max_length=50, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["source", "moref"], name="host_source_moref_idx")]

    def __str__(self) -> str:
        return self.name


class VirtualMachine(models.Model):
    """A VM with an internal id that never changes.

    Identity keys, in order of trust: (vCenter UUID, instance UUID), then
    (vCenter or source, moref), then the BIOS UUID of a VM no longer seen
    elsewhere. Never the name, an IP or the host. ``copied`` marks VMs that
    share their BIOS UUID with another live VM (copied without a new UUID).
    """

    # Identity
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="vms")
    vcenter_uuid = models.CharField(max_length=64, blank=True)
    instance_uuid = models.CharField(max_length=64, blank=True)
    bios_uuid = models.CharField(max_length=64, blank=True, db_index=True)
    moref = models.CharField(
        max_length=100, blank=True, help_text="vCenter managed object id, or the platform's VM id."
    )
    # Current facts
    name = models.CharField(max_length=255, db_index=True)
    power_state = models.CharField(max_length=20, choices=PowerState.choices, default=PowerState.UNKNOWN)
    is_template = models.BooleanField(default=False)
    datacenter = models.ForeignKey(Datacenter, null=True, blank=True, on_delete=models.SET_NULL, related_name="vms")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="vms")
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="vms")
    resource_pool = models.CharField(max_length=255, blank=True)
    folder = models.CharField(max_length=500, blank=True)
    datastores = models.JSONField(default=list, blank=True)
    networks = models.JSONField(default=list, blank=True)
    mac_addresses = models.JSONField(default=list, blank=True)
    ip_addresses = models.JSONField(default=list, blank=True)
    guest_os = models.CharField(max_length=200, blank=True, help_text="As configured.")
    guest_os_tools = models.CharField(max_length=200, blank=True, help_text="As reported by VMware Tools.")
    tools_status = models.CharField(max_length=50, blank=True)
    tools_version = models.CharField(max_length=50, blank=True)
    tools_version_status = models.CharField(
        max_length=50, blank=True,
        help_text="vCenter's guest.toolsVersionStatus2 (guestToolsCurrent, guestToolsNeedUpgrade...); RVTools' "
        "vTools Upgradeable = yes reads as guestToolsNeedUpgrade.",
    )
    hardware_version = models.CharField(max_length=20, blank=True)
    cpu_count = models.PositiveIntegerField(null=True, blank=True)
    memory_mb = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True, help_text="When the VM was created (vCenter createDate).")
    created_by = models.CharField(max_length=200, blank=True, help_text="From the creation or clone event.")
    annotation = models.TextField(blank=True)
    custom_attributes = models.JSONField(default=dict, blank=True)
    advanced_settings = models.JSONField(default=dict, blank=True, help_text="extraConfig key → value.")
    boot_time = models.DateTimeField(null=True, blank=True)
    platform = models.CharField(
        max_length=50, choices=Platform.choices, blank=True, help_text="Hypervisor, for sources other than vCenter."
    )
    dns_name = models.CharField(max_length=255, blank=True, help_text="The guest's host name (VMware Tools).")
    # Lifecycle
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    last_scan = models.ForeignKey(ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=20, choices=VMStatus.choices, default=VMStatus.PRESENT, db_index=True)
    missing_scans = models.PositiveSmallIntegerField(default=0, help_text="Consecutive complete scans without it.")
    copied = models.BooleanField(default=False, help_text="Another live VM has the same BIOS UUID.")
    # Governance (written by later workflows: approvals, questionnaires)
    owner = models.ForeignKey("portal.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="vms")
    purpose = models.CharField(max_length=200, blank=True)
    data_categories = models.JSONField(
        default=list, blank=True, help_text="Data it handles (ePHI, financial reporting...), as its owner declared."
    )
    sanction = models.CharField(max_length=20, choices=Sanction.choices, default=Sanction.UNAPPROVED)
    # Lineage
    cloned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="clones"
    )
    template = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="deployed_vms",
        help_text="The template this VM was deployed from.",
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["vcenter_uuid", "instance_uuid"], name="vm_instance_uuid_idx"),
            models.Index(fields=["source", "moref"], name="vm_source_moref_idx"),
            models.Index(fields=["status", "name"], name="vm_status_name_idx"),
            models.Index(fields=["power_state"], name="vm_power_state_idx"),
            models.Index(fields=["last_seen"], name="vm_last_seen_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class VMChange(models.Model):
    """One entry of a VM's timeline: what changed, when, seen by which scan (or done by which user)."""

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=30, choices=ChangeKind.choices)
    at = models.DateTimeField()
    scan_run = models.ForeignKey(ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.CharField(max_length=200, blank=True, help_text="Who did it, per vCenter events, when known.")
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["vm", "-at"], name="vmchange_vm_at_idx")]

    def __str__(self) -> str:
        return f"{self.vm} {self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class AreaMapping(models.Model):
    """Which person's area a part of the estate belongs to, kept by compliance officers.

    A VM whose cluster, folder or resource pool starts with ``pattern`` (any case) is in that person's area:
    their managers up the chain see it, questionnaires pre-fill it into their VM list (unless it has an owner),
    and reconciliation routes its gaps to them.
    """

    class Scope(models.TextChoices):
        CLUSTER = "cluster", "Cluster"
        FOLDER = "folder", "Folder"
        RESOURCE_POOL = "resource_pool", "Resource pool"

    person = models.ForeignKey("portal.Person", on_delete=models.CASCADE, related_name="area_mappings")
    scope = models.CharField(max_length=20, choices=Scope.choices)
    pattern = models.CharField(max_length=255, help_text="Name, or the start of a folder path.")

    class Meta:
        ordering = ["scope", "pattern"]
        constraints = [models.UniqueConstraint(fields=["scope", "pattern"], name="inventory_area_mapping_unique")]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.pattern} → {self.person.name}"


class Baseline(models.Model):
    """A hardening baseline: the advanced settings a VM must carry. Several may exist; a VM whose data categories
    meet a baseline's ``data_categories`` is judged by that one (the strictest, by most rules), else by the
    policy's baseline."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    data_categories = models.JSONField(
        default=list, blank=True, help_text="VMs handling any of these (e.g. ePHI) are judged by this baseline."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BaselineRule(models.Model):
    """One setting of a baseline. ``key`` may hold ``*`` (any characters), for rules such as "no
    ``ethernet*.filter*.name``"; ``absent_means`` is the installation default, what vSphere does when the
    key is not set."""

    baseline = models.ForeignKey(Baseline, on_delete=models.CASCADE, related_name="rules")
    key = models.CharField(max_length=200)
    comparison = models.CharField(max_length=20, choices=Comparison.choices, default=Comparison.EQUALS)
    expected = models.CharField(max_length=200, blank=True)
    absent_means = models.CharField(
        max_length=200, blank=True, help_text="The installation default: the value a VM without the key has."
    )
    source = models.CharField(max_length=300, help_text="Where the rule comes from (guide and control id).")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["baseline", "position", "key"]
        constraints = [models.UniqueConstraint(fields=["baseline", "key"], name="baseline_rule_unique_key")]

    def __str__(self) -> str:
        return f"{self.key} {self.get_comparison_display().lower()} {self.expected}".strip()


class Policy(models.Model):
    """A governance rule over the estate: what to look for (``kind`` and its ``config``), where (``scope``),
    and what to do about it (``actions``). Each change is a new ``PolicyVersion``."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=40, choices=PolicyKind.choices)
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="Per kind: days, grace_days, minimums...")
    scope = models.JSONField(
        default=dict, blank=True,
        help_text="sources, clusters, folders (path starts), custom_attributes {name: value}; empty = everywhere.",
    )
    actions = models.JSONField(
        default=dict, blank=True,
        help_text="notify [owner, chain, security_admins], tag, power_off / upgrade_tools {enabled, window}.",
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["kind", "name"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class PolicyVersion(models.Model):
    """What a policy said from one change to the next, and who changed it."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    enabled = models.BooleanField()
    config = models.JSONField(default=dict)
    scope = models.JSONField(default=dict)
    actions = models.JSONField(default=dict)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["policy", "-version"]
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="policy_version_unique")]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.version}"


class Finding(models.Model):
    """A VM breaking a policy. At most one finding per (policy, VM) is not resolved at a time; a resolved one
    keeps the evidence that the condition cleared, and a new one opens if it comes back."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="findings")
    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=40, choices=PolicyKind.choices, help_text="The policy's kind, for filters.")
    state = models.CharField(max_length=20, choices=FindingState.choices, default=FindingState.OPEN)
    evidence = models.JSONField(default=dict, blank=True, help_text="What the evaluation saw, in words and values.")
    opened_at = models.DateTimeField()
    state_changed_at = models.DateTimeField()
    assigned_to = models.ForeignKey("portal.Person", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="assigned_findings")
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    excepted_until = models.DateField(null=True, blank=True)
    exception_reason = models.TextField(blank=True)
    exception_approver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                           on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.JSONField(default=dict, blank=True, help_text="The evidence that the condition cleared.")

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "vm"], condition=~Q(state="resolved"),
                                    name="finding_one_unresolved_per_policy_vm"),
        ]
        indexes = [
            models.Index(fields=["state", "kind"], name="finding_state_kind_idx"),
            models.Index(fields=["vm", "state"], name="finding_vm_state_idx"),
            models.Index(fields=["-opened_at", "-id"], name="finding_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.vm.name}" if self.vm_id else self.get_kind_display()


class ActionBatch(models.Model):
    """vCenter actions (power off, upgrade Tools) on the VMs of one policy's findings. Proposed by one security
    admin; a dry run does nothing; an enabled action waits for a second security admin to confirm it."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="action_batches")
    action = models.CharField(max_length=20, choices=ActionKind.choices)
    state = models.CharField(max_length=20, choices=ActionBatchState.choices)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+")
    proposed_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        verbose_name_plural = "action batches"

    def __str__(self) -> str:
        return f"{self.get_action_display()} batch #{self.pk} ({self.get_state_display()})"


class ActionAttempt(models.Model):
    """One VM of a batch: what was done, how many times it was tried, and vCenter's task result."""

    batch = models.ForeignKey(ActionBatch, on_delete=models.CASCADE, related_name="attempts")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="action_attempts")
    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="action_attempts")
    state = models.CharField(max_length=20, choices=AttemptState.choices, default=AttemptState.PENDING)
    tries = models.PositiveSmallIntegerField(default=0)
    result = models.TextField(blank=True, help_text="vCenter's task result, or why it was skipped or failed.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [models.UniqueConstraint(fields=["batch", "vm"], name="action_attempt_unique_vm")]

    def __str__(self) -> str:
        return f"{self.batch.get_action_display()} {self.vm.name}: {self.get_state_display()}"


class VMExport(models.Model):
    """A VM copied off, as vCenter's events tell it: an OVF / OVA export (the ``VirtualMachine.exportVm`` task)
    or a clone, with where the copy went. The ``exported`` policy judges them against its scope."""

    class Kind(models.TextChoices):
        OVF_EXPORT = "ovf_export", "OVF / OVA export"
        CLONE = "clone", "Clone"

    vm = models.ForeignKey(VirtualMachine, on_delete=models.CASCADE, related_name="exports")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    user = models.CharField(max_length=200, blank=True, help_text="Who ran it, per vCenter.")
    destination_host_moref = models.CharField(max_length=100, blank=True)
    destination_datastore = models.CharField(max_length=255, blank=True)
    clone_name = models.CharField(max_length=255, blank=True)
    clone_moref = models.CharField(max_length=100, blank=True, help_text="The clone, to judge where it runs now.")
    event_key = models.BigIntegerField()
    scan_run = models.ForeignKey(ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "event_key"], name="vm_export_unique_event")]
        indexes = [models.Index(fields=["vm", "-at"], name="vm_export_vm_at_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.vm.name} at {self.at:%Y-%m-%d %H:%M}"
# The prefix of a request's number as people write it (``REQ-000123``), in an annotation or the custom attribute.
REQUEST_NUMBER_PREFIX = "REQ-"
REQUEST_NUMBER_DIGITS = 6


class DeploymentRequest(models.Model):
    """A written request to run a VM: who asks, what for, where, how big, which teams support it, until when.

    It is decided by security admins (``quorum`` approvals, never the requester's own) and fulfilled once linked to
    the VM it produced (``vm``): by a scan that finds the request's number in the VM's ``vmcensus.request`` custom
    attribute or its annotation, or by hand. A retroactive request starts with the VM already linked.
    """

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deployment_requests",
        help_text="The login that filed it; never one of its approvers.",
    )
    requester = models.ForeignKey(
        "portal.Person", on_delete=models.PROTECT, related_name="deployment_requests_made",
        help_text="The person the request is from.",
    )
    owner = models.ForeignKey(
        "portal.Person", on_delete=models.PROTECT, related_name="deployment_requests_owned",
        help_text="Who answers for the VM once it runs.",
    )
    purpose = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="What it runs and why it is needed.")
    environment = models.CharField(max_length=30, choices=Environment.choices)
    data_categories = models.JSONField(default=list, blank=True)
    target_datacenter = models.CharField(max_length=200, blank=True)
    target_cluster = models.CharField(max_length=200, blank=True)
    vcpu = models.PositiveSmallIntegerField()
    memory_gb = models.PositiveIntegerField()
    disk_gb = models.PositiveIntegerField()
    os = models.CharField("operating system", max_length=200)
    backup_engaged = models.BooleanField(default=False)
    backup_contact = models.CharField(max_length=200, blank=True)
    monitoring_engaged = models.BooleanField(default=False)
    monitoring_contact = models.CharField(max_length=200, blank=True)
    patching_engaged = models.BooleanField(default=False)
    patching_contact = models.CharField(max_length=200, blank=True)
    security_engaged = models.BooleanField(default=False)
    security_contact = models.CharField(max_length=200, blank=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="When the VM is to be decommissioned.")
    quorum = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Approvals needed; empty for the DEPLOYMENT_APPROVAL_QUORUM setting."
    )
    state = models.CharField(max_length=20, choices=RequestState.choices, default=RequestState.DRAFT, db_index=True)
    retroactive = models.BooleanField(default=False, help_text="Filed for a VM that already ran without approval.")
    vm = models.ForeignKey(
        VirtualMachine, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployment_requests"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    reminded_on = models.DateField(
        null=True, blank=True, help_text="The day the owner was reminded that the end date is near."
    )
    end_reminded_on = models.DateField(null=True, blank=True, help_text="The day the owner was told it ends today.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "end_date"], name="deployment_request_end_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="deployment_request_ends_after_start",
            ),
            models.CheckConstraint(condition=Q(quorum__isnull=True) | Q(quorum__gte=1),
                                   name="deployment_request_quorum_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.purpose}"

    @property
    def number(self) -> str:
        """What people write and scans look for: ``REQ-000123``."""
        return f"{REQUEST_NUMBER_PREFIX}{self.pk:0{REQUEST_NUMBER_DIGITS}d}" if self.pk else "(new request)"

    @property
    def data_category_labels(self) -> list[str]:
        labels = dict(DataCategory.choices)
        return [labels[value] for value in self.data_categories if value in labels]


class DeploymentApproval(models.Model):
    """One security admin's vote on a request: approve or reject, when, and why. One vote per approver."""

    request = models.ForeignKey(DeploymentRequest, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "approver"], name="deployment_approval_one_vote_each"),
        ]

    def __str__(self) -> str:
        return f"{self.request.number}: {self.get_decision_display()} by {self.approver}"
