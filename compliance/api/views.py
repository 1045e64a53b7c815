"""Read-only API over compliance: frameworks and their requirements (``?framework=hipaa``), the control library,
its mappings and its stored evaluations."""

from django.http import Http404
from rest_framework import viewsets

from compliance.api.serializers import (
    ControlEvaluationSerializer,
    ControlMappingSerializer,
    ControlSerializer,
    FrameworkSerializer,
    RequirementSerializer,
)
from compliance.filters import ControlEvaluationFilter, ControlMappingFilter, RequirementFilter
from compliance.models import Control, Framework
from compliance.selectors import (
    control_list,
    control_mapping_list,
    evaluation_list,
    framework_list,
    requirement_list,
)
from portal.choices import COMPLIANCE_ROLES


class FrameworkViewSet(viewsets.ReadOnlyModelViewSet):
    """HIPAA, GLBA, SOX and NIST SP 800-53, each with its newest catalog version, by slug."""

    allowed_roles = COMPLIANCE_ROLES
    serializer_class = FrameworkSerializer
    lookup_field = "slug"
    pagination_class = None  # four frameworks: one page
    queryset = Framework.objects.none()  # the model, for the schema; get_queryset reads the frameworks

    def get_queryset(self):
        return framework_list()

    def get_object(self):
        for framework in self.get_queryset():
            if framework.slug == self.kwargs["slug"]:
                self.check_object_permissions(self.request, framework)
                return framework
        raise Http404


class RequirementViewSet(viewsets.ReadOnlyModelViewSet):
    """Requirements of every framework's newest version in tree order; ``?framework=hipaa``, ``?version=1``,
    ``?kind=``, ``?implementation=required``, ``?maps_to=AC-2``, ``?q=words``."""

    allowed_roles = COMPLIANCE_ROLES
    serializer_class = RequirementSerializer
    filterset_class = RequirementFilter
    queryset = requirement_list(latest_only=False)


class ControlViewSet(viewsets.ReadOnlyModelViewSet):
    """The virtualization control library by code (``VMC-01``), each with its newest status per scope and its
    mappings; retired controls are left out."""

    allowed_roles = COMPLIANCE_ROLES
    serializer_class = ControlSerializer
    lookup_field = "code"
    lookup_value_regex = "[A-Za-z0-9-]+"
    queryset = Control.objects.none()  # the model, for the schema; get_queryset reads the library

    def get_queryset(self):
        return control_list()

    def get_object(self):
        for control in self.get_queryset():
            if control.code == self.kwargs["code"]:
                self.check_object_permissions(self.request, control)
                return control
        raise Http404


class ControlMappingViewSet(viewsets.ReadOnlyModelViewSet):
    """Every control's links to requirements; ``?control=VMC-01``, ``?framework=hipaa``."""

    allowed_roles = COMPLIANCE_ROLES
    serializer_class = ControlMappingSerializer
    filterset_class = ControlMappingFilter
    queryset = control_mapping_list()


class ControlEvaluationViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored evaluations, newest first, with their inputs; ``?control=VMC-01``, ``?scope=hipaa``,
    ``?status=deficient``, ``?evaluated_before=`` / ``?evaluated_after=`` (ISO 8601)."""

    allowed_roles = COMPLIANCE_ROLES
    serializer_class = ControlEvaluationSerializer
    filterset_class = ControlEvaluationFilter
    queryset = evaluation_list()
