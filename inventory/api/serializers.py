"""Shapes of the inventory API. Sources never carry their password, not even encrypted."""

from rest_framework import serializers

from inventory.models import Baseline, BaselineRule, Finding, Policy, ScanRun, Source, VirtualMachine, VMChange


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
