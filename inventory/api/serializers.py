"""Shapes of the inventory API. Sources never carry their password, not even encrypted."""

from rest_framework import serializers

from inventory.choices import DataCategory, Environment
from inventory.models import (
    Baseline,
    BaselineRule,
    DeploymentApproval,
    DeploymentRequest,
    Finding,
    Policy,
    ScanRun,
    Source,
    VirtualMachine,
    VMChange,
)
from inventory.services.approvals import QUORUM_MAX, SIZE_LIMITS, TEXT_LIMITS, request_quorum
from portal.api.fields import StrictCharField
from portal.models import Person


class VMSerializer(serializers.ModelSerializer):
    """A VM; its source, datacenter, cluster and host by name, its lineage (``cloned_from``, ``template``) by id."""

    source = serializers.CharField(source="source.name", read_only=True)
    datacenter = serializers.CharField(source="datacenter.name", read_only=True, default=None, allow_null=True)
    cluster = serializers.CharField(source="cluster.name", read_only=True, default=None, allow_null=True)
    host = serializers.CharField(source="host.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = VirtualMachine
        fields = [
            "id", "name", "instance_uuid", "bios_uuid", "moref", "source", "datacenter", "cluster", "host",
            "power_state", "status", "guest_os", "tools_status", "ip_addresses", "is_template", "sanction", "copied",
            "first_seen", "last_seen", "created_at", "created_by", "cloned_from", "template",
        ]


class VMChangeSerializer(serializers.ModelSerializer):
    """One timeline entry. ``actor`` is who did it per vCenter's events, or the portal user who did it."""

    actor = serializers.SerializerMethodField()

    class Meta:
        model = VMChange
        fields = ["kind", "at", "old", "new", "scan_run", "actor"]

    def get_actor(self, change: VMChange) -> str:
        return change.actor or (change.user.get_username() if change.user else "")


class SourceSerializer(serializers.ModelSerializer):
    """A source's settings and VM counts. The password field is left out on purpose: never add it."""

    vm_count = serializers.IntegerField(read_only=True)
    vms_present = serializers.IntegerField(read_only=True)
    vms_missing = serializers.IntegerField(read_only=True)
    vms_removed = serializers.IntegerField(read_only=True)
    latest_scan = serializers.IntegerField(source="latest_scan_id", read_only=True, allow_null=True)
    latest_scan_status = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Source
        fields = [
            "id", "name", "kind", "host", "port", "username", "use_http", "verify_tls", "vcenter_uuid",
            "missing_scans_before_removed", "enabled", "created_at", "vm_count", "vms_present", "vms_missing",
            "vms_removed", "latest_scan", "latest_scan_status",
        ]


class ScanRunSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ScanRun
        fields = [
            "id", "source", "status", "trigger", "requested_by", "started_at", "finished_at", "observed_at",
            "vms_seen", "vms_total", "discovered", "changed", "unchanged", "missing", "reappeared", "removed",
            "error", "file_name",
        ]


class FindingSerializer(serializers.ModelSerializer):
    """A finding: its VM (id and name), policy, state, the evidence it was opened with and, once resolved, the
    evidence that it cleared."""

    vm_name = serializers.CharField(source="vm.name", read_only=True)
    source = serializers.CharField(source="vm.source.name", read_only=True)
    policy_name = serializers.CharField(source="policy.name", read_only=True)
    assigned_to = serializers.CharField(source="assigned_to.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Finding
        fields = ["id", "kind", "state", "vm", "vm_name", "source", "policy", "policy_name", "evidence", "opened_at",
                  "state_changed_at", "assigned_to", "excepted_until", "exception_reason", "resolved_at",
                  "resolution"]


class FindingExceptSerializer(serializers.Serializer):
    until = serializers.DateField(help_text="The last day of the exception (after today).")
    reason = serializers.CharField(max_length=1000)


class PolicySerializer(serializers.ModelSerializer):
    """A policy. Writing (PUT / PATCH) stores a new version; ``kind`` and ``name`` are fixed."""

    note = serializers.CharField(max_length=300, required=False, write_only=True, allow_blank=True)

    class Meta:
        model = Policy
        fields = ["id", "name", "kind", "enabled", "description", "config", "scope", "actions", "version",
                  "updated_at", "note"]
        read_only_fields = ["id", "name", "kind", "description", "version", "updated_at"]


class BaselineRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = BaselineRule
        fields = ["key", "comparison", "expected", "absent_means", "source"]


class BaselineSerializer(serializers.ModelSerializer):
    rules = BaselineRuleSerializer(many=True, read_only=True)

    class Meta:
        model = Baseline
        fields = ["id", "name", "description", "data_categories", "updated_at", "rules"]
class _NoUnknownFields:
    """Refuses a body carrying a field the endpoint does not take, instead of ignoring it: a client that
    misspelt ``end_date`` learns it from a 400, not from a request with no end date."""

    def validate(self, attrs):
        unknown = sorted(set(getattr(self, "initial_data", {}) or {}) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().validate(attrs)


class DeploymentApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username", read_only=True)

    class Meta:
        model = DeploymentApproval
        fields = ["approver", "decision", "comment", "at"]
        read_only_fields = fields


class DeploymentRequestSerializer(serializers.ModelSerializer):
    """A request as stored, with its number, the names of its people, its votes and the quorum it needs."""

    number = serializers.CharField(read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    requester_name = serializers.CharField(source="requester.name", read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    approvals_count = serializers.IntegerField(read_only=True)
    quorum_needed = serializers.SerializerMethodField()
    approvals = DeploymentApprovalSerializer(many=True, read_only=True)

    class Meta:
        model = DeploymentRequest
        fields = [
            "id", "number", "state", "requested_by", "requester", "requester_name", "owner", "owner_name",
            "purpose", "description", "environment", "data_categories", "target_datacenter", "target_cluster",
            "vcpu", "memory_gb", "disk_gb", "os", "backup_engaged", "backup_contact", "monitoring_engaged",
            "monitoring_contact", "patching_engaged", "patching_contact", "security_engaged", "security_contact",
            "start_date", "end_date", "quorum", "quorum_needed", "approvals_count", "retroactive", "vm",
            "created_at", "submitted_at", "decided_at", "linked_at", "approvals",
        ]
        read_only_fields = fields

    def get_quorum_needed(self, request: DeploymentRequest) -> int:
        return request_quorum(request)


def _text(name: str, *, required: bool = False) -> StrictCharField:
    return StrictCharField(max_length=TEXT_LIMITS[name], required=required, allow_blank=not required,
                           **({} if required else {"default": ""}))


class DeploymentRequestCreateSerializer(_NoUnknownFields, serializers.Serializer):
    """A new request from the caller's person. ``vm`` makes it retroactive (the VM runs already); ``submit``
    sends it to the security admins at once instead of keeping it a draft."""

    owner = serializers.PrimaryKeyRelatedField(queryset=Person.objects.filter(active=True),
                                               help_text="Id of the person who answers for the VM.")
    purpose = _text("purpose", required=True)
    description = _text("description")
    environment = serializers.ChoiceField(choices=Environment.choices)
    data_categories = serializers.ListField(child=serializers.ChoiceField(choices=DataCategory.choices),
                                            required=False, default=list, max_length=len(DataCategory.values))
    target_datacenter = _text("target_datacenter")
    target_cluster = _text("target_cluster")
    vcpu = serializers.IntegerField(min_value=1, max_value=SIZE_LIMITS["vcpu"])
    memory_gb = serializers.IntegerField(min_value=1, max_value=SIZE_LIMITS["memory_gb"])
    disk_gb = serializers.IntegerField(min_value=1, max_value=SIZE_LIMITS["disk_gb"])
    os = _text("os", required=True)
    backup_engaged = serializers.BooleanField(required=False, default=False)
    backup_contact = _text("backup_contact")
    monitoring_engaged = serializers.BooleanField(required=False, default=False)
    monitoring_contact = _text("monitoring_contact")
    patching_engaged = serializers.BooleanField(required=False, default=False)
    patching_contact = _text("patching_contact")
    security_engaged = serializers.BooleanField(required=False, default=False)
    security_contact = _text("security_contact")
    start_date = serializers.DateField()
    end_date = serializers.DateField(required=False, allow_null=True, default=None)
    quorum = serializers.IntegerField(min_value=1, max_value=QUORUM_MAX, required=False, allow_null=True,
                                      default=None, help_text="Approvals needed; empty for the portal's default.")
    vm = serializers.PrimaryKeyRelatedField(queryset=VirtualMachine.objects.all(), required=False, allow_null=True,
                                            default=None, help_text="Id of the VM a retroactive request is for.")
    submit = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("end_date") and attrs["end_date"] < attrs["start_date"]:
            raise serializers.ValidationError({"end_date": ["Ends before it starts."]})
        return attrs


class DecisionSerializer(_NoUnknownFields, serializers.Serializer):
    comment = StrictCharField(max_length=TEXT_LIMITS["description"], required=False, allow_blank=True, default="",
                              help_text="Why; required to reject (the requester reads it).")


class LinkVMSerializer(_NoUnknownFields, serializers.Serializer):
    vm = serializers.PrimaryKeyRelatedField(queryset=VirtualMachine.objects.all(), help_text="Id of the VM.")


class EmptySerializer(_NoUnknownFields, serializers.Serializer):
    """An action that takes no body (or an empty object)."""
