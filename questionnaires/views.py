"""Pages of the questionnaires: campaigns and their progress, an assignment answered, delegated and reviewed,
"my questionnaires", the inbox and the area mappings. Thin: reads go through selectors, every write through a
service, whose ``ValidationError`` is shown as a message on the page and whose ``PermissionDenied`` is a 403
with its reason."""

import csv
import io
import itertools
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import prefetch_related_objects
from django.http import HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import SimpleTemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView, ListView, TemplateView, View
from django_htmx.http import reswap, retarget, trigger_client_event
from openpyxl import Workbook

from portal.access import RoleRequiredMixin
from portal.choices import ALL_ROLES, OVERSIGHT_ROLES, Role
from portal.models import Person
from questionnaires.choices import (
    OPEN_STATUSES,
    AssignmentStatus,
    CampaignStatus,
    DeclaredVMStatus,
    Disposition,
    Platform,
    QuestionKind,
    VMPurpose,
)
from questionnaires.forms import AreaMappingForm, CampaignForm, ReopenForm
from questionnaires.models import AreaMapping, Assignment, Campaign, DeclaredVM, Question, Section
from questionnaires.selectors import (
    SectionState,
    area_mapping_list,
    assignment_children_progress,
    assignment_delegation_candidates,
    assignment_held_sections,
    assignment_questionnaire,
    assignment_visible,
    assignments_awaiting_review,
    assignments_for_user,
    campaign_access,
    campaign_export_answers,
    campaign_export_declared_vms,
    campaign_progress_tree,
    campaign_status_counts,
    campaigns_visible_to,
    declared_vm_list,
    notifications_for_user,
    person_search,
)
from questionnaires.services.answers import OTHER_VALUE, answer_save
from questionnaires.services.area_mappings import area_mapping_create, area_mapping_delete
from questionnaires.services.campaigns import (
    assignment_answer_for,
    assignment_delegate,
    assignment_is_assignee,
    assignment_may_answer_for,
    assignment_may_review,
    assignment_review,
    assignment_reviewer_person,
    assignment_submit,
    campaign_close,
    campaign_create,
    campaign_export_record,
    campaign_launch,
    campaign_may_manage,
    campaign_reopen,
)
from questionnaires.services.notifications import notifications_mark_read
from questionnaires.services.vm_lists import (
    COLUMN_LABELS,
    COLUMNS,
    DATA_CATEGORIES_HELP,
    DATA_CATEGORY_NAMES,
    EXPORT_COLUMNS,
    ParsedRows,
    SaveResult,
    declared_vm_disposition_set,
    declared_vm_export_cells,
    declared_vms_disposition_bulk_set,
    declared_vms_prefill,
    declared_vms_save,
    vm_rows_export_cells,
    vm_rows_parse,
)

# Everybody in the chain of command may be asked, whatever their role: each page checks the object itself
# (an assignee, their managers up the chain, and the oversight roles read; the assignee answers).
QUESTIONNAIRE_ROLES = ALL_ROLES
# Auditors read everything and change nothing.
ANSWER_ROLES = ALL_ROLES - {Role.AUDITOR}
# Creating and running campaigns, keeping the area mappings: the services also check the campaign's owner.
CAMPAIGN_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.ADMIN})
MAPPING_READ_ROLES = OVERSIGHT_ROLES

# Bootstrap colour of each assignment status, campaign status and VM list disposition.
BADGES = {
    AssignmentStatus.NOT_STARTED: "secondary", AssignmentStatus.IN_PROGRESS: "primary",
    AssignmentStatus.SUBMITTED: "info", AssignmentStatus.RETURNED: "warning", AssignmentStatus.ACCEPTED: "success",
    CampaignStatus.DRAFT: "light", CampaignStatus.ACTIVE: "primary", CampaignStatus.CLOSED: "dark",
    Disposition.PENDING: "warning", Disposition.CONFIRMED: "success", Disposition.CORRECTED: "info",
    Disposition.DISOWNED: "secondary", Disposition.ADDED: "light",
}
# The stacked progress bar, in the order an assignment moves through.
PROGRESS_SEGMENTS = (
    (AssignmentStatus.ACCEPTED, "Accepted"),
    (AssignmentStatus.SUBMITTED, "Submitted"),
    (AssignmentStatus.RETURNED, "Returned"),
    (AssignmentStatus.IN_PROGRESS, "In progress"),
    (AssignmentStatus.NOT_STARTED, "Not started"),
)
# The VM grid's cells: (label, choices or None, input type) by column. Built from the list's COLUMNS, so the grid
# always posts every column (a column left out would be saved as empty).
# Headings are the list's COLUMN_LABELS, which problems use too ("Created on"); the name is required (*).
GRID_CELLS = {
    "name": (None, "text"),
    "address": (None, "text"),
    "platform": (Platform.choices, "select"),
    "software": (None, "text"),
    "location": (None, "text"),
    "created_on": (None, "date"),
    "created_by": (None, "text"),
    "purpose": (VMPurpose.choices, "select"),
    "purpose_other": (None, "text"),
    "status": (DeclaredVMStatus.choices, "select"),
    "owner": (None, "text"),
    "data_categories": (None, "text"),
    "notes": (None, "text"),
}
GRID_COLUMNS = tuple(
    (column, COLUMN_LABELS[column] + (" *" if column == "name" else ""), *GRID_CELLS[column]) for column in COLUMNS
)
UPLOAD_TYPES = {".csv": "csv_file", ".xlsx": "xlsx_file"}


def progress_segments(counts: dict[str, int]) -> list[dict[str, Any]]:
    """The stacked bar of a progress count: each status with its share in percent (zero shares left out)."""
    total = counts.get("total", 0)
    return [
        {"status": status.value, "label": label, "count": counts[status], "colour": BADGES[status],
         "percent": round(100 * counts[status] / total, 1)}
        for status, label in PROGRESS_SEGMENTS
        if total and counts[status]
    ]


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _posted_id(request, name: str) -> int:
    """A posted id, or 0 (which matches nothing) when it is missing or not a number."""
    value = request.POST.get(name, "")
    return int(value) if value.isdigit() else 0


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _assignment_url(assignment: Assignment | int) -> str:
    return reverse("questionnaires:assignment", kwargs={"pk": getattr(assignment, "pk", assignment)})


# --- my questionnaires and the inbox --------------------------------------------------------------------------


class MyQuestionnairesView(RoleRequiredMixin, TemplateView):
    """The user's own assignments, and the parts waiting for their review."""

    allowed_roles = QUESTIONNAIRE_ROLES
    template_name = "questionnaires/my.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            own=list(assignments_for_user(user)),
            to_review=list(assignments_awaiting_review(user)),
            badge=BADGES,
            today=timezone.localdate(),
            **kwargs,
        )


class InboxView(RoleRequiredMixin, ListView):
    """The portal inbox; POST marks notifications read (``ids``, or all of them)."""

    allowed_roles = QUESTIONNAIRE_ROLES
    write_roles = QUESTIONNAIRE_ROLES  # marking one's own messages read changes no data of the census
    template_name = "questionnaires/inbox.html"
    context_object_name = "notifications"
    paginate_by = 50

    def get_queryset(self):
        return notifications_for_user(self.request.user, unread_only=self.request.GET.get("unread") == "1")

    def get_context_data(self, **kwargs):
        return super().get_context_data(unread_only=self.request.GET.get("unread") == "1", **kwargs)

    def post(self, request):
        ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
        changed = notifications_mark_read(user=request.user, ids=ids if request.POST.get("all") != "1" else None)
        messages.success(request, f"{changed} message{'s' if changed != 1 else ''} marked read.")
        return redirect(_safe_next(request, reverse("questionnaires:inbox")))


# --- campaigns ------------------------------------------------------------------------------------------------


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
        return redirect("questionnaires:campaign_detail", pk=campaign.pk)


class PersonSearchPartial(RoleRequiredMixin, TemplateView):
    """htmx fragment: ``<option>`` elements of the people matching what was typed (any field of a person form)."""

    allowed_roles = CAMPAIGN_ROLES
    template_name = "questionnaires/_people_options.html"

    def get_context_data(self, **kwargs):
        text = next((value for value in self.request.GET.values() if value.strip()), "")
        return super().get_context_data(people=person_search(text=text), **kwargs)


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
            badge=BADGES,
            **kwargs,
        )


class CampaignStateView(CampaignMixin, TemplateView):
    """GET asks to confirm; POST launches, closes or re-opens (the campaign's owner or an admin)."""

    allowed_roles = CAMPAIGN_ROLES
    write_roles = CAMPAIGN_ROLES
    template_name = "questionnaires/campaign_confirm.html"
    action = ""  # launch, close or reopen
    REQUIRED_STATUS = {"launch": CampaignStatus.DRAFT, "close": CampaignStatus.ACTIVE, "reopen": CampaignStatus.CLOSED}

    def get_context_data(self, **kwargs):
        campaign = self.load_campaign()
        return super().get_context_data(
            campaign=campaign, action=self.action, possible_now=campaign.status == self.REQUIRED_STATUS[self.action],
            may_manage=campaign_may_manage(campaign=campaign, user=self.request.user), badge=BADGES, **kwargs,
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
            else:
                form = ReopenForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(list(form.errors.get("due_date", ["Give a valid date."])))
                campaign_reopen(campaign=campaign, user=request.user, due_date=form.cleaned_data["due_date"])
                messages.success(request, f"“{campaign}” is open again, due {campaign.due_date:%d %b %Y}.")
        except ValidationError as error:
            messages.error(request, _error_text(error))
        return redirect("questionnaires:campaign_detail", pk=campaign.pk)


class ExportView(CampaignMixin, View):
    """Answers of the campaign (all of them, or a participant's own part and below), every cell neutralised
    against formula injection (``vm_rows_export_cells``)."""

    export = ""  # vms.csv, answers.csv or xlsx

    VM_HEADER = ("assignee", "assignee_email", "assignment_status", "question", *EXPORT_COLUMNS)
    ANSWER_HEADER = ("assignee", "assignee_email", "assignment_status", "section", "question_key", "question",
                     "answer", "other")

    def get(self, request, pk):
        campaign = self.load_campaign()
        campaign_export_record(campaign=campaign, user=request.user, export=self.export)
        stem = f"{campaign.name}-{timezone.localdate():%Y%m%d}".replace(" ", "-").replace("/", "-")
        stem = "".join(character for character in stem if character.isalnum() or character in "-_.")
        if self.export == "xlsx":
            return self._xlsx(campaign, f"{stem}.xlsx")
        rows = self._vm_rows(campaign) if self.export == "vms.csv" else self._answer_rows(campaign)
        header = self.VM_HEADER if self.export == "vms.csv" else self.ANSWER_HEADER
        name = f"{stem}-{'vms' if self.export == 'vms.csv' else 'answers'}.csv"
        writer = csv.writer(_Echo())
        # A byte-order mark first, so that Excel reads the file as UTF-8.
        lines = itertools.chain(["\ufeff"], (writer.writerow(row) for row in _with_header(header, rows)))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def _vm_rows(self, campaign: Campaign) -> Iterable[list]:
        for declared in campaign_export_declared_vms(campaign=campaign, user=self.request.user).iterator():
            assignment = declared.assignment
            yield vm_rows_export_cells(
                [assignment.person.name, assignment.person.email, assignment.status, declared.question.key]
            ) + declared_vm_export_cells(declared)

    def _answer_rows(self, campaign: Campaign) -> Iterable[list]:
        for answer in campaign_export_answers(campaign=campaign, user=self.request.user).iterator():
            value = answer.value
            if isinstance(value, list):
                value = "; ".join(str(item) for item in value)
            yield vm_rows_export_cells(
                [answer.assignment.person.name, answer.assignment.person.email, answer.assignment.status,
                 answer.question.section.title, answer.question.key, answer.question.text,
                 "" if value is None else value, answer.other_text]
            )

    def _xlsx(self, campaign: Campaign, name: str) -> HttpResponse:
        workbook = Workbook(write_only=True)
        for title, header, rows in (
            ("VMs", self.VM_HEADER, self._vm_rows(campaign)),
            ("Answers", self.ANSWER_HEADER, self._answer_rows(campaign)),
        ):
            sheet = workbook.create_sheet(title)
            for row in _with_header(header, rows):
                sheet.append(row)
        stream = io.BytesIO()
        workbook.save(stream)
        response = HttpResponse(
            stream.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _with_header(header: Iterable[str], rows: Iterable[list]) -> Iterable[list]:
    yield list(header)
    yield from rows


# --- an assignment ------------------------------------------------------------------------------------------------


class AssignmentMixin(RoleRequiredMixin):
    """Loads the assignment the URL names, if the user may read it: the assignee, their managers up the chain,
    the oversight roles. Everybody else gets 403. Auditors never POST."""

    allowed_roles = QUESTIONNAIRE_ROLES
    write_roles = ANSWER_ROLES

    def load_assignment(self) -> Assignment:
        assignment = assignment_visible(user=self.request.user, pk=self.kwargs["pk"])
        if assignment is None:  # one answer whether it exists or not: ids tell nothing
            raise PermissionDenied("This assignment is not yours, nor in your part of the organisation.")
        return assignment

    def editable(self, assignment: Assignment) -> bool:
        return (
            assignment_is_assignee(assignment=assignment, user=self.request.user)
            and assignment.campaign.status == CampaignStatus.ACTIVE
            and assignment.status in OPEN_STATUSES
        )


# The buttons of a row pre-filled from inventory: (disposition, label).
DISPOSITION_BUTTONS = (
    (Disposition.CONFIRMED.value, "Confirm"),
    (Disposition.CORRECTED.value, "Correct"),
    (Disposition.DISOWNED.value, "Not mine"),
)
# The grid's template row (added by "Add a row"): no id, no values.
EMPTY_GRID_ROW = {"id": None, "cells": {}, "declared": None}


def _vm_context() -> dict:
    """What every rendering of a VM list needs besides its rows."""
    return {"grid_columns": GRID_COLUMNS, "badge": BADGES, "dispositions": DISPOSITION_BUTTONS,
            "empty_row": EMPTY_GRID_ROW, "data_categories_help": DATA_CATEGORIES_HELP}


def _with_vm_rows(sections: list[SectionState]) -> list[SectionState]:
    """Give each VM list question its grid rows and counts (from the rows the questionnaire selector loaded)."""
    for state in sections:
        for question_state in state.questions:
            if question_state.question.kind == QuestionKind.VM_LIST:
                question_state.grid_rows = [_grid_row(declared) for declared in question_state.vm_rows]
                question_state.counts = _vm_counts(question_state.vm_rows)
    return sections


def _status_oob(request, assignment: Assignment, before: str) -> str:
    """The page's status badge, out of band, when a save moved the assignment (not started → in progress)."""
    if assignment.status == before:
        return ""
    context = {"assignment": assignment, "badge": BADGES, "oob": True}
    return render_to_string("questionnaires/_assignment_status.html", context, request=request)


def _section_context(assignment: Assignment, state: SectionState, *, editable: bool, **extra) -> dict:
    return {"assignment": assignment, "state": state, "editable": editable, "other_value": OTHER_VALUE,
            **_vm_context(), **extra}


class AssignmentView(AssignmentMixin, TemplateView):
    """One person's part: the questionnaire (editable by the assignee while it is open), the parts delegated
    below with their review buttons, the submit button. GET only; the forms post to the URLs below."""

    template_name = "questionnaires/assignment.html"

    def get(self, request, *args, **kwargs):
        self.assignment = self.load_assignment()
        return self.render_to_response(self.get_context_data())

    def get_context_data(self, **kwargs):
        assignment = self.assignment
        user = self.request.user
        campaign = assignment.campaign
        active = campaign.status == CampaignStatus.ACTIVE
        is_assignee = assignment_is_assignee(assignment=assignment, user=user)
        editable = self.editable(assignment)
        children = assignment_children_progress(assignment=assignment)
        prefetch_related_objects([child["assignment"] for child in children], "sections")
        sections = _with_vm_rows(assignment_questionnaire(assignment=assignment))
        reviewer = assignment_reviewer_person(assignment=assignment)
        may_answer_for = (
            active and assignment.status != AssignmentStatus.ACCEPTED
            and assignment_may_answer_for(assignment=assignment, user=user)
        )
        return super().get_context_data(
            assignment=assignment,
            campaign=campaign,
            sections=sections,
            is_assignee=is_assignee,
            editable=editable,
            children=children,
            may_review=active and assignment.status == AssignmentStatus.SUBMITTED
            and assignment_may_review(assignment=assignment, user=user),
            may_answer_for=may_answer_for,
            # The side panel (parts below, delegation) only when it has something to show or do.
            side_panel=bool(children) or editable or (may_answer_for and not is_assignee),
            candidates=list(assignment_delegation_candidates(assignment=assignment)) if editable else [],
            held_sections=assignment_held_sections(assignment=assignment) if editable else [],
            reviewer=reviewer,
            reviewer_label=reviewer.name if reviewer else str(campaign.owner),
            other_value=OTHER_VALUE,
            **_vm_context(),
            **kwargs,
        )


class ChildrenPartial(AssignmentMixin, TemplateView):
    """htmx fragment of the campaign page's drill-down: the parts delegated from one assignment, with counts."""

    template_name = "questionnaires/_tree_nodes.html"

    def get_context_data(self, **kwargs):
        assignment = self.load_assignment()
        nodes = assignment_children_progress(assignment=assignment)
        return super().get_context_data(nodes=nodes, badge=BADGES, **kwargs)


class SectionPartial(AssignmentMixin, TemplateView):
    """GET: one section of the questionnaire (htmx). POST: autosave one answer of it.

    The answer is saved as a draft (``answer_save``); the response is the "Saved" indicator of the question
    and, when the answer shows or hides other questions, those sections re-rendered (the question's own
    section in place of the indicator, the others out of band)."""

    template_name = "questionnaires/_section.html"

    def _state(self, sections: list[SectionState]) -> SectionState:
        for state in sections:
            if state.section.pk == self.kwargs["section_id"]:
                return state
        raise PermissionDenied("This section is not part of this assignment.")

    def get(self, request, *args, **kwargs):
        assignment = self.load_assignment()
        state = self._state(_with_vm_rows(assignment_questionnaire(assignment=assignment)))
        return self.render_to_response(_section_context(assignment, state, editable=self.editable(assignment)))

    def post(self, request, *args, **kwargs):
        assignment = self.load_assignment()
        before = {state.section.pk: state.visible_keys() for state in assignment_questionnaire(assignment=assignment)}
        own = self.kwargs["section_id"]
        if own not in before:
            raise PermissionDenied("This section is not part of this assignment.")
        question = get_object_or_404(
            Question, pk=_posted_id(request, "question"), section_id=own,
            section__version_id=assignment.campaign.version_id,
        )
        if question.kind == QuestionKind.MULTIPLE_CHOICE:
            raw: Any = request.POST.getlist("value")
        else:
            raw = request.POST.get("value", "")
        other_text = request.POST.get("other_text", "")
        error = note = ""
        status_before = assignment.status
        try:
            answer = answer_save(assignment=assignment, question=question, raw=raw, other_text=other_text,
                                 user=request.user)
        except PermissionDenied as denied:
            return HttpResponseForbidden(str(denied) or "Only the assignee may change these answers.")
        except ValidationError as invalid:
            error = _error_text(invalid)
        else:
            if other_text.strip() and not answer.other_text:
                note = "Tick “Other” to keep what you wrote."
        sections = _with_vm_rows(assignment_questionnaire(assignment=assignment))
        editable = self.editable(assignment)
        changed = [state for state in sections if state.visible_keys() != before.get(state.section.pk)]
        indicator = render_to_string(
            "questionnaires/_autosave.html",
            {"question": question, "error": error, "note": note, "saved_at": timezone.localtime()},
            request=request,
        )
        own_changed = next((state for state in changed if state.section.pk == own), None)
        parts = [_status_oob(request, assignment, status_before)]
        for state in changed:
            context = _section_context(assignment, state, editable=editable, oob=state is not own_changed,
                                       saved_question=question.pk, indicator=indicator)
            parts.append(render_to_string("questionnaires/_section.html", context, request=request))
        if own_changed is None:
            return HttpResponse(indicator + "".join(parts))
        response = HttpResponse("".join(parts))
        return reswap(retarget(response, f"#section-{own}"), "outerHTML")


def _grid_from_post(post) -> list[dict[str, str]]:
    """The grid's rows as posted: inputs named ``rows-<n>-<column>`` (and ``rows-<n>-id``), in ``n`` order."""
    rows: dict[int, dict[str, str]] = {}
    for key in post:
        parts = key.split("-", 2)
        if len(parts) != 3 or parts[0] != "rows" or not parts[1].isdigit():
            continue
        if parts[2] in COLUMNS or parts[2] == "id":
            rows.setdefault(int(parts[1]), {})[parts[2]] = post.get(key, "")
    return [rows[number] for number in sorted(rows)]


def _grid_row(declared: DeclaredVM) -> dict[str, Any]:
    """A saved row as the grid shows it."""
    cells = {}
    for column in COLUMNS:
        value = getattr(declared, column)
        if column == "created_on":
            value = value.isoformat() if value else ""
        elif column == "data_categories":
            value = "; ".join(DATA_CATEGORY_NAMES.get(code, code) for code in value or [])
        cells[column] = value
    return {"id": declared.pk, "cells": cells, "declared": declared}


class VMListPartial(AssignmentMixin, TemplateView):
    """GET: the VM list of a ``vm_list`` question (htmx). POST ``op``: ``grid`` saves the grid, ``paste`` adds
    rows pasted from a spreadsheet, ``upload`` adds the rows of a CSV or xlsx file, ``disposition`` confirms,
    corrects or disowns a pre-filled row, ``bulk`` confirms (or disowns) every pre-filled row still to check,
    ``prefill`` adds the VMs inventory attributes to the assignee.

    Good rows are saved as a draft even when others are bad; every bad cell is named next to the grid.
    """

    template_name = "questionnaires/_vm_list.html"

    def _question(self, assignment: Assignment) -> Question:
        return get_object_or_404(
            Question.objects.select_related("section"), pk=self.kwargs["question_id"], kind=QuestionKind.VM_LIST,
            section__version_id=assignment.campaign.version_id,
        )

    def _render(self, assignment: Assignment, question: Question, **extra) -> HttpResponse:
        rows = extra.pop("grid_rows", None)
        saved = list(declared_vm_list(assignment=assignment, question=question))
        if rows is None:
            rows = [_grid_row(declared) for declared in saved]
        context = {
            "assignment": assignment, "question": question, "grid_rows": rows, "editable": self.editable(assignment),
            "counts": _vm_counts(saved), **_vm_context(), **extra,
        }
        return self.render_to_response(context)

    def get(self, request, *args, **kwargs):
        assignment = self.load_assignment()
        return self._render(assignment, self._question(assignment))

    def post(self, request, *args, **kwargs):
        assignment = self.load_assignment()
        question = self._question(assignment)
        op = request.POST.get("op", "")
        handler = {"grid": self._grid, "paste": self._paste, "upload": self._upload,
                   "disposition": self._disposition, "bulk": self._bulk, "prefill": self._prefill}.get(op)
        if handler is None:
            return self._render(assignment, question, problems=[f"Unknown action {op!r}."])
        status_before = assignment.status
        try:
            response = handler(assignment, question)
        except PermissionDenied as denied:
            return HttpResponseForbidden(str(denied) or "Only the assignee may change this list.")
        except ValidationError as invalid:
            return self._render(assignment, question, problems=invalid.messages)
        if isinstance(response, SimpleTemplateResponse):
            response.render()
        response.content += _status_oob(request, assignment, status_before).encode()
        return response

    def _save(self, assignment, question, parsed: ParsedRows, *, replace: bool):
        return declared_vms_save(
            assignment=assignment, question=question, rows=parsed.rows, user=self.request.user, replace=replace
        )

    def _grid(self, assignment, question):
        """Autosave of the grid: answers with the list's state line only (the grid as typed stays in the page), and
        names the bad cells in an ``HX-Trigger`` event the page uses to mark them."""
        posted = _grid_from_post(self.request.POST)
        parsed = vm_rows_parse(grid=posted)
        try:
            # A clean grid is the list; with bad cells, the good rows are kept and nothing is deleted until it is clean.
            result = self._save(assignment, question, parsed, replace=not parsed.problems)
        except ValidationError as invalid:  # the list is frozen (submitted, campaign closed): say so by the grid
            # The save is atomic: a refused one left the list as it was.
            saved = list(declared_vm_list(assignment=assignment, question=question))
            context = {"counts": _vm_counts(saved), "problems": [f"Not saved: {_error_text(invalid)}."]}
            return HttpResponse(render_to_string("questionnaires/_vm_status.html", context, request=self.request))
        saved = list(declared_vm_list(assignment=assignment, question=question))
        context = {"counts": _vm_counts(saved), "saved_at": timezone.localtime(),
                   "problems": [str(problem) for problem in parsed.problems]}
        if parsed.problems:
            context["notice"] = (f"{len(parsed.rows)} good row{'s' * (len(parsed.rows) != 1)} saved "
                                 f"({result.total} in the list); the rows with problems are not saved yet.")
        response = HttpResponse(render_to_string("questionnaires/_vm_status.html", context, request=self.request))
        cells = [{"row": p.row, "column": p.column, "message": p.message} for p in parsed.problems if p.row]
        return trigger_client_event(response, "vmProblems", {"question": question.pk, "cells": cells})

    def _paste(self, assignment, question):
        text = self.request.POST.get("text", "")
        if not text.strip():
            return self._render(assignment, question, problems=["Paste the rows into the box first."])
        parsed = vm_rows_parse(text=text)
        added = _added_text(self._save(assignment, question, parsed, replace=False) if parsed.rows else None)
        if not parsed.problems:
            return self._render(assignment, question, notice=f"{added}.")
        return self._render(
            assignment, question, problems=[str(p) for p in parsed.problems], paste_text=text,
            notice=f"{added}. The rows with problems were not added: fix them in the box and add again "
                   "(rows added already are not added twice).",
        )

    def _upload(self, assignment, question):
        upload = self.request.FILES.get("file")
        if upload is None:
            return self._render(assignment, question, problems=["Choose a CSV or xlsx file to upload."])
        suffix = "." + upload.name.rsplit(".", 1)[-1].lower() if "." in upload.name else ""
        if suffix not in UPLOAD_TYPES:
            return self._render(
                assignment, question,
                problems=[f"“{upload.name}” is not a .csv or .xlsx file: save the list as CSV UTF-8 or xlsx."],
            )
        parsed = vm_rows_parse(**{UPLOAD_TYPES[suffix]: upload})
        added = _added_text(self._save(assignment, question, parsed, replace=False) if parsed.rows else None)
        problems = [f"“{upload.name}” {p.message}" if not p.row else str(p) for p in parsed.problems]
        return self._render(assignment, question, problems=problems, notice=f"{added} from “{upload.name}”.")

    def _disposition(self, assignment, question):
        declared = get_object_or_404(
            DeclaredVM, pk=_posted_id(self.request, "row_id"), assignment=assignment, question=question
        )
        declared_vm_disposition_set(
            declared_vm=declared, disposition=self.request.POST.get("disposition", ""), user=self.request.user
        )
        labels = {Disposition.CONFIRMED: "confirmed", Disposition.CORRECTED: "to correct: edit its cells and save",
                  Disposition.DISOWNED: "not yours"}
        return self._render(assignment, question, notice=f"{declared.name}: {labels.get(declared.disposition, '')}.")

    def _bulk(self, assignment, question):
        disposition = self.request.POST.get("disposition", "")
        changed = declared_vms_disposition_bulk_set(
            assignment=assignment, question=question, disposition=disposition, user=self.request.user
        )
        done = "confirmed" if disposition == Disposition.CONFIRMED else "marked not mine"
        if not changed:
            return self._render(assignment, question, notice="No row from inventory is still to check.")
        return self._render(assignment, question, notice=f"{changed} row{'s' * (changed != 1)} {done}.")

    def _prefill(self, assignment, question):
        if not assignment_is_assignee(assignment=assignment, user=self.request.user):
            raise PermissionDenied(f"Only {assignment.person.name} can fill their list from inventory.")
        added = declared_vms_prefill(assignment=assignment, question=question)
        if added:
            notice = (f"Added {added} VM{'s' * (added != 1)} from inventory: confirm each one, "
                      "or mark it 'not mine'.")
        else:
            notice = "Inventory has no other VM attributed to your area."
        return self._render(assignment, question, notice=notice)


def _added_text(result: SaveResult | None) -> str:
    """What a paste or an upload added: "3 rows added, 1 updated", or "No row added" when nothing was saved."""
    if result is None:
        return "No row added"
    added = f"{result.created} row{'s' * (result.created != 1)} added"
    return f"{added}, {result.updated} updated" if result.updated else added


def _vm_counts(rows: list[DeclaredVM]) -> dict[str, int]:
    counts = {value: 0 for value in Disposition.values}
    for declared in rows:
        counts[declared.disposition] += 1
    counts["total"] = len(rows)
    counts["declared"] = counts[Disposition.CONFIRMED] + counts[Disposition.CORRECTED] + counts[Disposition.ADDED]
    return counts


class AssignmentActionView(AssignmentView):
    """Base of the workflow actions: GET shows the assignment's page; POST calls the service, then redirects
    with a message (a refusal's reasons as an error message)."""

    def post(self, request, *args, **kwargs):
        self.assignment = self.load_assignment()
        try:
            text = self.act(self.assignment)
        except ValidationError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(request, text)
        return redirect(_safe_next(request, _assignment_url(self.assignment)))

    def act(self, assignment: Assignment) -> str:
        raise NotImplementedError


class DelegateView(AssignmentActionView):
    """Hand the assignment (all of it, or named sections) to a direct report."""

    def act(self, assignment):
        person = Person.objects.filter(pk=_posted_id(self.request, "person")).first()
        if person is None:
            raise ValidationError("Choose the direct report to delegate to.")
        section_ids = [value for value in self.request.POST.getlist("sections") if value.isdigit()]
        sections = list(Section.objects.filter(pk__in=section_ids, version_id=assignment.campaign.version_id))
        child = assignment_delegate(assignment=assignment, to_person=person, sections=sections, user=self.request.user)
        what = ", ".join(f"“{section.title}”" for section in sections) if sections else "the whole questionnaire"
        return f"{what[0].upper()}{what[1:]} delegated to {child.person.name}."


class SubmitView(AssignmentActionView):
    """Send the answers up for review; when refused, the page again with every reason listed by the button."""

    def post(self, request, *args, **kwargs):
        self.assignment = self.load_assignment()
        try:
            assignment_submit(assignment=self.assignment, user=request.user)
        except ValidationError as error:
            return self.render_to_response(self.get_context_data(submit_problems=error.messages))
        reviewer = assignment_reviewer_person(assignment=self.assignment)
        messages.success(
            request, f"Submitted: {reviewer.name if reviewer else self.assignment.campaign.owner} reviews it now."
        )
        return redirect(_assignment_url(self.assignment))


class ReviewView(AssignmentActionView):
    """Accept a submitted part, or return it with a comment saying why (required)."""

    def act(self, assignment):
        accept = self.request.POST.get("decision") == "accept"
        assignment_review(
            assignment=assignment, user=self.request.user, accept=accept, comment=self.request.POST.get("comment", "")
        )
        if accept:
            return f"{assignment.person.name}'s part is accepted."
        return f"{assignment.person.name}'s part is returned with your comment."


class AnswerForView(AssignmentActionView):
    """The manager who delegated a part answers it themselves, with a reason."""

    def act(self, assignment):
        assignment_answer_for(assignment=assignment, user=self.request.user, reason=self.request.POST.get("reason", ""))
        return f"{assignment.person.name}'s part is marked answered by you."


# --- area mappings --------------------------------------------------------------------------------------------


class AreaMappingListView(RoleRequiredMixin, FormView):
    """Which person's area each cluster, folder or resource pool belongs to (for pre-filled VM lists)."""

    allowed_roles = MAPPING_READ_ROLES
    write_roles = CAMPAIGN_ROLES
    template_name = "questionnaires/area_mappings.html"
    form_class = AreaMappingForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            mappings=area_mapping_list(), can_edit=self.request.user.has_role(*CAMPAIGN_ROLES), **kwargs
        )

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            mapping = area_mapping_create(
                person=data["person"], scope=data["scope"], pattern=data["pattern"], user=self.request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Added: {mapping}.")
        return redirect("questionnaires:area_mappings")


class AreaMappingDeleteView(RoleRequiredMixin, TemplateView):
    """GET asks to confirm; POST deletes the mapping."""

    allowed_roles = MAPPING_READ_ROLES
    write_roles = CAMPAIGN_ROLES
    template_name = "questionnaires/area_mapping_confirm_delete.html"

    def get_context_data(self, **kwargs):
        mapping = get_object_or_404(AreaMapping.objects.select_related("person"), pk=self.kwargs["pk"])
        return super().get_context_data(
            mapping=mapping, can_edit=self.request.user.has_role(*CAMPAIGN_ROLES), **kwargs
        )

    def post(self, request, pk):
        mapping = get_object_or_404(AreaMapping.objects.select_related("person"), pk=pk)
        label = str(mapping)
        area_mapping_delete(mapping=mapping, user=request.user)
        messages.success(request, f"Deleted: {label}.")
        return redirect("questionnaires:area_mappings")

