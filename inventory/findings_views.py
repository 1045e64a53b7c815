"""Pages of policies and findings: the findings queue, a finding, the security dashboard, policies, baselines and
vCenter action batches. Thin: reads through selectors, writes through the findings, policies, baselines and
policy actions services. Security admins act; managers read their subtree's findings; auditors read."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from inventory.choices import ActionKind, FindingState, PolicyKind
from inventory.filters import FindingFilter
from inventory.forms import BaselineImportForm, FindingBulkForm, PolicyForm
from inventory.models import ActionBatch, Baseline, Finding, Policy
from inventory.selectors import (
    FINDING_SLA_DAYS,
    action_batch_list,
    baseline_list,
    finding_history,
    finding_list,
    finding_sla_overdue,
    findings_dashboard,
    policy_list,
    policy_versions,
    source_names,
)
from inventory.services.baselines import baseline_import
from inventory.services.findings import findings_acknowledge, findings_assign, findings_except
from inventory.services.policies import policy_update
from inventory.services.policy_actions import action_batch_cancel, action_batch_confirm, action_batch_propose
from portal.access import RoleRequiredMixin
from portal.choices import ALL_ROLES, COMPLIANCE_ROLES, Role
from portal.exports import Export, ExportColumn, export_csv_response, export_xlsx_response
from portal.models import AuditEvent
from portal.tabular.problems import ImportRefused
from portal.views import querystring

# Who changes findings, policies and baselines and proposes or confirms vCenter actions.
SECURITY_ROLES = frozenset({Role.SECURITY_ADMIN})
FINDINGS_PAGE_SIZE = 50
STATE_BADGES = {FindingState.OPEN: "danger", FindingState.ACKNOWLEDGED: "warning",
                FindingState.EXCEPTED: "info", FindingState.RESOLVED: "success"}
EXPORT_COLUMNS = [
    ExportColumn("Finding", 9), ExportColumn("Kind", 24), ExportColumn("State", 14), ExportColumn("VM", 30),
    ExportColumn("Source", 16), ExportColumn("Policy", 24), ExportColumn("Opened", 18), ExportColumn("Age (days)", 10),
    ExportColumn("SLA (days)", 10), ExportColumn("Overdue", 9), ExportColumn("Assigned to", 24),
    ExportColumn("Excepted until", 14), ExportColumn("Evidence", 60),
]


class GovernanceMixin(RoleRequiredMixin):
    """Every governance page knows whether to show the tabs beyond the queue (managers see only the queue)."""

    def get_context_data(self, **kwargs):
        kwargs.setdefault("show_governance", self.request.user.has_role(*COMPLIANCE_ROLES))
        return super().get_context_data(**kwargs)


def _bulk(form: FindingBulkForm, user) -> str:
    """Carry out a valid bulk form; the message the page shows."""
    data, ids = form.cleaned_data, form.cleaned_data["ids"]
    if data["action"] == "acknowledge":
        return f"Acknowledged {findings_acknowledge(ids=ids, user=user)} finding(s)."
    if data["action"] == "except":
        count = findings_except(ids=ids, user=user, until=data["until"], reason=data["reason"])
        return f"Excepted {count} finding(s) until {data['until']:%Y-%m-%d}."
    count = findings_assign(ids=ids, user=user, person=data["person"])
    return f"Assigned {count} finding(s) to {data['person'].name if data['person'] else 'nobody'}."


class FindingListView(GovernanceMixin, TemplateView):
    """The findings queue: filters, age and SLA, bulk acknowledge / except / assign, CSV and xlsx export."""

    allowed_roles = ALL_ROLES
    write_roles = SECURITY_ROLES
    template_name = "inventory/findings/list.html"

    @cached_property
    def filterset(self) -> FindingFilter:
        data = self.request.GET.copy()
        data.setdefault("state", "unresolved")
        return FindingFilter(data, queryset=finding_list(user=self.request.user))

    def get(self, request, *args, **kwargs):
        export = request.GET.get("export")
        if export in ("csv", "xlsx"):
            return self._export(export)
        return super().get(request, *args, **kwargs)

    def _export(self, kind: str):
        findings = self.filterset.qs if self.filterset.is_valid() else Finding.objects.none()
        now = timezone.now()
        rows = ([f.pk, f.get_kind_display(), f.get_state_display(), f.vm.name, f.vm.source.name, f.policy.name,
                 f.opened_at, (now - f.opened_at).days, FINDING_SLA_DAYS[f.kind],
                 "yes" if finding_sla_overdue(f, now) else "", f.assigned_to.name if f.assigned_to else "",
                 f.excepted_until, f.evidence.get("summary", "")] for f in findings.iterator(chunk_size=2000))
        filters = {name: value for name, value in self.filterset.form.cleaned_data.items() if value not in ("", None)}
        export = Export(title="Findings", filename="findings", columns=EXPORT_COLUMNS, rows=rows,
                        user=self.request.user, count=findings.count(),
                        filters={name: str(value) for name, value in filters.items()})
        return export_csv_response(export) if kind == "csv" else export_xlsx_response(export)

    def post(self, request, *args, **kwargs):
        ids = list(finding_list(user=request.user).filter(pk__in=[
            value for value in request.POST.getlist("ids") if value.isdigit()][:FINDINGS_PAGE_SIZE * 20])
            .values_list("pk", flat=True))
        form = FindingBulkForm(request.POST, ids=ids)
        if form.is_valid():
            try:
                messages.success(request, _bulk(form, request.user))
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        else:
            messages.error(request, " ".join(f"{form.fields[name].label or name}: {' '.join(errors)}"
                                             if name != "__all__" else " ".join(errors)
                                             for name, errors in form.errors.items()))
        return redirect(request.get_full_path())

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        findings = self.filterset.qs if self.filterset.is_valid() else Finding.objects.none()
        page = Paginator(findings, FINDINGS_PAGE_SIZE).get_page(self.request.GET.get("page"))
        now = timezone.now()
        for finding in page.object_list:
            finding.age_days = (now - finding.opened_at).days
            finding.sla_days = FINDING_SLA_DAYS[finding.kind]
            finding.overdue = finding_sla_overdue(finding, now)
            finding.badge = STATE_BADGES[finding.state]
        context.update(
            filter=self.filterset, page_obj=page, findings=page.object_list, kinds=PolicyKind.choices,
            states=[("unresolved", "Unresolved"), *FindingState.choices], sources=source_names(),
            querystring=querystring(self.request), can_act=self.request.user.has_role(*SECURITY_ROLES),
            bulk_actions=FindingBulkForm.ACTIONS, export_query=querystring(self.request, export=None),
        )
        return context


class FindingDetailView(GovernanceMixin, TemplateView):
    allowed_roles = ALL_ROLES
    write_roles = SECURITY_ROLES
    template_name = "inventory/findings/detail.html"

    def get_object(self) -> Finding:
        return get_object_or_404(finding_list(user=self.request.user).select_related(
            "acknowledged_by", "exception_approver"), pk=self.kwargs["pk"])

    def post(self, request, pk):
        finding = self.get_object()
        form = FindingBulkForm({**request.POST.dict(), "ids": [finding.pk]}, ids=[finding.pk])
        if form.is_valid():
            try:
                messages.success(request, _bulk(form, request.user))
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        else:
            messages.error(request, " ".join(" ".join(errors) for errors in form.errors.values()))
        return redirect("inventory:finding_detail", pk=finding.pk)

    def get_context_data(self, **kwargs):
        finding = self.get_object()
        now = timezone.now()
        history = list(finding_history(finding=finding)[:100])
        for change in history:
            change.text = change.new.get("summary") or change.new.get("result", "")
            change.state = change.new.get("state") or change.new.get("outcome", "")
        return super().get_context_data(
            finding=finding, history=history,
            events=list(AuditEvent.objects.filter(object_type="inventory.finding", object_id=str(finding.pk))
                        .select_related("actor").order_by("-sequence")[:50]),
            age_days=(now - finding.opened_at).days, sla_days=FINDING_SLA_DAYS[finding.kind],
            overdue=finding_sla_overdue(finding, now), badge=STATE_BADGES[finding.state],
            can_act=self.request.user.has_role(*SECURITY_ROLES) and finding.state != FindingState.RESOLVED,
            attempts=list(finding.action_attempts.select_related("batch").order_by("-id")[:20]),
            **kwargs,
        )


class FindingsDashboardView(GovernanceMixin, TemplateView):
    """Counts by kind and state, what is overdue, the weekly trend, and batches waiting for a second admin."""

    allowed_roles = COMPLIANCE_ROLES
    template_name = "inventory/findings/dashboard.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            figures=findings_dashboard(user=self.request.user), states=FindingState.choices,
            batches=list(action_batch_list()[:10]), **kwargs)


class PolicyListView(GovernanceMixin, TemplateView):
    allowed_roles = COMPLIANCE_ROLES
    template_name = "inventory/findings/policy_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(policies=list(policy_list()), **kwargs)


class PolicyDetailView(GovernanceMixin, TemplateView):
    """A policy with its versions; security admins edit it and propose its vCenter actions here."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = SECURITY_ROLES
    template_name = "inventory/findings/policy_detail.html"

    def get_policy(self) -> Policy:
        return get_object_or_404(Policy.objects.select_related("updated_by"), pk=self.kwargs["pk"])

    def post(self, request, pk):
        policy = self.get_policy()
        if "propose" in request.POST:
            try:
                batch = action_batch_propose(policy=policy, action=request.POST["propose"], user=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                return redirect("inventory:policy_detail", pk=policy.pk)
            return redirect("inventory:action_batch_detail", pk=batch.pk)
        form = PolicyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                updated = policy_update(policy=policy, user=request.user, enabled=data["enabled"],
                                        config=data["config"], scope=data["scope"], actions=data["actions"],
                                        note=data["note"])
            except ValidationError as error:
                for name, errors in error.message_dict.items():
                    target = "config" if name not in ("scope", "actions", *PolicyForm.base_fields) else name
                    target = {"sources": "scope", "clusters": "scope", "folders": "scope",
                              "custom_attributes": "scope", "notify": "actions", "tag": "actions",
                              "power_off": "actions", "upgrade_tools": "actions"}.get(name, target)
                    form.add_error(target, f"{name}: {' '.join(errors)}")
            else:
                messages.success(request, f"Saved: {updated.name} is at version {updated.version}.")
                return redirect("inventory:policy_detail", pk=policy.pk)
        return self.render_to_response(self.get_context_data(form=form))

    def get_context_data(self, **kwargs):
        policy = self.get_policy()
        kwargs.setdefault("form", PolicyForm(initial={
            "enabled": policy.enabled, "config": policy.config, "scope": policy.scope, "actions": policy.actions}))
        return super().get_context_data(
            policy=policy, versions=list(policy_versions(policy=policy)[:30]),
            can_edit=self.request.user.has_role(*SECURITY_ROLES),
            proposals=[(ActionKind.POWER_OFF, "Propose power off")] + (
                [(ActionKind.UPGRADE_TOOLS, "Propose a VMware Tools upgrade")]
                if policy.kind == PolicyKind.UNPATCHED else []),
            batches=list(action_batch_list().filter(policy=policy)[:10]), **kwargs)


class BaselineListView(GovernanceMixin, TemplateView):
    """Baselines, and the import of a YAML or CSV file (a bad file names its line and field, changes nothing)."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = SECURITY_ROLES
    template_name = "inventory/findings/baseline_list.html"

    def post(self, request):
        form = BaselineImportForm(request.POST, request.FILES)
        problems = []
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                baseline = baseline_import(data=upload.read(), filename=upload.name, name=form.cleaned_data["name"],
                                           user=request.user)
            except ImportRefused as refused:
                problems = [str(problem) for problem in refused.problems]
            else:
                messages.success(request, f"Imported {baseline.name}: {baseline.rules.count()} rule(s).")
                return redirect("inventory:baseline_detail", pk=baseline.pk)
        response = self.render_to_response(self.get_context_data(form=form, problems=problems))
        response.status_code = 400
        return response

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", BaselineImportForm())
        return super().get_context_data(baselines=list(baseline_list()),
                                        can_edit=self.request.user.has_role(*SECURITY_ROLES), **kwargs)


class BaselineDetailView(GovernanceMixin, TemplateView):
    allowed_roles = COMPLIANCE_ROLES
    template_name = "inventory/findings/baseline_detail.html"

    def get_context_data(self, **kwargs):
        baseline = get_object_or_404(Baseline.objects.select_related("updated_by"), pk=self.kwargs["pk"])
        return super().get_context_data(baseline=baseline, rules=list(baseline.rules.all()), **kwargs)


class ActionBatchDetailView(GovernanceMixin, TemplateView):
    """A batch of vCenter actions: every VM with its attempts and vCenter's results; a second security admin
    confirms it here (or cancels it)."""

    allowed_roles = COMPLIANCE_ROLES
    write_roles = SECURITY_ROLES
    template_name = "inventory/findings/batch_detail.html"

    def get_batch(self) -> ActionBatch:
        return get_object_or_404(ActionBatch.objects.select_related("policy", "proposed_by", "confirmed_by"),
                                 pk=self.kwargs["pk"])

    def post(self, request, pk):
        batch = self.get_batch()
        try:
            if request.POST.get("decision") == "confirm":
                action_batch_confirm(batch=batch, user=request.user)
                messages.success(request, "Confirmed: the batch runs now.")
            elif request.POST.get("decision") == "cancel":
                action_batch_cancel(batch=batch, user=request.user)
                messages.success(request, "Cancelled: nothing was done.")
            else:
                messages.error(request, "Choose to confirm or cancel the batch.")
        except PermissionDenied as error:
            messages.error(request, str(error))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("inventory:action_batch_detail", pk=batch.pk)

    def get_context_data(self, **kwargs):
        batch = self.get_batch()
        user = self.request.user
        return super().get_context_data(
            batch=batch, attempts=list(batch.attempts.select_related("vm", "finding").order_by("id")),
            can_decide=user.has_role(*SECURITY_ROLES) and batch.state == "awaiting",
            proposed_by_me=batch.proposed_by_id == user.pk, **kwargs)
