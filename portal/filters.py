"""Filters for people and the audit trail, shared by pages and the API."""

import django_filters
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from portal.models import AuditEvent, Person
from portal.selectors import person_subtree, person_text_q


@extend_schema_field(OpenApiTypes.INT)
class PersonIdFilter(django_filters.ModelChoiceFilter):
    """A person given by id (typed as an integer in the API schema)."""


class PersonFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Search")
    subtree = PersonIdFilter(
        queryset=Person.objects.all(),
        method="filter_subtree",
        label="Subtree of (person id)",
        help_text="Only this person and everybody below them in the chain of command.",
    )
    department = django_filters.CharFilter(lookup_expr="iexact")
    active = django_filters.BooleanFilter()

    class Meta:
        model = Person
        fields = ["q", "subtree", "department", "active", "parent"]

    def filter_text(self, queryset, name, value):
        return queryset.filter(person_text_q(value))

    def filter_subtree(self, queryset, name, value):
        return queryset.filter(pk__in=person_subtree(person=value).values("pk"))


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(lookup_expr="startswith", label="Action starts with")
    actor = django_filters.CharFilter(field_name="actor_label", lookup_expr="icontains", label="Actor")
    object = django_filters.CharFilter(method="filter_object", label="Object")
    since = django_filters.DateFilter(field_name="at", lookup_expr="date__gte", label="From")
    until = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label="To")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "object", "since", "until"]

    def filter_object(self, queryset, name, value):
        return queryset.filter(Q(object_repr__icontains=value) | Q(object_id=value))
