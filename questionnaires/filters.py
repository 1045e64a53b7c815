"""Filters of the reconciliation items, shared by the campaign's reconciliation page, its exports and the API.

Filters narrow what ``reconciliation_items_visible_to`` already allows: naming a person, a VM or a campaign the
caller cannot read gives no item, never somebody else's. Ids are not looked up, so a filter tells nothing of
what exists outside the caller's reach.
"""

import django_filters
from django import forms
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema_field

from questionnaires.choices import ReconciliationState, Resolution
from questionnaires.selectors import reconciliation_items_in_part

# "open": waiting for somebody's answer; "answered": somebody resolved it (matched items are neither).
ANSWER_STATUSES = (("open", "Waiting for an answer"), ("answered", "Answered"))
# The list's sort orders: (field, name in the URL).
ORDERINGS = (
    ("state", "state"),
    ("sort_name", "name"),
    ("declarer__name", "declarer"),
    ("routed_to__name", "routed_to"),
    ("resolved_at", "resolved_at"),
)
# Without a chosen order: what waits for an answer first, then what was answered, then the matched; by state within
# each, then as reconciliation found them (a person's declarations in their order, then the VMs nobody declared).
DEFAULT_ORDERING = ("sort_rank", "state", "id")
# Ids are 64-bit: a larger number names nothing, and is refused as a bad filter rather than sent to the database.
MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """An object by id, a whole number from 1 (a bad one is a 400 naming the filter)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class _OrderingFilter(django_filters.OrderingFilter):
    """Sorts by the chosen field, then by id, so that pages never repeat or skip an item."""

    def filter(self, qs, value):
        ordered = super().filter(qs, value)
        return ordered.order_by(*ordered.query.order_by, "id") if value else qs


class ReconciliationItemFilter(django_filters.FilterSet):
    campaign = IdFilter(field_name="campaign_id", label="Campaign (id)")
    state = django_filters.ChoiceFilter(choices=ReconciliationState.choices)
    status = django_filters.ChoiceFilter(
        choices=ANSWER_STATUSES, method="filter_status", label="Waiting for an answer, or answered"
    )
    subtree = IdFilter(
        method="filter_subtree", label="Person (id): the items of their part of the organisation"
    )
    vm = IdFilter(field_name="vm_id", label="Inventory VM (id)")
    resolution = django_filters.ChoiceFilter(choices=Resolution.choices)
    routed_to = IdFilter(field_name="routed_to_id", label="Routed to (person id)")
    q = django_filters.CharFilter(method="filter_text", label="Words of the declared or the inventory VM name")
    ordering = _OrderingFilter(fields=ORDERINGS, label="Sort by (a leading - reverses)")

    def filter_queryset(self, queryset):
        # Aliases, not annotations, and only when the order needs them: the count of the list stays a plain COUNT,
        # and the default order sorts the items' own columns without joining what they name.
        ordering = self.form.cleaned_data.get("ordering") or []
        if any(value.lstrip("-") == "name" for value in ordering):
            queryset = queryset.alias(sort_name=Coalesce("declared_vm__name", "vm__name"))
        if not ordering:
            queryset = queryset.alias(sort_rank=Case(
                When(state=ReconciliationState.MATCHED, resolution="", then=Value(2)),
                When(resolution="", then=Value(0)),
                default=Value(1),
            )).order_by(*DEFAULT_ORDERING)
        return super().filter_queryset(queryset)

    def filter_status(self, queryset, name, value):
        if value == "answered":
            return queryset.exclude(resolution="")
        return queryset.filter(resolution="").exclude(state=ReconciliationState.MATCHED)

    def filter_subtree(self, queryset, name, value):
        return reconciliation_items_in_part(queryset, person=value)

    def filter_text(self, queryset, name, value):
        for word in value.split():
            queryset = queryset.filter(Q(declared_vm__name__icontains=word) | Q(vm__name__icontains=word))
        return queryset
