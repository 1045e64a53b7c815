"""Campaign pages: the list, a new draft, progress with its drill-down, launch / close / re-open, exports."""

import datetime
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import FormView, ListView, TemplateView, View

from inventory.choices import Platform
from portal.access import RoleRequiredMixin
from portal.choices import OVERSIGHT_ROLES
from portal.exports import (
    MANY_SEPARATOR,
    Export,
    ExportColumn,
    export_csv_response,
    export_filename,
    export_xlsx_response,
)
from questionnaires.choices import (
    AssignmentStatus,
    CampaignStatus,
    DataCategory,
    DeclaredVMStatus,
    Disposition,
    QuestionKind,
    VMPurpose,
)
from questionnaires.forms import CampaignForm, ReopenForm
from questionnaires.models import Answer, Campaign, DeclaredVM, Question
from questionnaires.permissions import (
    CAMPAIGN_ROLES,
    QUESTIONNAIRE_ROLES,
    campaign_may_manage,
)
from questionnaires.selectors import (
    assignments_for_user,
    campaign_access,
    campaign_export_answers,
    campaign_export_declared_vms,
    campaign_overlaps,
    campaign_progress_tree,
    campaign_reach,
    campaign_status_counts,
    campaigns_visible_to,
    reconciliation_open_count,
)
from questionnaires.services.answers import OTHER_VALUE
from questionnaires.services.campaigns import (
    campaign_close,
    campaign_create,
    campaign_delete,
    campaign_export_record,
    campaign_launch,
    campaign_reopen,
    campaign_update,
)
from questionnaires.views.common import BADGES, error_text, progress_segments
from questionnaires.vm_rows.columns import COLUMN_LABELS, COLUMNS


class CampaignListView(RoleRequiredMixin, ListView):
    """Every campaign for the oversight roles; for the others, those they take part in."""

    allowed_roles = QUESTIONNAIRE_ROLES
    template_name = "questionnaires/campaign_list.html"
    context_object_name = "campaigns"
    paginate_by = 50

    def get_queryset(self):
        return campaigns_visible_to(self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        campaigns = list(context["campaigns"])
        whole = user.has_role(*OVERSIGHT_ROLES)
        counts = campaign_status_counts(campaign_ids=[campaign.pk for campaign in campaigns]) if whole else {}
        own = {assignment.campaign_id: assignment for assignment in assignments_for_user(user)}
        for campaign in campaigns:
            campaign.counts = counts.get(campaign.pk)
            campaign.segments = progress_segments(campaign.counts) if campaign.counts else []
            campaign.own_part = own.get(campaign.pk)
        context.update(
            campaigns=campaigns, badge=BADGES, can_create=user.has_role(*CAMPAIGN_ROLES), whole=whole,
        )
        return context


class CampaignCreateView(RoleRequiredMixin, FormView):
    allowed_roles = CAMPAIGN_ROLES
    write_roles = CAMPAIGN_ROLES
    template_name = "questionnaires/campaign_form.html"
    form_class = CampaignForm

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            campaign = campaign_create(
                name=data["name"], version=data["version"], scope=data["scope"], owner=self.request.user,
                due_date=data["due_date"], reminder_every_days=data["reminder_every_days"],
                escalate_after_days=data["escalate_after_days"], cascade=data["cascade"],
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        messages.success(self.request, f"“{campaign}” is a draft: check it, then launch it.")
        overlap_warning(self.request, campaign)
        return redirect("questionnaires:campaign_detail", pk=campaign.pk)


def overlap_warning(request, campaign: Campaign) -> None:
    """Warn that people the campaign would ask already have a part in a live campaign (they will get two)."""
    overlaps = campaign_overlaps(scope=campaign.scope, cascade=campaign.cascade, exclude=campaign)
    if overlaps:
        listed = "; ".join(
            f"{row['people']} in “{row['name']}”" for row in overlaps
        )
        messages.warning(request, f"People this campaign asks already have a part in an active campaign ({listed}): "
                                  "they will answer twice unless you change the scope.")


class CampaignUpdateView(RoleRequiredMixin, FormView):
    """Edit a draft's settings (its owner or an admin); a launched campaign keeps what it was launched with."""

    allowed_roles = CAMPAIGN_ROLES
    write_roles = CAMPAIGN_ROLES
    template_name = "questionnaires/campaign_form.html"
    form_class = CampaignForm

    @cached_property
    def campaign(self) -> Campaign:
        campaign = get_object_or_404(Campaign.objects.select_related("scope", "owner"), pk=self.kwargs["pk"])
        if not campaign_may_manage(campaign=campaign, user=self.request.user):
            raise PermissionDenied(f"Only the campaign's owner ({campaign.owner}) or an admin can edit it.")
        return campaign

    def get(self, request, *args, **kwargs):
        if self.campaign.status != CampaignStatus.DRAFT:  # say so rather than offer a form that is refused
            return self.render_to_response(self.get_context_data(form=None, not_draft=True))
        return super().get(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "submit_label": "Save the draft"}

    def get_initial(self):
        campaign = self.campaign
        return {
            "name": campaign.name, "version": campaign.version_id, "scope": f"{campaign.scope.name} "
            f"<{campaign.scope.email}>", "due_date": campaign.due_date,
            "reminder_every_days": campaign.reminder_every_days, "escalate_after_days": campaign.escalate_after_days,
            "cascade": "yes" if campaign.cascade else "no",
        }

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        for name, value in self.get_initial().items():  # the draft's values, not the defaults of a new one
            form.fields[name].initial = value
        return form

    def get_context_data(self, **kwargs):
        return super().get_context_data(campaign=self.campaign, **kwargs)

    def form_valid(self, form):
        try:
            campaign_update(campaign=self.campaign, user=self.request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        messages.success(self.request, f"“{self.campaign}” is saved; it is still a draft.")
        overlap_warning(self.request, self.campaign)
        return redirect("questionnaires:campaign_detail", pk=self.campaign.pk)


class CampaignMixin(RoleRequiredMixin):
    """Loads the campaign and what the user sees of it; 403 for those who take no part in it."""

    allowed_roles = QUESTIONNAIRE_ROLES

    def load_campaign(self) -> Campaign:
        campaign = get_object_or_404(
            Campaign.objects.select_related("version__template", "scope", "owner"), pk=self.kwargs["pk"]
        )
        self.access = campaign_access(campaign=campaign, user=self.request.user)
        if self.access is None:
            raise PermissionDenied(f"You take no part in “{campaign}”.")
        return campaign


class CampaignDetailView(CampaignMixin, TemplateView):
    """Progress of the whole campaign (or, for a participant, of their own part and below), the drill-down
    tree, the state buttons for its owner and the exports."""

    template_name = "questionnaires/campaign_detail.html"

    def get_context_data(self, **kwargs):
        campaign = self.load_campaign()
        progress = campaign_progress_tree(campaign=campaign, root=self.access.assignment)
        return super().get_context_data(
            campaign=campaign,
            access=self.access,
            counts=progress["counts"],
            segments=progress_segments(progress["counts"]),
            nodes=progress["nodes"],
            may_manage=campaign_may_manage(campaign=campaign, user=self.request.user),
            reconciliation_open=reconciliation_open_count(campaign=campaign, user=self.request.user),
            badge=BADGES,
            **kwargs,
        )


class CampaignStateView(CampaignMixin, TemplateView):
    """GET asks to confirm; POST launches, closes or re-opens (the campaign's owner or an admin)."""

    allowed_roles = CAMPAIGN_ROLES
    write_roles = CAMPAIGN_ROLES
    template_name = "questionnaires/campaign_confirm.html"
    action = ""  # launch, close, reopen or delete
    REQUIRED_STATUS = {"launch": CampaignStatus.DRAFT, "close": CampaignStatus.ACTIVE, "reopen": CampaignStatus.CLOSED,
                       "delete": CampaignStatus.DRAFT}

    def get_context_data(self, **kwargs):
        campaign = self.load_campaign()
        extra = {}
        if self.action == "launch" and campaign.status == CampaignStatus.DRAFT:
            extra = {"reach": campaign_reach(scope=campaign.scope, cascade=campaign.cascade).count(),
                     "overlaps": campaign_overlaps(scope=campaign.scope, cascade=campaign.cascade, exclude=campaign)}
        return super().get_context_data(
            campaign=campaign, action=self.action, possible_now=campaign.status == self.REQUIRED_STATUS[self.action],
            may_manage=campaign_may_manage(campaign=campaign, user=self.request.user), badge=BADGES, **extra,
            **kwargs,
        )

    def post(self, request, pk):
        campaign = self.load_campaign()
        try:
            if self.action == "launch":
                created = campaign_launch(campaign=campaign, user=request.user)
                messages.success(request, f"“{campaign}” is launched: {created} assignment{'s' * (created != 1)} sent.")
            elif self.action == "close":
                campaign_close(campaign=campaign, user=request.user)
                messages.success(request, f"“{campaign}” is closed: its answers are frozen.")
            elif self.action == "delete":
                name = str(campaign)
                campaign_delete(campaign=campaign, user=request.user)
                messages.success(request, f"The draft “{name}” is deleted.")
                return redirect("questionnaires:campaign_list")
            else:
                form = ReopenForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(list(form.errors.get("due_date", ["Give a valid date."])))
                campaign_reopen(campaign=campaign, user=request.user, due_date=form.cleaned_data["due_date"])
                messages.success(request, f"“{campaign}” is open again, due {campaign.due_date:%d %b %Y}.")
        except ValidationError as error:
            messages.error(request, error_text(error))
        return redirect("questionnaires:campaign_detail", pk=campaign.pk)


# The coded columns of a declared VM: the label of each code (the export shows labels, the codes beside them).
VM_CHOICES = {
    "platform": dict(Platform.choices), "purpose": dict(VMPurpose.choices), "status": dict(DeclaredVMStatus.choices),
    "data_categories": dict(DataCategory.choices),
}
VM_WIDTHS = {"name": 24, "address": 20, "software": 22, "location": 20, "owner": 20, "notes": 40,
             "data_categories": 30}
STATUS_COLUMN = ExportColumn("Assignment status", 14, dict(AssignmentStatus.choices))
VM_EXPORT_COLUMNS = (
    ExportColumn("Assignee", 20), ExportColumn("Assignee e-mail", 26), STATUS_COLUMN, ExportColumn("Question", 30),
    *(ExportColumn(COLUMN_LABELS[name], VM_WIDTHS.get(name, 14), VM_CHOICES.get(name)) for name in COLUMNS),
    ExportColumn("Disposition", 14, dict(Disposition.choices)), ExportColumn("Inventory VM id", 10),
)
ANSWER_EXPORT_COLUMNS = (
    ExportColumn("Assignee", 20), ExportColumn("Assignee e-mail", 26), STATUS_COLUMN, ExportColumn("Section", 24),
    ExportColumn("Question key", 18), ExportColumn("Question", 40), ExportColumn("Answer", 40),
    ExportColumn("Answer (code)", 24), ExportColumn("Other", 24),
)


def _answer_shown(question: Question, value: Any) -> Any:
    """An answer as a person reads it: labels of the choices, Yes or No, a date, a number; None when empty."""
    if value is None:
        return None
    if question.kind == QuestionKind.YES_NO:
        return value.capitalize()
    if question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        labels = {choice["value"]: choice.get("label", choice["value"]) for choice in question.choices}
        labels[OTHER_VALUE] = "Other"
        return MANY_SEPARATOR.join(labels.get(code, code) for code in (value if isinstance(value, list) else [value]))
    if question.kind == QuestionKind.DATE:
        return datetime.date.fromisoformat(value)
    if question.kind == QuestionKind.NUMBER:
        return Decimal(value)
    return value


class ExportView(CampaignMixin, View):
    """Answers of the campaign (all of them, or a participant's own part and below), through the shared exporter
    (``portal.exports``): labels with their codes, typed cells, an About sheet."""

    export = ""  # vms.csv, answers.csv or xlsx

    def get(self, request, pk):
        campaign = self.load_campaign()
        campaign_export_record(campaign=campaign, user=request.user, export=self.export)
        stem = export_filename(f"{campaign.name}-{timezone.localdate():%Y%m%d}")
        part = {} if self.access.whole else {"Part of": self.access.assignment.person.name}
        status = campaign.get_status_display().lower()
        facts = {"Campaign": f"{campaign.name} ({status}, due {campaign.due_date:%d %b %Y})"}
        declared = campaign_export_declared_vms(campaign=campaign, user=request.user)
        answers = campaign_export_answers(campaign=campaign, user=request.user)
        vms = Export(
            title=f"Declared VMs of {campaign.name}", filename=f"{stem}-vms", columns=VM_EXPORT_COLUMNS,
            rows=(self._vm_row(row) for row in declared.iterator()), user=request.user,
            count=declared.count() if self.export == "xlsx" else 0, filters=part, sheet="VMs", facts=facts,
        )
        answered = Export(
            title=f"Answers of {campaign.name}", filename=f"{stem}-answers", columns=ANSWER_EXPORT_COLUMNS,
            rows=(self._answer_row(row) for row in answers.iterator()), user=request.user,
            count=answers.count() if self.export == "xlsx" else 0, filters=part, sheet="Answers", facts=facts,
        )
        if self.export == "xlsx":
            vms.title, vms.filename = f"Answers and declared VMs of {campaign.name}", stem
            return export_xlsx_response(vms, answered)
        return export_csv_response(vms if self.export == "vms.csv" else answered)

    @staticmethod
    def _vm_row(declared: DeclaredVM) -> list[Any]:
        assignment = declared.assignment
        cells = [getattr(declared, name) for name in COLUMNS]
        return [
            assignment.person.name, assignment.person.email, assignment.status, declared.question.text,
            *((value if value != "" else None) for value in cells), declared.disposition, declared.inventory_vm_id,
        ]

    @staticmethod
    def _answer_row(answer: Answer) -> list[Any]:
        question = answer.question
        value = answer.value
        codes = MANY_SEPARATOR.join(value) if isinstance(value, list) else value
        return [
            answer.assignment.person.name, answer.assignment.person.email, answer.assignment.status,
            question.section.title, question.key, question.text, _answer_shown(question, value),
            codes if question.kind in CODED_KINDS else None, answer.other_text or None,
        ]


# Question kinds whose answers are codes (shown as labels, the codes beside them).
CODED_KINDS = (QuestionKind.YES_NO, QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)
