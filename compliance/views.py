"""Pages of the compliance catalogs: the frameworks, and one framework's requirement tree with its 800-53 links.

Read-only: catalogs change only through ``manage.py load_catalogs``. Compliance officers, security admins,
auditors and admins read them (``COMPLIANCE_ROLES``); managers do not.
"""

import datetime

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from compliance.choices import EvidenceRequestState, Implementation, PackState
from compliance.forms import AnswerForm, EvidenceRequestForm, GrantForm, PackRequestForm, ReviewForm, SampleForm
from compliance.models import EvidencePack, EvidenceResponse, FrameworkGrant
from compliance.pack_sections import canonical_json
from compliance.selectors import (
    auditors_grantable,
    evidence_requests_visible_to,
    framework_get,
    framework_list,
    framework_version,
    framework_versions,
    granted_frameworks,
    grants_list,
    pack_visible,
    packs_visible_to,
    requirement_tree,
)
from compliance.services.catalogs import HUB_SLUG
from compliance.services.evidence_requests import (
    EvidenceRequestRefused,
    evidence_request_answer,
    evidence_request_create,
    evidence_request_review,
    evidence_request_target,
    evidence_requests_export,
)
from compliance.services.grants import GrantRefused, framework_grant, framework_grant_revoke
from compliance.services.packs import PackRefused, pack_download_log, pack_request
from compliance.services.sampling import SampleRefused, pack_sample_draw
from portal.access import RoleRequiredMixin
from portal.choices import COMPLIANCE_ROLES, Role
from portal.exports import export_filename, export_xlsx_response

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
        if version is not None:
            context.update(
                requirements=requirement_tree(version=version), versions=list(framework_versions(framework=framework))
            )
        return context


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
