"""API of the statement of applicability and the HIPAA addressable decisions, with the pages' permissions:
every compliance role reads, compliance officers and admins decide (a POST records the requirement's decision,
replacing the one before; the audit trail keeps it). A refusal is a 400 naming the field and changes nothing."""

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response

from compliance.choices import DecisionOutcome, Implementation, RequirementKind
from compliance.models import AddressableDecision, Applicability, Requirement
from compliance.services.applicability import APPLICABILITY_EDIT_ROLES, addressable_decision_set, applicability_set
from compliance.services.texts import STATEMENT_MAX_LENGTH
from portal.api.fields import StrictBooleanField, StrictCharField
from portal.choices import COMPLIANCE_ROLES
from portal.filters import TrueOrFalseFilter


class ApplicabilitySerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="requirement.version.framework.slug", read_only=True)
    version = serializers.IntegerField(source="requirement.version.number", read_only=True)
    citation = serializers.CharField(source="requirement.citation", read_only=True)
    decided_by = serializers.CharField(source="decided_by.__str__", read_only=True)

    class Meta:
        model = Applicability
        fields = ["id", "requirement", "framework", "version", "citation", "applicable", "justification",
                  "decided_by", "decided_at"]
        read_only_fields = fields


class ApplicabilityWriteSerializer(serializers.Serializer):
    requirement = serializers.PrimaryKeyRelatedField(queryset=Requirement.objects.select_related("version__framework"))
    applicable = StrictBooleanField()
    justification = StrictCharField(required=False, allow_blank=True, max_length=STATEMENT_MAX_LENGTH, default="")


class ApplicabilityFilter(django_filters.FilterSet):
    framework = django_filters.CharFilter(field_name="requirement__version__framework__slug", label="Framework (slug)")
    applicable = TrueOrFalseFilter()

    class Meta:
        model = Applicability
        fields = ["framework", "applicable"]


def _decide(call):
    try:
        return call()
    except DjangoPermissionDenied as error:
        raise exceptions.PermissionDenied(str(error)) from None


class ApplicabilityViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The statement of applicability, one row per decided requirement (``?framework=hipaa``,
    ``?applicable=false``). POST ``{"requirement": id, "applicable": false, "justification": "..."}`` records a
    requirement's decision; not applicable needs a justification."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = APPLICABILITY_EDIT_ROLES
    serializer_class = ApplicabilitySerializer
    filterset_class = ApplicabilityFilter
    queryset = Applicability.objects.select_related("requirement__version__framework", "decided_by").order_by(
        "requirement__version__framework__slug", "requirement__order"
    )

    @extend_schema(request=ApplicabilityWriteSerializer, responses={201: ApplicabilitySerializer})
    def create(self, request, *args, **kwargs):
        write = ApplicabilityWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        row = _decide(lambda: applicability_set(user=request.user, **write.validated_data))
        return Response(ApplicabilitySerializer(row).data, status=status.HTTP_201_CREATED)


class AddressableDecisionSerializer(serializers.ModelSerializer):
    citation = serializers.CharField(source="requirement.citation", read_only=True)
    title = serializers.CharField(source="requirement.title", read_only=True)
    decided_by = serializers.CharField(source="decided_by.__str__", read_only=True)

    class Meta:
        model = AddressableDecision
        fields = ["id", "requirement", "citation", "title", "outcome", "alternative_measure", "rationale",
                  "decided_by", "decided_at"]
        read_only_fields = fields


class AddressableDecisionWriteSerializer(serializers.Serializer):
    requirement = serializers.PrimaryKeyRelatedField(
        queryset=Requirement.objects.filter(
            kind=RequirementKind.IMPLEMENTATION_SPECIFICATION, implementation=Implementation.ADDRESSABLE
        ),
        help_text="An addressable HIPAA implementation specification.",
    )
    outcome = serializers.ChoiceField(choices=DecisionOutcome.choices)
    alternative_measure = StrictCharField(required=False, allow_blank=True, max_length=STATEMENT_MAX_LENGTH,
                                          default="", help_text="Required for an alternative.")
    rationale = StrictCharField(required=False, allow_blank=True, max_length=STATEMENT_MAX_LENGTH, default="",
                                help_text="Required for not reasonable and appropriate.")


class AddressableDecisionFilter(django_filters.FilterSet):
    outcome = django_filters.ChoiceFilter(choices=DecisionOutcome.choices)

    class Meta:
        model = AddressableDecision
        fields = ["outcome"]


class AddressableDecisionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """The 45 CFR 164.306(d)(3) decisions on HIPAA addressable specifications (``?outcome=alternative``). POST
    ``{"requirement": id, "outcome": "alternative", "alternative_measure": "..."}`` records one."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = APPLICABILITY_EDIT_ROLES
    serializer_class = AddressableDecisionSerializer
    filterset_class = AddressableDecisionFilter
    queryset = AddressableDecision.objects.select_related("requirement", "decided_by").order_by("requirement__order")

    @extend_schema(request=AddressableDecisionWriteSerializer, responses={201: AddressableDecisionSerializer})
    def create(self, request, *args, **kwargs):
        write = AddressableDecisionWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        row = _decide(lambda: addressable_decision_set(user=request.user, **write.validated_data))
        return Response(AddressableDecisionSerializer(row).data, status=status.HTTP_201_CREATED)
