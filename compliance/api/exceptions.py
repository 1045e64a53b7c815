"""API of the exceptions (risk acceptance), with the pages' permissions: compliance roles read; compliance
officers, security admins and admins ask (POST); a compliance officer other than the requester decides
(POST .../decide/). A refusal is a 400 or 403 and changes nothing."""

import django_filters
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from compliance.choices import ExceptionStatus
from compliance.models import Control, Requirement, RiskException
from compliance.selectors import exception_list
from compliance.services.exceptions import EXCEPTION_REQUEST_ROLES, exception_decide, exception_request
from compliance.services.texts import STATEMENT_MAX_LENGTH
from portal.api.fields import StrictBooleanField, StrictCharField
from portal.choices import COMPLIANCE_ROLES


class RiskExceptionSerializer(serializers.ModelSerializer):
    framework = serializers.CharField(source="requirement.version.framework.slug", read_only=True, default=None)
    citation = serializers.CharField(source="requirement.citation", read_only=True, default=None)
    control = serializers.CharField(source="control.code", read_only=True, default=None)
    requested_by = serializers.CharField(source="requested_by.__str__", read_only=True)
    decided_by = serializers.CharField(source="decided_by.__str__", read_only=True, default=None)

    class Meta:
        model = RiskException
        fields = ["id", "requirement", "framework", "citation", "control", "status", "reason", "expires_on",
                  "requested_by", "requested_at", "decided_by", "decided_at", "decision_note"]
        read_only_fields = fields


class RiskExceptionWriteSerializer(serializers.Serializer):
    requirement = serializers.PrimaryKeyRelatedField(
        queryset=Requirement.objects.select_related("version__framework"), required=False, default=None,
        help_text="The requirement covered (or give control).",
    )
    control = serializers.SlugRelatedField(
        slug_field="code", queryset=Control.objects.filter(retired_at__isnull=True), required=False, default=None,
        help_text="The code of the control covered (or give requirement).",
    )
    reason = StrictCharField(max_length=STATEMENT_MAX_LENGTH, allow_blank=True)
    expires_on = serializers.DateField()


class DecideSerializer(serializers.Serializer):
    approve = StrictBooleanField()
    note = StrictCharField(max_length=STATEMENT_MAX_LENGTH, allow_blank=True, required=False, default="")


class RiskExceptionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ExceptionStatus.choices)
    framework = django_filters.CharFilter(field_name="requirement__version__framework__slug",
                                          label="Framework (slug)")

    class Meta:
        model = RiskException
        fields = ["status", "framework"]


def _refusals(call):
    try:
        return call()
    except DjangoPermissionDenied as error:
        raise exceptions.PermissionDenied(str(error)) from None


class RiskExceptionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Exceptions, newest first (``?status=approved``, ``?framework=hipaa``). POST
    ``{"requirement": id, "reason": "...", "expires_on": "2027-06-30"}`` asks for one."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = EXCEPTION_REQUEST_ROLES
    serializer_class = RiskExceptionSerializer
    filterset_class = RiskExceptionFilter
    queryset = exception_list()

    @extend_schema(request=RiskExceptionWriteSerializer, responses={201: RiskExceptionSerializer})
    def create(self, request, *args, **kwargs):
        write = RiskExceptionWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        exception = _refusals(lambda: exception_request(user=request.user, **write.validated_data))
        return Response(RiskExceptionSerializer(exception).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DecideSerializer, responses={200: RiskExceptionSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """A compliance officer other than the requester approves (``true``) or rejects (``false``, with a
        note) a requested exception."""
        write = DecideSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        exception = _refusals(lambda: exception_decide(exception=self.get_object(), user=request.user,
                                                       **write.validated_data))
        return Response(RiskExceptionSerializer(exception).data)
