"""API over the inventory: VMs with their history, sources and scan runs (read-only); deployment requests; policies,
baselines and findings, which security admins change as on the pages."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory.api.serializers import (
    BaselineSerializer,
    DecisionSerializer,
    DeploymentRequestCreateSerializer,
    DeploymentRequestSerializer,
    EmptySerializer,
    FindingExceptSerializer,
    FindingSerializer,
    LinkVMSerializer,
    PolicySerializer,
    ScanRunSerializer,
    SourceSerializer,
    VMChangeSerializer,
    VMSerializer,
)
from inventory.choices import Decision
from inventory.filters import DeploymentRequestFilter, FindingFilter, ScanRunFilter, VMFilter
from inventory.findings_views import SECURITY_ROLES
from inventory.models import Baseline, Finding, Policy
from inventory.selectors import (
    deployment_request_list,
    finding_list,
    scan_run_list,
    source_list,
    vm_history,
    vm_list,
)
from inventory.services.approvals import (
    deployment_request_create,
    deployment_request_decide,
    deployment_request_link_vm,
    deployment_request_submit,
    deployment_request_withdraw,
)
from inventory.services.findings import findings_acknowledge, findings_except
from inventory.services.policies import policy_update
from inventory.views import INVENTORY_ROLES
from inventory.views_requests import REQUEST_ACTION_ROLES, REQUEST_READ_ROLES
from portal.choices import ALL_ROLES, COMPLIANCE_ROLES


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


def _service_errors(call):
    """Run a service call; its refusals become DRF's 400 / 403 with the service's own messages."""
    try:
        return call()
    except DjangoPermissionDenied as error:
        raise exceptions.PermissionDenied(str(error) or None) from None
    except DjangoValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
        raise exceptions.ValidationError(detail) from None


class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    """Findings, filtered like the queue (``?kind=``, ``?state=unresolved``, ``?source=``, ``?min_age=``); managers
    read their subtree's. Security admins acknowledge and except them."""

    allowed_roles = ALL_ROLES
    write_roles = SECURITY_ROLES
    serializer_class = FindingSerializer
    filterset_class = FindingFilter
    queryset = Finding.objects.none()  # for the schema; requests read ``get_queryset``

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Finding.objects.none()
        return finding_list(user=self.request.user)

    def _respond(self, finding: Finding) -> Response:
        return Response(FindingSerializer(self.get_queryset().get(pk=finding.pk)).data)

    @extend_schema(request=None, responses=FindingSerializer)
    @action(detail=True, methods=["post"], filter_backends=[])
    def acknowledge(self, request, pk=None):
        """Open → acknowledged (other states are left as they are)."""
        finding = self.get_object()
        _service_errors(lambda: findings_acknowledge(ids=[finding.pk], user=request.user))
        return self._respond(finding)

    @extend_schema(request=FindingExceptSerializer, responses=FindingSerializer)
    @action(detail=True, methods=["post"], filter_backends=[], url_path="except")
    def except_(self, request, pk=None):
        """Excepted until a date, for a reason, approved by the caller; reopened after that date."""
        finding = self.get_object()
        serializer = FindingExceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _service_errors(lambda: findings_except(ids=[finding.pk], user=request.user, **serializer.validated_data))
        return self._respond(finding)


class PolicyViewSet(mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Policies; a security admin's PUT / PATCH is a new version (validated per kind: 400 by field)."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = SECURITY_ROLES
    serializer_class = PolicySerializer
    queryset = Policy.objects.order_by("kind", "name")

    def update(self, request, *args, partial=False, **kwargs):
        policy = self.get_object()
        serializer = self.get_serializer(policy, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = {"enabled": policy.enabled, "config": policy.config, "scope": policy.scope,
                "actions": policy.actions, "note": "", **serializer.validated_data}
        updated = _service_errors(lambda: policy_update(policy=policy, user=request.user, **data))
        return Response(PolicySerializer(updated).data)


class BaselineViewSet(viewsets.ReadOnlyModelViewSet):
    """Hardening baselines with their rules (imported as files on the baselines page)."""

    allowed_roles = COMPLIANCE_ROLES
    serializer_class = BaselineSerializer
    queryset = Baseline.objects.prefetch_related("rules").order_by("name")
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
