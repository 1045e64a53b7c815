"""Read-only API over people and the audit trail, plus the schema and its docs."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
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


class DocsView(SpectacularSwaggerView):
    allowed_roles = ALL_ROLES
    permission_classes = [RolePermission]
