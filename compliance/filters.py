"""Filters for requirements, shared by the API and the pages (the same query string works in both).

A framework is given by its slug (``?framework=hipaa``), a version by its number; without ``version`` only
each framework's newest version is listed.
"""

import django_filters
from django.db.models import Q

from compliance.choices import EvaluationStatus, Implementation, RequirementKind, Scope
from compliance.models import ControlEvaluation, ControlMapping, Requirement
from compliance.selectors import latest_versions
from portal.filters import InstantFilter, WholeNumberFilter


class RequirementFilter(django_filters.FilterSet):
    framework = django_filters.CharFilter(field_name="version__framework__slug", label="Framework (slug)")
    version = WholeNumberFilter(
        field_name="version__number", label="Version number", help_text="Without it, each framework's newest."
    )
    kind = django_filters.ChoiceFilter(choices=RequirementKind.choices)
    implementation = django_filters.ChoiceFilter(
        choices=Implementation.choices, help_text="HIPAA implementation specifications: required or addressable."
    )
    citation = django_filters.CharFilter(help_text="Exactly as written, e.g. 164.308(a)(1)(ii)(A).")
    maps_to = django_filters.CharFilter(
        field_name="mappings__target__citation", distinct=True, label="Maps to 800-53 control",
        help_text="An 800-53 control ID, e.g. AC-2.",
    )
    q = django_filters.CharFilter(method="filter_text", label="Search", help_text="Citation or title contains.")

    class Meta:
        model = Requirement
        fields = ["framework", "version", "kind", "implementation", "citation", "maps_to", "q"]

    def filter_text(self, queryset, name, value):
        return queryset.filter(Q(citation__icontains=value) | Q(title__icontains=value))

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("version") is None:
            queryset = queryset.filter(version__in=latest_versions())
        return super().filter_queryset(queryset)


class ControlMappingFilter(django_filters.FilterSet):
    control = django_filters.CharFilter(field_name="control__code", label="Control code, e.g. VMC-01")
    framework = django_filters.CharFilter(field_name="framework__slug", label="Framework (slug)")

    class Meta:
        model = ControlMapping
        fields = ["control", "framework"]


class ControlEvaluationFilter(django_filters.FilterSet):
    control = django_filters.CharFilter(field_name="control__code", label="Control code, e.g. VMC-01")
    scope = django_filters.ChoiceFilter(choices=Scope.choices)
    status = django_filters.ChoiceFilter(choices=EvaluationStatus.choices)
    evaluated_after = InstantFilter(field_name="evaluated_at", lookup_expr="gte")
    evaluated_before = InstantFilter(field_name="evaluated_at", lookup_expr="lte")

    class Meta:
        model = ControlEvaluation
        fields = ["control", "scope", "status", "evaluated_after", "evaluated_before"]
