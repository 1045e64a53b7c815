"""Filters for VMs and scan runs, shared by the pages and the API (the same query string works in both).

A source is given by its name (``?source=vcenter-prod``): names are unique and
what people type. Datacenters, clusters and hosts are given by id: their names
are unique only within one source (two vCenters may both have a "Cluster01"),
and the list page offers them as selects, so nobody types the id.
"""

import datetime

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from inventory.choices import (
    Environment,
    FindingState,
    PolicyKind,
    PowerState,
    RequestState,
    Sanction,
    ScanStatus,
    VMStatus,
)
from inventory.models import Cluster, Datacenter, DeploymentRequest, Finding, Host, ScanRun, VirtualMachine
from inventory.services.approvals import request_number_parse
from portal.filters import PersonIdFilter, TrueOrFalseFilter
from portal.models import Person


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.ModelChoiceFilter):
    """An object given by id (typed as an integer in the API schema)."""


class StableOrderingFilter(django_filters.OrderingFilter):
    """Orders as asked, then by id, so that pages never repeat or skip rows that tie."""

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        if value:
            qs = qs.order_by(*qs.query.order_by, "id")
        return qs


class VMFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__name", label="Source (name)")
    datacenter = IdFilter(queryset=Datacenter.objects.all(), label="Datacenter (id)")
    cluster = IdFilter(queryset=Cluster.objects.all(), label="Cluster (id)")
    host = IdFilter(queryset=Host.objects.all(), label="Host (id)")
    power_state = django_filters.ChoiceFilter(choices=PowerState.choices)
    status = django_filters.ChoiceFilter(choices=VMStatus.choices)
    guest_os = django_filters.CharFilter(lookup_expr="icontains", label="Guest OS contains")
    tools_status = django_filters.CharFilter(label="VMware Tools status")
    sanction = django_filters.ChoiceFilter(choices=Sanction.choices)
    copied = TrueOrFalseFilter(help_text="Shares its BIOS UUID with another live VM.")
    q = django_filters.CharFilter(
        method="filter_text", label="Search",
        help_text="Every word must appear in the name, an IP address, the instance or BIOS UUID, the moref "
        "(exactly) or the annotation.",
    )
    ordering = StableOrderingFilter(
        fields=(
            ("name", "name"), ("power_state", "power_state"), ("status", "status"), ("last_seen", "last_seen"),
            ("first_seen", "first_seen"), ("host__name", "host"), ("cluster__name", "cluster"),
            ("created_at", "created_at"),
        ),
        help_text="A field to sort by, '-' first for descending: name, power_state, status, last_seen, "
        "first_seen, host, cluster, created_at.",
    )

    class Meta:
        model = VirtualMachine
        fields = [
            "source", "datacenter", "cluster", "host", "power_state", "status", "guest_os", "tools_status",
            "sanction", "copied", "q",
        ]

    def filter_text(self, queryset, name, value):
        for word in value.split():
            queryset = queryset.filter(
                Q(name__icontains=word) | Q(ip_addresses__icontains=word) | Q(instance_uuid__icontains=word)
                | Q(bios_uuid__icontains=word) | Q(moref__iexact=word) | Q(annotation__icontains=word)
            )
        return queryset


class ScanRunFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__name", label="Source (name)")
    status = django_filters.ChoiceFilter(choices=ScanStatus.choices)

    class Meta:
        model = ScanRun
        fields = ["source", "status"]


class FindingFilter(django_filters.FilterSet):
    """The findings queue's filters: kind, state (``unresolved`` for open, acknowledged and excepted), source,
    minimum age in days, and who it is assigned to."""

    kind = django_filters.ChoiceFilter(choices=PolicyKind.choices)
    state = django_filters.ChoiceFilter(
        choices=[("unresolved", "Unresolved"), *FindingState.choices], method="filter_state")
    source = django_filters.CharFilter(field_name="vm__source__name", label="Source (name)")
    min_age = django_filters.NumberFilter(method="filter_min_age", label="Open for at least (days)", min_value=0)
    assigned = django_filters.NumberFilter(field_name="assigned_to_id", label="Assigned to (person id)")

    class Meta:
        model = Finding
        fields = ["kind", "state", "source", "min_age", "assigned"]

    def filter_state(self, queryset, name, value):
        if value == "unresolved":
            return queryset.exclude(state=FindingState.RESOLVED)
        return queryset.filter(state=value)

    def filter_min_age(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(opened_at__lte=timezone.now() - datetime.timedelta(days=min(int(value), 36500)))
class DeploymentRequestFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=RequestState.choices)
    environment = django_filters.ChoiceFilter(choices=Environment.choices)
    owner = PersonIdFilter(queryset=Person.objects.all(), label="Owner (person id)")
    mine = TrueOrFalseFilter(method="filter_mine", help_text="Only the requests you filed (true) or the others.")
    retroactive = TrueOrFalseFilter(help_text="Filed for a VM that already ran.")
    q = django_filters.CharFilter(
        method="filter_text", label="Search",
        help_text="A request number (REQ-000123), or words that must all appear in the purpose, the operating "
        "system, the requester's or the owner's name.",
    )
    ordering = StableOrderingFilter(
        fields=(("created_at", "created_at"), ("submitted_at", "submitted_at"), ("end_date", "end_date"),
                ("state", "state")),
        help_text="created_at, submitted_at, end_date or state, '-' first for descending.",
    )

    class Meta:
        model = DeploymentRequest
        fields = ["state", "environment", "owner", "mine", "retroactive", "q"]

    def filter_mine(self, queryset, name, value):
        user = self.request.user if self.request is not None else None
        if user is None:
            return queryset.none()
        return queryset.filter(requested_by=user) if value else queryset.exclude(requested_by=user)

    def filter_text(self, queryset, name, value):
        number = request_number_parse(value)
        if number is not None:
            return queryset.filter(pk=number)
        for word in value.split():
            queryset = queryset.filter(
                Q(purpose__icontains=word) | Q(os__icontains=word) | Q(requester__name__icontains=word)
                | Q(owner__name__icontains=word)
            )
        return queryset
