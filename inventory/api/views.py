"""API over the inventory: VMs with their history, sources and scan runs (read-only), and deployment requests."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory.api.serializers import (
    DecisionSerializer,
    DeploymentRequestCreateSerializer,
    DeploymentRequestSerializer,
    EmptySerializer,
    LinkVMSerializer,
    ScanRunSerializer,
    SourceSerializer,
    VMChangeSerializer,
    VMSerializer,
)
from inventory.choices import Decision
from inventory.filters import DeploymentRequestFilter, ScanRunFilter, VMFilter
from inventory.selectors import deployment_request_list, scan_run_list, source_list, vm_history, vm_list
from inventory.services.approvals import (
    deployment_request_create,
    deployment_request_decide,
    deployment_request_link_vm,
    deployment_request_submit,
    deployment_request_withdraw,
)
from inventory.views import INVENTORY_ROLES
from inventory.views_requests import REQUEST_ACTION_ROLES, REQUEST_READ_ROLES


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


class DeploymentRequestViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Deployment requests: all of them for compliance officers, security admins, auditors and admins; for a
    manager those filed by or for their part of the organisation. Filtered like the list page (``?state=``,
    ``?mine=true``, ``?q=REQ-000123``). The requester submits and withdraws; security admins (never the requester)
    approve, reject and link the VM. A refusal is a 403 or a 400 naming the field, and changes nothing."""

    allowed_roles = REQUEST_READ_ROLES
    write_roles = REQUEST_ACTION_ROLES
    serializer_class = DeploymentRequestSerializer
    filterset_class = DeploymentRequestFilter
    queryset = deployment_request_list()  # for the schema; requests read ``get_queryset``

    def get_queryset(self):
        return deployment_request_list(user=self.request.user).prefetch_related("approvals__approver")

    def _respond(self, request_id: int, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=request_id)).data, status=status_code)

    @staticmethod
    def _valid(serializer_class, request) -> dict:
        serializer = serializer_class(data=request.data if request.data is not None else {})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=DeploymentRequestCreateSerializer, responses={201: DeploymentRequestSerializer})
    def create(self, request, *args, **kwargs):
        """File a request from the caller's person: a draft, or submitted at once with ``submit``."""
        data = self._valid(DeploymentRequestCreateSerializer, request)
        created = deployment_request_create(user=request.user, **data)
        return self._respond(created.pk, status.HTTP_201_CREATED)

    @extend_schema(request=EmptySerializer, responses=DeploymentRequestSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def submit(self, request, pk=None):
        """The requester sends a draft to the security admins."""
        self._valid(EmptySerializer, request)
        return self._respond(deployment_request_submit(request=self.get_object(), user=request.user).pk)

    @extend_schema(request=EmptySerializer, responses=DeploymentRequestSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def withdraw(self, request, pk=None):
        """The requester takes a draft, submitted, or approved request without a VM back."""
        self._valid(EmptySerializer, request)
        return self._respond(deployment_request_withdraw(request=self.get_object(), user=request.user).pk)

    def _decide(self, request, decision: str) -> Response:
        data = self._valid(DecisionSerializer, request)
        target = self.get_object()
        deployment_request_decide(request=target, user=request.user, decision=decision, **data)
        return self._respond(target.pk)

    @extend_schema(request=DecisionSerializer, responses=DeploymentRequestSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def approve(self, request, pk=None):
        """A security admin's approval; the one that reaches the quorum approves the request."""
        return self._decide(request, Decision.APPROVE)

    @extend_schema(request=DecisionSerializer, responses=DeploymentRequestSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def reject(self, request, pk=None):
        """A security admin's rejection, with its reason in ``comment``; it rejects the request."""
        return self._decide(request, Decision.REJECT)

    @extend_schema(request=LinkVMSerializer, responses=DeploymentRequestSerializer)
    @action(detail=True, methods=["post"], url_path="link-vm", filter_backends=[])
    def link_vm(self, request, pk=None):
        """A security admin links the VM the request produced; an approved request is fulfilled by it."""
        data = self._valid(LinkVMSerializer, request)
        target = self.get_object()
        deployment_request_link_vm(request=target, vm=data["vm"], user=request.user)
        return self._respond(target.pk)
