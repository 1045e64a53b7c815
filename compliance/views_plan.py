"""Pages of the security plan: the current version with its sign-offs, a new version (change control), the
version history with the difference between versions, and the sign-off page.

Compliance roles read the plan; compliance officers and admins write a new version; the stakeholders named on
a version (whatever their role, auditors excepted) sign it off, and only they read its sign-off page besides
the compliance roles.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import FormView, TemplateView, View

from compliance.forms import PlanVersionForm
from compliance.selectors import plan_diff, plan_in_force, plan_policies, plan_version_get, plan_versions
from compliance.services.plans import (
    PLAN_EDIT_ROLES,
    PLAN_SECTIONS,
    SECTION_FIELDS,
    SECTION_POLICIES,
    plan_signoff,
    plan_version_create,
)
from compliance.views_common import export_response, form_refused
from portal.access import RoleRequiredMixin
from portal.choices import ALL_ROLES, COMPLIANCE_ROLES, Role
from portal.exports import Export, ExportColumn
from portal.selectors import person_for_user

# Stakeholders sign whatever their role; auditors read and never write.
SIGNOFF_ROLES = ALL_ROLES - {Role.AUDITOR}


def _signoff_state(version, user) -> dict:
    """Who signed ``version``, who has yet to, and whether ``user`` may sign it now."""
    signed = {signoff.person_id: signoff for signoff in version.signoffs.all()}
    person = person_for_user(user=user)
    people = [{"person": person_, "signoff": signed.get(person_.pk)} for person_ in version.stakeholders.all()]
    is_stakeholder = person is not None and any(row["person"].pk == person.pk for row in people)
    return {"people": people, "is_stakeholder": is_stakeholder,
            "complete": bool(people) and len(signed) == len(people),
            "may_sign": is_stakeholder and person.pk not in signed and not user.has_role(Role.AUDITOR)}


def _sections(version) -> list[dict]:
    """The version's sections, each standard with the governance policies enforcing it as they are set now."""
    policies = plan_policies(kinds=SECTION_POLICIES.values())
    return [{"section": section, "text": getattr(version, section.field),
             "policies": policies.get(SECTION_POLICIES.get(section.field), []),
             "policy_kind": SECTION_POLICIES.get(section.field)} for section in PLAN_SECTIONS]


class PlanView(RoleRequiredMixin, TemplateView):
    """The newest version of the plan, its sign-offs and the version in force."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/plan.html"

    def get_context_data(self, **kwargs):
        current = plan_versions().first()
        context = super().get_context_data(current=current, may_edit=self.request.user.has_role(*PLAN_EDIT_ROLES),
                                           today=timezone.localdate(), **kwargs)
        if current is not None:
            context.update(sections=_sections(current), state=_signoff_state(current, self.request.user),
                           in_force=plan_in_force(), reads_policies=self.request.user.has_role(*COMPLIANCE_ROLES))
        return context


class PlanEditView(RoleRequiredMixin, FormView):
    """A new version of the plan, starting from the newest one's text."""

    allowed_roles = PLAN_EDIT_ROLES
    write_roles = PLAN_EDIT_ROLES
    template_name = "compliance/plan_form.html"
    form_class = PlanVersionForm

    def get_initial(self):
        current = plan_versions().first()
        if current is None:
            return {}
        return {**{field: getattr(current, field) for field in SECTION_FIELDS},
                "stakeholders": list(current.stakeholders.all())}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            version = plan_version_create(
                user=self.request.user, sections={field: data[field] for field in SECTION_FIELDS},
                change_summary=data["change_summary"], review_due_on=data["review_due_on"],
                stakeholders=data["stakeholders"],
            )
        except ValidationError as error:
            form_refused(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Version {version.number} written; its stakeholders are asked to sign it off.")
        return redirect("compliance:plan")

    def get_context_data(self, **kwargs):
        return super().get_context_data(current=plan_versions().first(), sections=PLAN_SECTIONS, **kwargs)


class PlanHistoryView(RoleRequiredMixin, TemplateView):
    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/plan_history.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(versions=list(plan_versions()), in_force=plan_in_force(), **kwargs)


PLAN_HISTORY_COLUMNS = [
    ExportColumn("Version", 9), ExportColumn("Written", 18), ExportColumn("By", 24),
    ExportColumn("What changed", 60), ExportColumn("Next review", 12), ExportColumn("Stakeholders", 40),
    ExportColumn("Signed off by", 50), ExportColumn("Signed off", 12),
]


class PlanHistoryExportView(RoleRequiredMixin, View):
    allowed_roles = COMPLIANCE_ROLES
    kind = "csv"

    def get(self, request, *args, **kwargs):
        versions = plan_versions()
        rows = ([
            version.number, version.created_at, str(version.created_by), version.change_summary,
            version.review_due_on, "; ".join(person.name for person in version.stakeholders.all()),
            "; ".join(f"{s.person.name} {s.signed_at:%Y-%m-%d}" for s in version.signoffs.all()),
            "yes" if version.stakeholder_count and version.signoff_count == version.stakeholder_count else "no",
        ] for version in versions)
        export = Export(title="Security plan: versions and sign-offs", filename="security-plan-versions",
                        columns=PLAN_HISTORY_COLUMNS, rows=rows, user=request.user, count=versions.count(),
                        sheet="Versions")
        return export_response(export, self.kind)


class PlanVersionView(RoleRequiredMixin, TemplateView):
    """One version, line by line against another (the one before, or ``?against=N``)."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/plan_version.html"

    def get_context_data(self, **kwargs):
        version = plan_version_get(number=self.kwargs["number"])
        against = self.request.GET.get("against", "")
        if against and not against.isdigit():
            raise Http404("No such version.")
        number = int(against) if against else version.number - 1
        old = plan_version_get(number=number) if number >= 1 and number != version.number else None
        return super().get_context_data(
            version=version, old=old, diff=plan_diff(old=old, new=version, sections=PLAN_SECTIONS),
            numbers=list(plan_versions().values_list("number", flat=True)),
            state=_signoff_state(version, self.request.user), **kwargs,
        )


class PlanSignoffView(RoleRequiredMixin, TemplateView):
    """A stakeholder reads the version and signs it off; the compliance roles see who has."""

    allowed_roles = ALL_ROLES
    write_roles = SIGNOFF_ROLES
    template_name = "compliance/plan_signoff.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.version = plan_version_get(number=kwargs["number"])
            self.state = _signoff_state(self.version, request.user)
            if not (self.state["is_stakeholder"] or request.user.has_role(*COMPLIANCE_ROLES)):
                raise PermissionDenied("Only this version's stakeholders and the compliance roles read it.")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        newest = plan_versions().values_list("number", flat=True).first()
        return super().get_context_data(version=self.version, state=self.state, sections=_sections(self.version),
                                        replaced=newest != self.version.number,
                                        reads_policies=self.request.user.has_role(*COMPLIANCE_ROLES), **kwargs)

    def post(self, request, *args, **kwargs):
        try:
            plan_signoff(version=self.version, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"You signed off version {self.version.number} of the security plan.")
        return redirect("compliance:plan_signoff", number=self.version.number)
