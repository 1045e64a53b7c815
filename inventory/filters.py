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

from inventory.choices import FindingState, PolicyKind, PowerState, Sanction, ScanStatus, VMStatus
from inventory.models import Cluster, Datacenter, Finding, Host, ScanRun, VirtualMachine
from portal.filters import TrueOrFalseFilter


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
