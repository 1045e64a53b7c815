"""Pages of the exceptions (risk acceptance): the list with its exports, asking for one, and deciding it.

Compliance roles read; compliance officers, security admins and admins ask; a compliance officer who did not
ask approves or rejects (the service refuses the requester).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import FormView, TemplateView, View

from compliance.choices import ExceptionStatus
from compliance.forms import ExceptionDecisionForm, ExceptionRequestForm
from compliance.selectors import control_names, exception_list, framework_names
from compliance.services.exceptions import (
    EXCEPTION_APPROVE_ROLES,
    EXCEPTION_REQUEST_ROLES,
    exception_decide,
    exception_request,
)
from compliance.views_common import export_response, form_refused
from portal.access import RoleRequiredMixin
from portal.choices import COMPLIANCE_ROLES
from portal.exports import Export, ExportColumn

STATUS_BADGES = {ExceptionStatus.REQUESTED: "info", ExceptionStatus.APPROVED: "warning",
                 ExceptionStatus.REJECTED: "secondary", ExceptionStatus.EXPIRED: "danger"}


class ExceptionFilterMixin(RoleRequiredMixin):
    allowed_roles = COMPLIANCE_ROLES

    def filters(self) -> dict[str, str]:
        status = self.request.GET.get("status", "")
        framework = self.request.GET.get("framework", "")
        control = self.request.GET.get("control", "")
        return {"status": status if status in ExceptionStatus.values else "",
                "framework": framework if framework in self.framework_slugs() else "",
                "control": control if control in dict(control_names()) else ""}

    def framework_slugs(self) -> dict[str, str]:
        return dict(framework_names())


class ExceptionListView(ExceptionFilterMixin, TemplateView):
    template_name = "compliance/exception_list.html"

    def get_context_data(self, **kwargs):
        filters = self.filters()
        return super().get_context_data(
            exceptions=list(exception_list(**filters)), filters=filters, statuses=ExceptionStatus.choices,
            frameworks=self.framework_slugs(), controls=control_names(), badge=STATUS_BADGES,
            may_request=self.request.user.has_role(*EXCEPTION_REQUEST_ROLES), **kwargs,
        )


EXCEPTION_COLUMNS = [
    ExportColumn("Id", 6), ExportColumn("Framework", 12), ExportColumn("Covers", 22), ExportColumn("Status", 12),
    ExportColumn("Reason", 60), ExportColumn("Expires on", 12), ExportColumn("Requested by", 24),
    ExportColumn("Requested at", 18), ExportColumn("Decided by", 24), ExportColumn("Decided at", 18),
    ExportColumn("Decision note", 40),
]


class ExceptionExportView(ExceptionFilterMixin, View):
    kind = "csv"

    def get(self, request, *args, **kwargs):
        filters = self.filters()
        rows = exception_list(**filters)
        labels = {"status": "Status", "framework": "Framework", "control": "Control"}
        export = Export(
            title="Exceptions (risk acceptance)", filename="compliance-exceptions", columns=EXCEPTION_COLUMNS,
            rows=([e.pk, e.requirement.version.framework.slug if e.requirement_id else "", e.subject_label,
                   e.get_status_display(), e.reason, e.expires_on, str(e.requested_by), e.requested_at,
                   str(e.decided_by) if e.decided_by_id else "", e.decided_at, e.decision_note] for e in rows),
            user=request.user, count=rows.count(), sheet="Exceptions",
            filters={labels[key]: value for key, value in filters.items() if value},
        )
        return export_response(export, self.kind)


class ExceptionRequestView(RoleRequiredMixin, FormView):
    allowed_roles = EXCEPTION_REQUEST_ROLES
    write_roles = EXCEPTION_REQUEST_ROLES
    template_name = "compliance/exception_form.html"
    form_class = ExceptionRequestForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(),
                "frameworks": framework_names(), "controls": control_names()}

    def get_initial(self):
        return {key: self.request.GET[key] for key in ("control", "framework", "citation") if key in self.request.GET}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            exception = exception_request(user=self.request.user, requirement=data["requirement"],
                                          control=data["control_object"], reason=data["reason"],
                                          expires_on=data["expires_on"])
        except ValidationError as error:
            form_refused(form, error)
            return self.form_invalid(form)
        messages.success(self.request, "Exception asked for: another compliance officer decides it.")
        return redirect("compliance:exception_detail", pk=exception.pk)


class ExceptionDetailView(RoleRequiredMixin, FormView):
    """An exception with its history; a compliance officer other than the requester decides it here."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = EXCEPTION_APPROVE_ROLES
    template_name = "compliance/exception_detail.html"
    form_class = ExceptionDecisionForm

    def dispatch(self, request, *args, **kwargs):
        self.exception = get_object_or_404(exception_list(), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            exception_decide(exception=self.exception, user=self.request.user,
                             approve=form.cleaned_data["decision"] == "approve", note=form.cleaned_data["note"])
        except ValidationError as error:
            form_refused(form, error)
            return self.form_invalid(form)
        return redirect("compliance:exception_detail", pk=self.exception.pk)

    def get_context_data(self, **kwargs):
        user = self.request.user
        may_decide = (self.exception.status == ExceptionStatus.REQUESTED and user.has_role(*EXCEPTION_APPROVE_ROLES)
                      and self.exception.requested_by_id != user.pk)
        return super().get_context_data(exception=self.exception, badge=STATUS_BADGES, may_decide=may_decide,
                                        **kwargs)
