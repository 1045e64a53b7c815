"""Filters for people and the audit trail, shared by pages and the API."""

import datetime

import django_filters
from django import forms
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from portal.models import AuditEvent, Person
from portal.selectors import person_subtree, person_text_q


class _TrueOrFalseField(forms.NullBooleanField):
    """``true`` / ``false`` (or 1 / 0), empty for "any"; anything else is an error, not "any"."""

    widget = forms.TextInput
    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        text = str(value if value is not None else "").strip().lower()
        if text == "":
            return None
        if text not in self.VALUES:
            raise forms.ValidationError(f"{value!r} is not true or false.", code="invalid")
        return self.VALUES[text]

    def validate(self, value):
        pass


@extend_schema_field(OpenApiTypes.BOOL)
class TrueOrFalseFilter(django_filters.BooleanFilter):
    """A yes / no filter that refuses a value it does not know instead of ignoring it (django-filter's does)."""

    field_class = _TrueOrFalseField


@extend_schema_field(OpenApiTypes.INT)
class WholeNumberFilter(django_filters.NumberFilter):
    """A whole number (a version, a count): 0.5 is refused, as the API schema says."""

    field_class = forms.IntegerField


class _InstantField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date and time whose UTC offset exists on Earth (PostgreSQL refuses one past 15:59, and a
    schema-valid "+19:54" must get a 400, not a 500) and whose year a database can store once in UTC."""

    EARTH_OFFSET = datetime.timedelta(hours=14)

    def to_python(self, value):
        instant = super().to_python(value)
        if instant is None:
            return None
        offset = instant.utcoffset()
        if (offset is not None and abs(offset) > self.EARTH_OFFSET) or not 1 < instant.year < 9999:
            raise forms.ValidationError(f"{value!r} is not a time any clock shows: use a year from 2 to 9998 and "
                                        "a UTC offset of at most 14 hours.", code="invalid")
        return instant


@extend_schema_field(OpenApiTypes.DATETIME)
class InstantFilter(django_filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` refusing offsets and years no clock has (see ``_InstantField``)."""

    field_class = _InstantField


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
    active = TrueOrFalseFilter()

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
