"""Shapes of the compliance API: frameworks with their newest version, and requirements with their links."""

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from compliance.models import CatalogVersion, Control, ControlEvaluation, ControlMapping, Framework, Requirement


class CatalogVersionSerializer(serializers.ModelSerializer):
    """A loaded catalog file: its number, when, the file's SHA-256 and the documents its rows cite."""

    requirement_count = serializers.IntegerField(read_only=True)
    mapping_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = CatalogVersion
        fields = [
            "number", "loaded_at", "file_name", "content_hash", "source_documents", "notes", "mapping_source",
            "requirement_count", "mapping_count",
        ]


class FrameworkSerializer(serializers.ModelSerializer):
    latest_version = CatalogVersionSerializer(source="latest", read_only=True, allow_null=True)

    class Meta:
        model = Framework
        fields = ["slug", "name", "kind", "description", "latest_version"]


class RequirementSerializer(serializers.ModelSerializer):
    """A requirement; ``implementation`` is HIPAA's required or addressable (null for anything but an
    implementation specification), ``nist_800_53`` the 800-53 controls it maps to."""

    framework = serializers.CharField(source="version.framework.slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    parent = serializers.CharField(source="parent.citation", read_only=True, default=None, allow_null=True)
    nist_800_53 = serializers.SerializerMethodField()

    class Meta:
        model = Requirement
        fields = [
            "id", "framework", "version", "citation", "parent", "kind", "implementation", "title", "text",
            "references", "source_document", "nist_800_53",
        ]

    def get_nist_800_53(self, requirement: Requirement) -> list[str]:
        return [mapping.target.citation for mapping in requirement.mapped_controls]


class ControlMappingSerializer(serializers.ModelSerializer):
    """A control's link to a requirement: an 800-53 control (``related``) or a regulation's requirement itself
    (``direct``), by framework slug and citation."""

    control = serializers.CharField(source="control.code", read_only=True)
    framework = serializers.CharField(source="framework.slug", read_only=True)
    title = serializers.CharField(source="target.title", read_only=True)
    catalog_version = serializers.IntegerField(source="target.version.number", read_only=True)

    class Meta:
        model = ControlMapping
        fields = ["id", "control", "framework", "citation", "title", "relationship", "catalog_version"]


class EvaluationBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ControlEvaluation
        fields = ["id", "scope", "status", "value", "threshold", "summary", "evaluated_at"]


class ControlSerializer(serializers.ModelSerializer):
    """A control of the library; ``status`` holds its newest evaluation per scope (estate, hipaa, sox, glba),
    ``mappings`` what it maps to."""

    owner = serializers.SerializerMethodField()
    mappings = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = Control
        fields = [
            "code", "title", "description", "owner_role", "owner", "frequency", "metric", "threshold", "parameters",
            "test_procedure", "evidence", "version", "definition_hash", "loaded_at", "retired_at", "mappings",
            "status",
        ]

    @extend_schema_field(inline_serializer("ControlOwner", {"id": serializers.IntegerField(),
                                                            "name": serializers.CharField(),
                                                            "email": serializers.EmailField()}, allow_null=True))
    def get_owner(self, control: Control) -> dict | None:
        owner = control.owner
        return {"id": owner.pk, "name": owner.name, "email": owner.email} if owner else None

    @extend_schema_field(inline_serializer("ControlMappingBrief", {
        "framework": serializers.CharField(), "citation": serializers.CharField(),
        "relationship": serializers.CharField()}, many=True))
    def get_mappings(self, control: Control) -> list[dict]:
        return [{"framework": m.framework.slug, "citation": m.citation, "relationship": m.relationship}
                for m in control.mapping_list]

    @extend_schema_field(serializers.DictField(child=EvaluationBriefSerializer()))
    def get_status(self, control: Control) -> dict:
        return {scope: EvaluationBriefSerializer(evaluation).data for scope, evaluation in control.latest.items()}


class ControlEvaluationSerializer(serializers.ModelSerializer):
    """One stored evaluation with its inputs: each query's description, parameters, row count and the SHA-256 of
    its rows."""

    control = serializers.CharField(source="control.code", read_only=True)
    trigger = serializers.CharField(source="run.trigger", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ControlEvaluation
        fields = [
            "id", "control", "control_version", "basis", "scope", "evaluated_at", "status", "metric", "value",
            "threshold", "parameters", "numerator", "denominator", "summary", "details", "inputs", "trigger",
        ]
