"""Shapes of the compliance API: frameworks with their newest version, and requirements with their links."""

from rest_framework import serializers

from compliance.models import CatalogVersion, Framework, Requirement


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
    parent = serializers.CharField(source="parent.citation", read_only=True, default=None)
    nist_800_53 = serializers.SerializerMethodField()

    class Meta:
        model = Requirement
        fields = [
            "id", "framework", "version", "citation", "parent", "kind", "implementation", "title", "text",
            "references", "source_document", "nist_800_53",
        ]

    def get_nist_800_53(self, requirement: Requirement) -> list[str]:
        return [mapping.target.citation for mapping in requirement.mapped_controls]
