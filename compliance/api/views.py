"""Read-only API over the compliance catalogs: frameworks and their requirements (``?framework=hipaa``)."""

from django.http import Http404
from rest_framework import viewsets

from compliance.api.serializers import FrameworkSerializer, RequirementSerializer
from compliance.filters import RequirementFilter
from compliance.models import Framework
from compliance.selectors import framework_list, requirement_list
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
