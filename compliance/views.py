"""Pages of compliance: the frameworks and one framework's requirement tree with its 800-53 links and status
roll-up, the control library with its evaluations, and the compliance dashboard.

Catalogs change only through ``manage.py load_catalogs``, the library's definitions through ``load_controls``.
Compliance officers, security admins, auditors and admins read everything (``COMPLIANCE_ROLES``); compliance
officers also assign a control's owner and threshold; managers see none of it.
"""

import datetime
import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from compliance.charts import evaluation_history_svg, svg_data_uri, trend_svg
from compliance.choices import (
    EvaluationBasis,
    EvaluationStatus,
    EvaluationTrigger,
    EvidenceRequestState,
    Implementation,
    PackState,
    RollUpStatus,
    Scope,
)
from compliance.evaluators.specs import SPECS
from compliance.forms import (
    AnswerForm,
    ControlEditForm,
    EvidenceRequestForm,
    GrantForm,
    PackRequestForm,
    PeriodForm,
    ReviewForm,
    SampleForm,
    StatusDateForm,
)
from compliance.models import EvidencePack, EvidenceResponse, FrameworkGrant
from compliance.pack_sections import canonical_json
from compliance.selectors import (
    auditors_grantable,
    compliance_trend,
    control_get,
    control_history,
    control_list,
    control_reached_requirements,
    day_end,
    evaluation_list,
    evidence_requests_visible_to,
    framework_get,
    framework_list,
    framework_rollup,
    framework_rollups,
    framework_scope,
    framework_version,
    framework_versions,
    granted_frameworks,
    grants_list,
    pack_visible,
    packs_visible_to,
    requirement_tree,
)
from compliance.services.catalogs import HUB_SLUG
from compliance.services.controls import control_update
from compliance.services.evaluation import controls_evaluate, evaluation_recheck
from compliance.services.evidence_requests import (
    EvidenceRequestRefused,
    evidence_request_answer,
    evidence_request_create,
    evidence_request_review,
    evidence_request_target,
    evidence_requests_export,
)
from compliance.services.grants import GrantRefused, framework_grant, framework_grant_revoke
from compliance.services.oscal import oscal_assessment_results
from compliance.services.packs import PackRefused, pack_download_log, pack_request
from compliance.services.sampling import SampleRefused, pack_sample_draw
from portal.access import RoleRequiredMixin
from portal.choices import COMPLIANCE_ROLES, Role
from portal.exports import Export, ExportColumn, export_csv_response, export_filename, export_xlsx_response
from portal.views import querystring

# Bootstrap colour of the badge for Required and Addressable.
IMPLEMENTATION_BADGES = {Implementation.REQUIRED: "danger", Implementation.ADDRESSABLE: "warning"}


class FrameworkListView(RoleRequiredMixin, TemplateView):
    """The frameworks with their newest catalog version and what it holds."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/framework_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(frameworks=framework_list(), hub_slug=HUB_SLUG, **kwargs)


class FrameworkDetailView(RoleRequiredMixin, TemplateView):
    """One framework's requirement tree (its newest version, or ``?version=N``) with each row's 800-53 links."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/framework_detail.html"

    def get_context_data(self, **kwargs):
        number = self.request.GET.get("version")
        if number is not None and not number.isdigit():
            raise Http404("No such version.")
        version = framework_version(slug=self.kwargs["slug"], number=int(number) if number else None)
        framework = version.framework if version else framework_get(slug=self.kwargs["slug"])
        context = super().get_context_data(
            framework=framework, version=version, hub_slug=HUB_SLUG, is_hub=framework.slug == HUB_SLUG,
            badge=IMPLEMENTATION_BADGES, **kwargs,
        )
        form, day = _status_day(self.request)
        context.update(form=form, day=day, status_badges=STATUS_BADGES)
        if version is not None:
            requirements = requirement_tree(version=version)
            context.update(
                requirements=requirements, versions=list(framework_versions(framework=framework)),
                rollup=framework_rollup(version=version, requirements=requirements,
                                        at=day_end(day) if day else None),
                scope_label=SCOPE_LABELS[framework_scope(framework.slug)],
            )
        return context


# --- The control library, its evaluations and the compliance dashboard -------------------------------------------

# Who changes a control's owner and threshold, and asks for an evaluation from the portal: compliance officers.
CONTROL_EDIT_ROLES = frozenset({Role.COMPLIANCE_OFFICER})
STATUS_BADGES = {
    EvaluationStatus.EFFECTIVE: "success", EvaluationStatus.DEFICIENT: "danger",
    EvaluationStatus.NOT_EVALUATED: "secondary", RollUpStatus.EXCEPTED: "warning",
}
SCOPE_LABELS = dict(Scope.choices)
# Evaluations a control page lists under its chart; the export has them all.
HISTORY_ROWS = 30
CONTROL_EXPORT_COLUMNS = [
    ExportColumn("Code", 9), ExportColumn("Title", 40), ExportColumn("Owner role", 18), ExportColumn("Owner", 24),
    ExportColumn("Frequency", 12), ExportColumn("Metric", 30), ExportColumn("Threshold", 10),
    ExportColumn("Status (estate)", 14), ExportColumn("Value", 10), ExportColumn("Result", 50),
    ExportColumn("Evaluated at", 18), ExportColumn("HIPAA", 14), ExportColumn("SOX", 14), ExportColumn("GLBA", 14),
    ExportColumn("Mappings", 40), ExportColumn("Version", 8),
]
EVALUATION_EXPORT_COLUMNS = [
    ExportColumn("Evaluated at", 18), ExportColumn("Control", 9), ExportColumn("Scope", 14),
    ExportColumn("Status", 14), ExportColumn("Value", 10), ExportColumn("Threshold", 10),
    ExportColumn("Numerator", 10), ExportColumn("Denominator", 12), ExportColumn("Result", 50),
    ExportColumn("Trigger", 16), ExportColumn("Inputs (name: rows, SHA-256)", 60), ExportColumn("Control version", 8),
]


def _status_day(request) -> tuple[StatusDateForm, datetime.date | None]:
    """The ``?on=`` date of a status page; an invalid date is a form error and the page shows today's status."""
    form = StatusDateForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["on"]
    return form, None


def _status_label(evaluation) -> str:
    return evaluation.get_status_display() if evaluation else EvaluationStatus.NOT_EVALUATED.label


class ControlListView(RoleRequiredMixin, TemplateView):
    """The control library with each control's status (on ``?on=`` a past date) for the estate and each
    framework's scope; compliance officers may ask for an evaluation now (POST)."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = CONTROL_EDIT_ROLES
    template_name = "compliance/control_list.html"

    def get_context_data(self, **kwargs):
        form, day = _status_day(self.request)
        controls = control_list(at=day_end(day) if day else None)
        counts = {status: 0 for status in EvaluationStatus.values}
        for control in controls:
            if control.estate:
                counts[control.estate.status] += 1
        return super().get_context_data(
            controls=controls, form=form, day=day, badges=STATUS_BADGES, scopes=SCOPE_LABELS, counts=counts,
            can_edit=self.request.user.has_role(*CONTROL_EDIT_ROLES), query=querystring(self.request), **kwargs,
        )

    def post(self, request):
        run = controls_evaluate(trigger=EvaluationTrigger.USER, user=request.user)
        if run is None:
            messages.warning(request, "No automated control is loaded: run manage.py load_controls.")
            return redirect("compliance:control_list")
        counts = ", ".join(f"{count} {EvaluationStatus(status).label.lower()}" for status, count in run.counts.items())
        messages.success(request, f"Controls evaluated: {counts}.")
        return redirect("compliance:control_list")


class ControlExportView(RoleRequiredMixin, View):
    """The control list (as on ``?on=``) as CSV or xlsx."""

    allowed_roles = COMPLIANCE_ROLES
    export = ""  # csv or xlsx

    def get(self, request):
        _, day = _status_day(request)
        controls = control_list(at=day_end(day) if day else None)
        rows = [
            [
                control.code, control.title, control.get_owner_role_display(),
                control.owner.name if control.owner else "", control.get_frequency_display(),
                control.get_metric_display() if control.metric else "Attestation", control.threshold,
                _status_label(control.estate), control.estate.value if control.estate else None,
                control.estate.summary if control.estate else "",
                control.estate.evaluated_at if control.estate else None,
                *(_status_label(evaluation) for _, evaluation in control.scoped),
                " ".join(f"{m.framework.slug}:{m.citation}" for m in control.mapping_list), control.version,
            ]
            for control in controls
        ]
        export = Export(
            title="Control library", sheet="Controls", columns=CONTROL_EXPORT_COLUMNS, rows=rows, user=request.user,
            count=len(rows), filename=export_filename(f"controls-{(day or timezone.localdate()):%Y%m%d}"),
            filters={"Status on": f"{day:%Y-%m-%d}"} if day else {},
        )
        return export_xlsx_response(export) if self.export == "xlsx" else export_csv_response(export)


class ControlDetailView(RoleRequiredMixin, TemplateView):
    """One control: what it is, whom it belongs to, what it maps to, its evaluation history as a chart and a
    table (``?scope=hipaa``), and the inputs of its latest evaluation. Compliance officers edit the owner and
    threshold here (POST)."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = CONTROL_EDIT_ROLES
    template_name = "compliance/control_detail.html"

    def dispatch(self, request, *args, **kwargs):
        self.scope = request.GET.get("scope") or Scope.ESTATE
        if self.scope not in Scope.values:
            self.scope = Scope.ESTATE
        return super().dispatch(request, *args, **kwargs)

    def form(self, control, data=None):
        unit = SPECS[control.metric].unit if control.metric else ""
        initial = {"owner": f"{control.owner.name} <{control.owner.email}>" if control.owner else "",
                   "threshold": control.threshold}
        return ControlEditForm(data, initial=initial, automated=control.automated, unit=unit)

    def get_context_data(self, form=None, **kwargs):
        control = control_get(code=self.kwargs["code"])
        history = control_history(control=control, scope=self.scope) if control.automated else []
        context = super().get_context_data(
            control=control, history=history[:HISTORY_ROWS], latest=history[0] if history else None,
            scope=self.scope, scopes=SCOPE_LABELS, badges=STATUS_BADGES,
            scoped=control.automated and SPECS[control.metric].scoped,
            spec=SPECS.get(control.metric), requirements=control_reached_requirements(control=control),
            can_edit=self.request.user.has_role(*CONTROL_EDIT_ROLES), **kwargs,
        )
        if control.automated:
            title = f"{control.code} {control.title}: {SCOPE_LABELS[self.scope]}"
            context["chart"] = svg_data_uri(evaluation_history_svg(history, metric=control.metric, title=title))
        if context["can_edit"]:
            context["form"] = form or self.form(control)
        return context

    def post(self, request, code):
        control = control_get(code=code)
        form = self.form(control, request.POST)
        if form.is_valid():
            try:
                control_update(control=control, owner=form.cleaned_data["owner"],
                               threshold=form.cleaned_data.get("threshold"), user=request.user)
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                messages.success(request, f"{control.code} saved.")
                return redirect("compliance:control_detail", code=control.code)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ControlEvaluationExportView(RoleRequiredMixin, View):
    """Every evaluation of one control, with the hashes of its inputs, as CSV or xlsx."""

    allowed_roles = COMPLIANCE_ROLES
    export = ""

    def get(self, request, code):
        control = control_get(code=code)
        evaluations = evaluation_list().filter(control=control)
        rows = (
            [
                e.evaluated_at, control.code, e.get_scope_display(), e.get_status_display(), e.value, e.threshold,
                e.numerator, e.denominator, e.summary, e.run.get_trigger_display() if e.run else e.get_basis_display(),
                "; ".join(f"{i['name']}: {i['row_count']} rows, {i['sha256']}" for i in e.inputs), e.control_version,
            ]
            for e in evaluations.iterator(chunk_size=2000)
        )
        export = Export(
            title=f"Evaluations of {control.code} {control.title}", sheet="Evaluations",
            columns=EVALUATION_EXPORT_COLUMNS, rows=rows, user=request.user, count=evaluations.count(),
            filename=export_filename(f"{control.code}-evaluations-{timezone.localdate():%Y%m%d}"),
        )
        return export_xlsx_response(export) if self.export == "xlsx" else export_csv_response(export)


class EvaluationDetailView(RoleRequiredMixin, TemplateView):
    """One stored evaluation with its inputs; ``?recheck=1`` runs a metric's queries again and compares (writes
    nothing, so auditors may); an attested test has no queries to run."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/evaluation_detail.html"

    def get_context_data(self, **kwargs):
        evaluation = get_object_or_404(evaluation_list(), pk=self.kwargs["pk"])
        asked = self.request.GET.get("recheck") == "1" and evaluation.basis == EvaluationBasis.METRIC
        recheck = evaluation_recheck(evaluation=evaluation) if asked else None
        return super().get_context_data(evaluation=evaluation, recheck=recheck, badges=STATUS_BADGES, **kwargs)


class ComplianceDashboardView(RoleRequiredMixin, TemplateView):
    """Each regulation's requirements by status with the share effective, the trend of effective automated
    controls per framework, and the deficient controls."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "compliance/dashboard.html"

    def get_context_data(self, **kwargs):
        trend = compliance_trend()
        labels = {Scope.ESTATE: "Whole estate", Scope.HIPAA: "HIPAA", Scope.SOX: "SOX", Scope.GLBA: "GLBA"}
        chart = trend_svg({labels[scope]: points for scope, points in trend.items()},
                          title="Automated controls effective (%)")
        controls = control_list()
        deficient = [c for c in controls if any(e and e.status == EvaluationStatus.DEFICIENT
                                                for e in (c.estate, *(e for _, e in c.scoped)))]
        return super().get_context_data(
            rollups=framework_rollups(), chart=svg_data_uri(chart), deficient=deficient, badges=STATUS_BADGES,
            has_history=any(trend.values()), **kwargs,
        )


# --- evidence packs, grants and evidence requests ---------------------------------------------------------------

PACK_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMIN})
PACK_BUILD_ROLES = frozenset({Role.COMPLIANCE_OFFICER})
SAMPLE_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.AUDITOR})
GRANT_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.ADMIN})
REQUEST_ANSWER_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN})
PACK_BADGES = {PackState.QUEUED: "secondary", PackState.BUILDING: "info", PackState.READY: "success",
               PackState.FAILED: "danger"}
REQUEST_BADGES = {EvidenceRequestState.OPEN: "warning", EvidenceRequestState.ANSWERED: "info",
                  EvidenceRequestState.ACCEPTED: "success", EvidenceRequestState.ASKED_AGAIN: "danger"}
# Packs and requests a list page shows, newest first: the page is for the current audit, not the archive.
LIST_LIMIT = 200


class PackListView(RoleRequiredMixin, TemplateView):
    """The packs the user may read; compliance officers also ask for a new one here."""

    allowed_roles = PACK_ROLES
    write_roles = PACK_BUILD_ROLES
    template_name = "compliance/pack_list.html"

    def get_context_data(self, form=None, **kwargs):
        today = datetime.date.today()
        initial = {"period_start": today.replace(month=1, day=1), "period_end": today}
        return super().get_context_data(
            packs=packs_visible_to(self.request.user)[:LIST_LIMIT], badge=PACK_BADGES,
            form=form or PackRequestForm(initial=initial),
            can_build=self.request.user.has_role(*PACK_BUILD_ROLES),
            can_see_grants=self.request.user.has_role(*GRANT_ROLES),
            granted=granted_frameworks(self.request.user) if self.request.user.has_role(Role.AUDITOR) else None,
            **kwargs,
        )

    def post(self, request):
        form = PackRequestForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                pack = pack_request(framework_slug=data["framework"].slug, period_start=data["period_start"],
                                    period_end=data["period_end"], as_of=data["as_of"], user=request.user,
                                    sample_size=data["sample_size"])
            except PackRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, f"Pack {pack.pk} is queued; this page shows its progress.")
                return redirect("compliance:pack_detail", pk=pack.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PackDetailView(RoleRequiredMixin, TemplateView):
    """One pack: its state (polled while it builds), hashes, downloads and the samples drawn from it; auditors
    and compliance officers draw a new sample here."""

    allowed_roles = PACK_ROLES
    write_roles = SAMPLE_ROLES
    template_name = "compliance/pack_detail.html"

    def get_context_data(self, form=None, **kwargs):
        pack = pack_visible(user=self.request.user, pk=self.kwargs["pk"])
        samples = pack.samples.select_related("drawn_by")
        return super().get_context_data(
            pack=pack, badge=PACK_BADGES, samples=samples, form=form or SampleForm(),
            can_sample=self.request.user.has_role(*SAMPLE_ROLES) and pack.state == PackState.READY,
            tables=pack.manifest.get("tables", []), **kwargs,
        )

    def post(self, request, pk):
        pack = pack_visible(user=request.user, pk=pk, with_pdf=False)
        form = SampleForm(request.POST)
        if pack.state != PackState.READY:
            form.add_error(None, "Only a ready pack can be sampled.")
        elif form.is_valid():
            try:
                sample = pack_sample_draw(pack=EvidencePack.objects.get(pk=pack.pk), user=request.user,
                                          size=form.cleaned_data["size"], seed=form.cleaned_data["seed"])
            except SampleRefused as refusal:
                form.add_error(None, str(refusal))
            else:
                messages.success(request, f"Sample of {sample.size} drawn with seed {sample.seed}.")
                return redirect("compliance:pack_detail", pk=pack.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PackProgressPartial(RoleRequiredMixin, TemplateView):
    """htmx fragment: the pack's state; polls itself every 2 s while the pack is queued or building."""

    allowed_roles = PACK_ROLES
    template_name = "compliance/_pack_progress.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(pack=pack_visible(user=self.request.user, pk=self.kwargs["pk"]),
                                        badge=PACK_BADGES, **kwargs)


class PackDownloadView(RoleRequiredMixin, View):
    """The pack's PDF or its manifest (JSON); each download is an audit event with the pack's hash."""

    allowed_roles = PACK_ROLES
    what = "pdf"

    def get(self, request, pk):
        pack = pack_visible(user=request.user, pk=pk, with_pdf=True)
        if pack.state != PackState.READY:
            raise Http404("The pack is not ready.")
        pack_download_log(pack=pack, user=request.user, what=self.what)
        name = f"vmcensus-{pack.framework.slug}-pack-{pack.pk}"
        if self.what == "manifest":
            response = HttpResponse(canonical_json(pack.manifest), content_type="application/json")
            response["Content-Disposition"] = f'attachment; filename="{name}-manifest.json"'
        else:
            response = HttpResponse(bytes(pack.pdf), content_type="application/pdf")
            response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        response["X-Content-SHA256"] = pack.pdf_sha256 if self.what == "pdf" else pack.manifest_sha256
        return response


class GrantListView(RoleRequiredMixin, TemplateView):
    """Which auditor may read which framework's packs; compliance officers grant and revoke."""

    allowed_roles = GRANT_ROLES
    write_roles = PACK_BUILD_ROLES
    template_name = "compliance/grant_list.html"

    def get_context_data(self, form=None, **kwargs):
        return super().get_context_data(
            grants=grants_list(), form=form or GrantForm(auditors=auditors_grantable()),
            can_grant=self.request.user.has_role(*PACK_BUILD_ROLES), **kwargs)

    def post(self, request):
        if "revoke" in request.POST:
            grant = get_object_or_404(FrameworkGrant, pk=request.POST.get("revoke") if
                                      str(request.POST.get("revoke")).isdigit() else 0)
            framework_grant_revoke(grant=grant, user=request.user)
            messages.success(request, f"{grant.auditor} no longer reads {grant.framework} packs.")
            return redirect("compliance:grant_list")
        form = GrantForm(request.POST, auditors=auditors_grantable())
        if form.is_valid():
            try:
                grant = framework_grant(auditor=form.cleaned_data["auditor"], framework=form.cleaned_data["framework"],
                                        user=request.user)
            except GrantRefused as refusal:
                form.add_error("auditor", str(refusal))
            else:
                messages.success(request, f"{grant.auditor} reads {grant.framework} packs until "
                                          f"{grant.auditor.access_expires_on:%Y-%m-%d}.")
                return redirect("compliance:grant_list")
        return self.render_to_response(self.get_context_data(form=form), status=400)


def _request_form(user, data=None):
    frameworks = granted_frameworks(user)
    return EvidenceRequestForm(data, frameworks=frameworks)


class EvidenceRequestListView(RoleRequiredMixin, TemplateView):
    """The "provided by client" list; auditors file new requests here."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = frozenset({Role.AUDITOR})
    template_name = "compliance/request_list.html"

    def get_context_data(self, form=None, **kwargs):
        user = self.request.user
        return super().get_context_data(
            requests=evidence_requests_visible_to(user)[:LIST_LIMIT], badge=REQUEST_BADGES,
            form=form or (_request_form(user) if user.has_role(Role.AUDITOR) else None), **kwargs)

    def post(self, request):
        form = _request_form(request.user, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                target = evidence_request_target(framework=data["framework"], control=data["control"], vm=data["vm"])
                evidence = evidence_request_create(user=request.user, framework=data["framework"], title=data["title"],
                                                   description=data["description"], due_date=data["due_date"],
                                                   **target)
            except EvidenceRequestRefused as refusal:
                form.add_error(refusal.field if refusal.field in form.fields else None, str(refusal))
            else:
                messages.success(request, f"Request {evidence.pk} filed.")
                return redirect("compliance:request_detail", pk=evidence.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class EvidenceRequestExportView(RoleRequiredMixin, View):
    """The request list as xlsx, in the columns audit firms track a PBC list with."""

    allowed_roles = COMPLIANCE_ROLES

    def get(self, request):
        requests = evidence_requests_visible_to(request.user).prefetch_related("responses__by")
        return export_xlsx_response(evidence_requests_export(requests=requests, user=request.user))


class EvidenceRequestDetailView(RoleRequiredMixin, TemplateView):
    """One request with its turns; the client answers (note, file), the auditor accepts or asks again."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = REQUEST_ANSWER_ROLES | {Role.AUDITOR}
    template_name = "compliance/request_detail.html"

    def _request(self):
        return get_object_or_404(evidence_requests_visible_to(self.request.user), pk=self.kwargs["pk"])

    def get_context_data(self, answer_form=None, review_form=None, **kwargs):
        evidence = self._request()
        user = self.request.user
        return super().get_context_data(
            evidence=evidence, badge=REQUEST_BADGES,
            responses=evidence.responses.select_related("by").defer("file_content"),
            answer_form=answer_form or (AnswerForm() if user.has_role(*REQUEST_ANSWER_ROLES) else None),
            review_form=review_form or (ReviewForm() if user.has_role(Role.AUDITOR) else None), **kwargs)

    def post(self, request, pk):
        evidence = self._request()
        answer_form = review_form = None
        try:
            if request.user.has_role(Role.AUDITOR):
                review_form = ReviewForm(request.POST)
                if review_form.is_valid():
                    evidence_request_review(request=evidence, user=request.user,
                                            accept=review_form.cleaned_data["decision"] == "accept",
                                            note=review_form.cleaned_data["note"])
                    return redirect("compliance:request_detail", pk=pk)
            else:
                answer_form = AnswerForm(request.POST, request.FILES)
                if answer_form.is_valid():
                    upload = answer_form.cleaned_data["file"]
                    evidence_request_answer(
                        request=evidence, user=request.user, note=answer_form.cleaned_data["note"],
                        file_name=upload.name if upload else "",
                        file_content=upload.read(settings.EVIDENCE_UPLOAD_MAX_BYTES + 1) if upload else None)
                    return redirect("compliance:request_detail", pk=pk)
        except EvidenceRequestRefused as refusal:
            form = review_form or answer_form
            form.add_error(refusal.field if refusal.field in form.fields else None, str(refusal))
        return self.render_to_response(
            self.get_context_data(answer_form=answer_form, review_form=review_form), status=400)


class EvidenceFileView(RoleRequiredMixin, View):
    """A file sent in answer to a request, as a download (never shown inline)."""

    allowed_roles = COMPLIANCE_ROLES

    def get(self, request, pk, response_id):
        evidence = get_object_or_404(evidence_requests_visible_to(request.user), pk=pk)
        sent = get_object_or_404(EvidenceResponse, pk=response_id, request=evidence, file_content__isnull=False)
        response = HttpResponse(bytes(sent.file_content), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(sent.file_name)}"'
        response["X-Content-SHA256"] = sent.file_sha256
        return response


class FrameworkOscalView(RoleRequiredMixin, View):
    """OSCAL assessment results (JSON) of a framework over ``?start=&end=`` (default: the year so far)."""

    allowed_roles = COMPLIANCE_ROLES

    def get(self, request, slug):
        framework = framework_get(slug=slug)
        form = PeriodForm(request.GET)
        if not form.is_valid():
            problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
            return HttpResponse(f"Bad period: {problems}", status=400, content_type="text/plain; charset=utf-8")
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        document = oscal_assessment_results(framework=framework, period_start=start, period_end=end,
                                            produced_by=str(request.user))
        response = HttpResponse(json.dumps(document, indent=2), content_type="application/json")
        response["Content-Disposition"] = (f'attachment; filename="{framework.slug}-assessment-results-{start}-'
                                           f'{end}.json"')
        return response
