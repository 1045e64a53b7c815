"""Read-only API over people and the audit trail, plus the schema and its docs."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import viewsets

from portal.api.permissions import RolePermission
from portal.api.serializers import AuditEventSerializer, PersonSerializer
from portal.choices import ALL_ROLES, OVERSIGHT_ROLES
from portal.filters import AuditEventFilter, PersonFilter
from portal.selectors import audit_event_list, person_list


class PersonViewSet(viewsets.ReadOnlyModelViewSet):
    """People and the chain of command. ``?subtree=ID`` limits to one person's subtree."""

    allowed_roles = ALL_ROLES
    serializer_class = PersonSerializer
    filterset_class = PersonFilter
    queryset = person_list(active_only=False).order_by("name", "id")


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    allowed_roles = OVERSIGHT_ROLES
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    queryset = audit_event_list()
    lookup_field = "sequence"


class SchemaView(SpectacularAPIView):
    allowed_roles = ALL_ROLES
    permission_classes = [RolePermission]


@method_decorator(csp_update({"style-src": [UNSAFE_INLINE]}), name="dispatch")
class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI. The split view serves its start-up script as a file (the policy allows no inline script);
    its page still has an inline <style> block, and Swagger UI styles itself at run time, so this page alone
    allows inline styles."""

    allowed_roles = ALL_ROLES
    permission_classes = [RolePermission]
