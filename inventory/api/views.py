"""Read-only API over the inventory: VMs with their history, sources and scan runs."""

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action

from inventory.api.serializers import ScanRunSerializer, SourceSerializer, VMChangeSerializer, VMSerializer
from inventory.filters import ScanRunFilter, VMFilter
from inventory.selectors import scan_run_list, source_list, vm_history, vm_list
from inventory.views import INVENTORY_ROLES


class VMViewSet(viewsets.ReadOnlyModelViewSet):
    """VMs, filtered like the VM list page: ``?source=NAME``, ``?cluster=ID``, ``?q=words``, ``?ordering=-host``."""

    allowed_roles = INVENTORY_ROLES
    serializer_class = VMSerializer
    filterset_class = VMFilter
    queryset = vm_list()  # for the schema; requests read ``get_queryset``

    def get_queryset(self):
        """Managers read the VMs of their part of the organisation; the other roles the whole estate."""
        return vm_list(user=self.request.user)

    @extend_schema(responses=VMChangeSerializer(many=True), filters=False)
    @action(detail=True, filter_backends=[], serializer_class=VMChangeSerializer)
    def history(self, request, pk=None):
        """The VM's timeline, newest first, paginated like every list."""
        page = self.paginate_queryset(vm_history(vm=self.get_object()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class SourceViewSet(viewsets.ReadOnlyModelViewSet):
    """Sources with their VM counts by status and their latest scan. Passwords are never returned."""

    allowed_roles = INVENTORY_ROLES
    serializer_class = SourceSerializer
    queryset = source_list()


class ScanRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Scan runs, newest first; ``?source=NAME`` and ``?status=`` narrow them."""

    allowed_roles = INVENTORY_ROLES
    serializer_class = ScanRunSerializer
    filterset_class = ScanRunFilter
    queryset = scan_run_list()
