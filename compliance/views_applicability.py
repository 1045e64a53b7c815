"""Pages of the statement of applicability (per framework) and of the HIPAA addressable-specification decisions.

Compliance officers and admins decide (``APPLICABILITY_EDIT_ROLES``); security admins and auditors read. Every
list has a CSV and an xlsx export with the same filters.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import FormView, TemplateView, View

from compliance.choices import DecisionOutcome, Implementation, RequirementKind
from compliance.forms import AddressableDecisionForm, ApplicabilityForm
from compliance.models import Requirement
from compliance.selectors import (
    APPLICABILITY_STATES,
    addressable_specifications,
    applicability_counts,
    applicability_rows,
    framework_version,
)
from compliance.services.applicability import APPLICABILITY_EDIT_ROLES, addressable_decision_set, applicability_set
from compliance.views_common import export_response, form_refused
from portal.access import RoleRequiredMixin
from portal.choices import COMPLIANCE_ROLES
from portal.exports import Export, ExportColumn, export_filename

DECISION_STATES = {**dict(DecisionOutcome.choices), "undecided": "Undecided"}


def _choice(request, name: str, allowed: dict) -> str:
    """A filter value from the query string, or "" when absent or not one of ``allowed``."""
    value = request.GET.get(name, "")
    return value if value in allowed else ""


def _q(request) -> str:
    return request.GET.get("q", "").strip()[:200]


class ApplicabilityMixin(RoleRequiredMixin):
    allowed_roles = COMPLIANCE_ROLES

    def framework_version(self):
        version = framework_version(slug=self.kwargs["slug"])
        if version is None:
            raise Http404("This framework has no catalog loaded.")
        return version

    def filters(self) -> dict[str, str]:
        return {"state": _choice(self.request, "state", APPLICABILITY_STATES), "q": _q(self.request)}


class ApplicabilityListView(ApplicabilityMixin, TemplateView):
    """A framework's statement of applicability: every requirement of its newest catalog with its decision."""

    template_name = "compliance/applicability_list.html"

    def get_context_data(self, **kwargs):
        version = self.framework_version()
        filters = self.filters()
        return super().get_context_data(
            version=version, framework=version.framework, rows=list(applicability_rows(version=version, **filters)),
            counts=applicability_counts(version=version), filters=filters, states=APPLICABILITY_STATES,
            may_edit=self.request.user.has_role(*APPLICABILITY_EDIT_ROLES), **kwargs,
        )


APPLICABILITY_COLUMNS = [
    ExportColumn("Framework", 14), ExportColumn("Citation", 22), ExportColumn("Title", 40), ExportColumn("Kind", 18),
    ExportColumn("Applicable", 14), ExportColumn("Justification", 60), ExportColumn("Decided by", 24),
    ExportColumn("Decided at", 18),
]


class ApplicabilityExportView(ApplicabilityMixin, View):
    kind = "csv"

    def get(self, request, *args, **kwargs):
        version = self.framework_version()
        filters = self.filters()
        rows = applicability_rows(version=version, **filters)
        labels = {"state": "State", "q": "Search"}
        export = Export(
            title=f"Statement of applicability: {version.framework.name} v{version.number}",
            filename=export_filename(f"applicability-{version.framework.slug}-v{version.number}"),
            columns=APPLICABILITY_COLUMNS, rows=(_applicability_cells(row) for row in rows), user=request.user,
            count=rows.count(), sheet="Applicability",
            filters={labels[key]: APPLICABILITY_STATES.get(value, value) for key, value in filters.items() if value},
        )
        return export_response(export, self.kind)


def _applicability_cells(requirement: Requirement) -> list:
    decision = getattr(requirement, "applicability", None)
    state = "Undecided" if decision is None else ("Yes" if decision.applicable else "No")
    return [
        requirement.version.framework.slug,
        requirement.citation, requirement.title, requirement.get_kind_display(), state,
        decision.justification if decision else "", str(decision.decided_by) if decision else "",
        decision.decided_at if decision else None,
    ]


class ApplicabilityEditView(RoleRequiredMixin, FormView):
    """One requirement's applicability: readers see the decision, compliance officers change it."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = APPLICABILITY_EDIT_ROLES
    template_name = "compliance/applicability_form.html"
    form_class = ApplicabilityForm

    def dispatch(self, request, *args, **kwargs):
        self.requirement = get_object_or_404(
            Requirement.objects.select_related("version__framework", "applicability__decided_by"), pk=kwargs["pk"]
        )
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        decision = getattr(self.requirement, "applicability", None)
        if decision is None:
            return {"applicable": "yes"}
        return {"applicable": "yes" if decision.applicable else "no", "justification": decision.justification}

    def form_valid(self, form):
        try:
            applicability_set(
                requirement=self.requirement, applicable=form.cleaned_data["applicable"] == "yes",
                justification=form.cleaned_data["justification"], user=self.request.user,
            )
        except ValidationError as error:
            form_refused(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Applicability of {self.requirement.citation} saved.")
        return redirect(
            reverse("compliance:applicability_list", args=[self.requirement.version.framework.slug])
            + f"#r-{self.requirement.pk}"
        )

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            requirement=self.requirement, decision=getattr(self.requirement, "applicability", None),
            may_edit=self.request.user.has_role(*APPLICABILITY_EDIT_ROLES), **kwargs,
        )


class DecisionMixin(RoleRequiredMixin):
    allowed_roles = COMPLIANCE_ROLES

    def filters(self) -> dict[str, str]:
        return {"outcome": _choice(self.request, "outcome", DECISION_STATES), "q": _q(self.request)}


class DecisionListView(DecisionMixin, TemplateView):
    """HIPAA's addressable implementation specifications with the decision 164.306(d)(3) requires."""

    template_name = "compliance/decision_list.html"

    def get_context_data(self, **kwargs):
        filters = self.filters()
        rows = list(addressable_specifications(**filters))
        return super().get_context_data(
            rows=rows, filters=filters, outcomes=DECISION_STATES,
            may_edit=self.request.user.has_role(*APPLICABILITY_EDIT_ROLES), **kwargs,
        )


DECISION_COLUMNS = [
    ExportColumn("Citation", 22), ExportColumn("Specification", 40), ExportColumn("Standard", 30),
    ExportColumn("Decision", 28), ExportColumn("Alternative measure", 60), ExportColumn("Why not reasonable", 60),
    ExportColumn("Decided by", 24), ExportColumn("Decided at", 18),
]


class DecisionExportView(DecisionMixin, View):
    kind = "csv"

    def get(self, request, *args, **kwargs):
        filters = self.filters()
        rows = addressable_specifications(**filters)
        labels = {"outcome": "Decision", "q": "Search"}
        export = Export(
            title="HIPAA addressable specifications: decisions (45 CFR 164.306(d)(3))",
            filename="hipaa-addressable-decisions", columns=DECISION_COLUMNS,
            rows=(_decision_cells(row) for row in rows), user=request.user, count=rows.count(), sheet="Decisions",
            filters={labels[key]: DECISION_STATES.get(value, value) for key, value in filters.items() if value},
        )
        return export_response(export, self.kind)


def _decision_cells(requirement: Requirement) -> list:
    decision = getattr(requirement, "addressable_decision", None)
    return [
        requirement.citation, requirement.title,
        f"{requirement.parent.citation} {requirement.parent.title}" if requirement.parent else "",
        decision.get_outcome_display() if decision else "Undecided",
        decision.alternative_measure if decision else "", decision.rationale if decision else "",
        str(decision.decided_by) if decision else "", decision.decided_at if decision else None,
    ]


class DecisionEditView(RoleRequiredMixin, FormView):
    """One addressable specification's decision: readers see it, compliance officers record it."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = APPLICABILITY_EDIT_ROLES
    template_name = "compliance/decision_form.html"
    form_class = AddressableDecisionForm

    def dispatch(self, request, *args, **kwargs):
        self.requirement = get_object_or_404(
            Requirement.objects.select_related("parent", "version__framework", "addressable_decision__decided_by"),
            pk=kwargs["pk"], kind=RequirementKind.IMPLEMENTATION_SPECIFICATION,
            implementation=Implementation.ADDRESSABLE,
        )
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        decision = getattr(self.requirement, "addressable_decision", None)
        if decision is None:
            return {}
        return {"outcome": decision.outcome, "alternative_measure": decision.alternative_measure,
                "rationale": decision.rationale}

    def form_valid(self, form):
        try:
            addressable_decision_set(requirement=self.requirement, user=self.request.user, **form.cleaned_data)
        except ValidationError as error:
            form_refused(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Decision on {self.requirement.citation} saved.")
        return redirect(reverse("compliance:decision_list") + f"#r-{self.requirement.pk}")

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            requirement=self.requirement, decision=getattr(self.requirement, "addressable_decision", None),
            may_edit=self.request.user.has_role(*APPLICABILITY_EDIT_ROLES), **kwargs,
        )
