"""API of attestation, read-only, with the pages' permissions: the compliance roles read every control's tests
and evidence, anybody else those of the controls they own. Tests are recorded on the test page (its evidence
files are a multipart upload, and the API reads JSON only). An evidence download is an attachment with its
stored type and ``nosniff``, like the page's."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action

from compliance.choices import ControlTestStatus
from compliance.models import ControlTest, Evidence
from compliance.selectors import control_tests_for, evidence_for
from compliance.services.attestations import evidence_download_record
from compliance.views_attestation import evidence_response
from portal.choices import ALL_ROLES
from portal.filters import WholeNumberFilter

# The largest id a database key holds: a bigger number in a filter is a 400, not an overflow.
ID_MAX = 2**63 - 1


class ControlTestSerializer(serializers.ModelSerializer):
    control = serializers.CharField(source="control.code", read_only=True)
    owner = serializers.CharField(source="control.owner.email", read_only=True, default=None)
    performed_by = serializers.CharField(source="performed_by.__str__", read_only=True, default=None)
    evidence_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ControlTest
        fields = ["id", "control", "owner", "due_on", "status", "note", "performed_by", "performed_at",
                  "reminded_at", "missed_at", "evidence_count"]
        read_only_fields = fields


class EvidenceSerializer(serializers.ModelSerializer):
    control = serializers.CharField(source="control.code", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by.__str__", read_only=True)
    download = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "control", "test", "name", "version", "content_type", "size", "sha256", "uploaded_by",
                  "uploaded_at", "expires_on", "download"]
        read_only_fields = fields

    def get_download(self, evidence: Evidence) -> str:
        return f"/api/v1/evidence/{evidence.pk}/download/"


class ControlTestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ControlTestStatus.choices)
    control = django_filters.CharFilter(field_name="control__code", label="Control (code)")
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte")
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte")

    class Meta:
        model = ControlTest
        fields = ["status", "control", "due_before", "due_after"]


class EvidenceFilter(django_filters.FilterSet):
    control = django_filters.CharFilter(field_name="control__code", label="Control (code)")
    test = WholeNumberFilter(field_name="test_id", label="Test (id)", min_value=1, max_value=ID_MAX)

    class Meta:
        model = Evidence
        fields = ["control", "test"]


class ControlTestViewSet(viewsets.ReadOnlyModelViewSet):
    """The test calendar by due date (``?status=missed``, ``?control=VMC-20``, ``?due_before=2027-01-31``)."""

    allowed_roles = ALL_ROLES
    serializer_class = ControlTestSerializer
    filterset_class = ControlTestFilter
    queryset = ControlTest.objects.none()  # the model, for the schema; get_queryset scopes it to the caller

    def get_queryset(self):
        return control_tests_for(user=self.request.user)


class EvidenceViewSet(viewsets.ReadOnlyModelViewSet):
    """Evidence files, newest first, with their SHA-256 (``?control=VMC-20``, ``?test=7``)."""

    allowed_roles = ALL_ROLES
    serializer_class = EvidenceSerializer
    filterset_class = EvidenceFilter
    queryset = Evidence.objects.none()  # the model, for the schema; get_queryset scopes it to the caller

    def get_queryset(self):
        return evidence_for(user=self.request.user)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The file itself, as an attachment of its stored type."""
        evidence = self.get_object()
        evidence_download_record(evidence=evidence, user=request.user)
        return evidence_response(evidence)
