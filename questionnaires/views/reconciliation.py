"""A campaign's reconciliation: the figures per state, the drill-down by person, the filterable list of items
with their answers, the bulk answers and routing, "Reconcile now", and the CSV / xlsx exports of the list.

Everybody who reads the campaign reads its reconciliation, as far as their part of the organisation goes
(``reconciliation_items_visible_to``); the services decide who may answer which item. A refusal of a service is a
message naming the item, and the list is shown again as it was.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView, View

from inventory.models import VirtualMachine
from inventory.selectors import ESTATE_WIDE_ROLES
from portal.access import RoleRequiredMixin
from portal.exports import Export, ExportColumn, export_csv_response, export_filename, export_xlsx_response
from portal.models import Person, User
from portal.views import querystring, safe_next
from questionnaires.choices import CampaignStatus, MatchKey, ReconciliationState, Resolution
from questionnaires.filters import ANSWER_STATUSES, ReconciliationItemFilter
from questionnaires.forms import FollowUpAnswerForm, FollowUpRouteForm
from questionnaires.models import Campaign, ReconciliationItem
from questionnaires.permissions import ANSWER_ROLES, QUESTIONNAIRE_ROLES, campaign_may_manage
from questionnaires.selectors import (
    campaign_access,
    reconciliation_candidates,
    reconciliation_items_page,
    reconciliation_items_visible_to,
    reconciliation_summary,
)
from questionnaires.services.follow_ups import RESOLUTIONS, follow_ups_answer, follow_ups_answerable, follow_ups_route
from questionnaires.services.reconciliation_requests import reconciliation_export_record, reconciliation_request
from questionnaires.views.common import BADGES, error_text

State = ReconciliationState
# Items a page of the list shows.
ITEMS_PER_PAGE = 50
# Bootstrap colour of each state, and the order of the stacked bar: from agreed to unknown.
STATE_COLOURS = {
    State.MATCHED: "success", State.MISMATCH: "info", State.CONFLICT: "dark", State.UNDECLARED: "warning",
    State.NOT_FOUND: "danger", State.NOT_FOUND_UNSCANNED: "secondary",
}
STATE_ORDER = tuple(STATE_COLOURS)
# The answers the list's bulk action offers: those that need nothing but a note.
BULK_RESOLUTIONS = (Resolution.RETIRED, Resolution.NOT_SCANNED, Resolution.ACCEPTED, Resolution.DISOWNED)
# The sort orders the page offers: (value of ``ordering``, label).
SORT_CHOICES = (
    ("", "Waiting first, by state"), ("name", "Name"), ("declarer", "Declared by"), ("routed_to", "Routed to"),
    ("-resolved_at", "Answered, newest first"),
)


def state_lines(counts: dict) -> list[dict[str, Any]]:
    """One line per state (label, colour, count, open, resolved, share of the total in percent), in bar order."""
    total = counts.get("total", 0)
    lines = []
    for state in STATE_ORDER:
        count = counts[state]
        resolved = counts["resolved_by_state"][state]
        lines.append({
            "state": state.value, "label": state.label, "colour": STATE_COLOURS[state], "count": count,
            "resolved": resolved, "open": 0 if state == State.MATCHED else count - resolved,
            "percent": round(100 * count / total, 1) if total else 0,
        })
    return lines


def item_name(item: ReconciliationItem) -> str:
    """What people call the VM of an item: the declared name, else (undeclared) the inventory's."""
    if item.declared_vm_id:
        return item.declared_vm.name
    return item.vm.name if item.vm_id else item.key


def decorate_items(items: list[ReconciliationItem], user: User) -> list[ReconciliationItem]:
    """Give each item of a page what its row shows: its name, its candidates the user may read, whether the user
    may answer it and with what. Two queries for the whole page."""
    candidates = reconciliation_candidates(items=items, user=user)
    answerable = follow_ups_answerable(items=items, user=user)
    for item in items:
        item.name = item_name(item)
        item.candidate_vms = [candidates[vm_id] for vm_id in item.candidates if vm_id in candidates]
        item.hidden_candidates = len(item.candidates) - len(item.candidate_vms)
        item.fits = [Resolution(value) for value in RESOLUTIONS[item.state]] if item.pk in answerable else []
        item.may_answer = bool(item.fits)  # a matched item has nothing to answer
        item.linkable = bool(item.declared_vm_id and Resolution.LINKED in item.fits and item.candidate_vms)
        item.match_label = MatchKey(item.match_key).label if item.match_key else ""
    return items


def answer_message(count: int, resolution: str) -> str:
    label = Resolution(resolution).label
    return f"{count} item{'s' * (count != 1)} answered: {label[:1].lower()}{label[1:]}."


def answer_from_post(request, visible: QuerySet[ReconciliationItem]) -> None:
    """Answer the items a POST ticks, among those ``visible`` to the user, and say how it went in a message."""
    form = FollowUpAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors_text(form))
        return
    data = form.cleaned_data
    try:
        count = follow_ups_answer(
            items=chosen_items(visible, data["item"]), user=request.user, resolution=data["resolution"],
            note=data["note"], vm=chosen_vm(data["vm"]), purpose=data["purpose"],
            data_categories=data["data_categories"],
        )
    except (PermissionDenied, ValidationError) as refused:
        messages.error(request, refusal_text(refused))
    else:
        messages.success(request, answer_message(count, data["resolution"]))


class ReconciliationMixin(RoleRequiredMixin):
    """Loads the campaign if the user reads it: its participants, the oversight roles and the roles that see the
    whole estate. Everybody else gets 403. Auditors never POST."""

    allowed_roles = QUESTIONNAIRE_ROLES
    write_roles = ANSWER_ROLES

    def load_campaign(self) -> Campaign:
        campaign = get_object_or_404(
            Campaign.objects.select_related("version__template", "scope", "owner"), pk=self.kwargs["pk"]
        )
        user = self.request.user
        if not user.has_role(*ESTATE_WIDE_ROLES) and campaign_access(campaign=campaign, user=user) is None:
            raise PermissionDenied(f"You take no part in “{campaign}”.")
        return campaign

    def page_url(self, campaign: Campaign) -> str:
        return safe_next(self.request, reverse("questionnaires:reconciliation", kwargs={"pk": campaign.pk}))

    def filtered(self, visible: QuerySet[ReconciliationItem]) -> ReconciliationItemFilter:
        data = self.request.GET.copy()
        data.pop("campaign", None)  # the page's campaign, whatever the query says
        return ReconciliationItemFilter(data, queryset=visible)


class ReconciliationView(ReconciliationMixin, TemplateView):
    """The campaign's reconciliation: the last run, the figures, the drill-down and a page of the list."""

    template_name = "questionnaires/reconciliation.html"

    def get_context_data(self, **kwargs):
        campaign = self.load_campaign()
        user = self.request.user
        visible = reconciliation_items_visible_to(user, campaign=campaign)
        filterset = self.filtered(visible)
        filterset.is_valid()  # the valid filters apply, the bad ones are named on the page
        head = filterset.form.cleaned_data.get("subtree")
        summary = reconciliation_summary(campaign=campaign, user=user, head=head, items=visible)
        ids = filterset.qs.values_list("pk", flat=True)
        page = Paginator(ids, ITEMS_PER_PAGE).get_page(self.request.GET.get("page"))
        items = decorate_items(reconciliation_items_page(list(page)), user)
        writer = user.has_role(*ANSWER_ROLES)
        return super().get_context_data(
            campaign=campaign,
            summary=summary,
            lines=state_lines(summary["counts"]),
            people=[{**row, "lines": state_lines(row["counts"])} for row in summary["people"]],
            items=items,
            page_obj=page,
            filter_errors=[f"{name}: {' '.join(errors)}" for name, errors in filterset.form.errors.items()],
            query=self.request.GET,
            states=[(state.value, state.label) for state in STATE_ORDER],
            answer_statuses=ANSWER_STATUSES,
            sort_choices=SORT_CHOICES,
            querystring=querystring(self.request),
            drill_querystring=querystring(self.request, subtree=None),
            state_querystring=querystring(self.request, state=None),
            badge=BADGES,
            may_run=campaign_may_manage(campaign=campaign, user=user) and campaign.status != CampaignStatus.DRAFT,
            may_answer=writer and any(item.may_answer for item in items),
            bulk_resolutions=[(value.value, value.label) for value in BULK_RESOLUTIONS],
            route_form=FollowUpRouteForm() if writer else None,
            next_url=self.request.get_full_path(),
            whole=user.has_role(*ESTATE_WIDE_ROLES),
            **kwargs,
        )


class ReconciliationAnswerView(ReconciliationView):
    """POST: answer the ticked items of the campaign (the bulk action), or link one to a candidate VM. GET shows
    the page."""

    def post(self, request, pk):
        campaign = self.load_campaign()
        answer_from_post(request, reconciliation_items_visible_to(request.user, campaign=campaign))
        return redirect(self.page_url(campaign))


class ReconciliationRouteView(ReconciliationView):
    """POST: send the ticked items to somebody else to answer. GET shows the page."""

    def post(self, request, pk):
        campaign = self.load_campaign()
        form = FollowUpRouteForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_errors_text(form))
            return redirect(self.page_url(campaign))
        person = form.cleaned_data["to_person"]
        try:
            items = chosen_items(reconciliation_items_visible_to(request.user, campaign=campaign),
                                  form.cleaned_data["item"])
            count = follow_ups_route(items=items, to_person=person, user=request.user)
        except (PermissionDenied, ValidationError) as refused:
            messages.error(request, refusal_text(refused))
        else:
            messages.success(request, f"{count} item{'s' * (count != 1)} sent to {person.name}.")
        return redirect(self.page_url(campaign))


class ReconciliationRunView(ReconciliationView):
    """POST: "Reconcile now" (the campaign's owner or an admin). GET shows the page."""

    def post(self, request, pk):
        campaign = self.load_campaign()
        try:
            reconciliation_request(campaign=campaign, user=request.user)
        except (PermissionDenied, ValidationError) as refused:
            messages.error(request, refusal_text(refused))
        else:
            messages.success(request, f"Reconciliation of “{campaign}” started: the figures below show its result "
                                      "once it has run.")
        return redirect(self.page_url(campaign))


# The export's columns: heading and width, in the order of ``_export_row``.
EXPORT_COLUMNS = (
    ExportColumn("Item", 10), ExportColumn("State", 26, dict(ReconciliationState.choices)),
    ExportColumn("Declared name", 24),
    ExportColumn("Declared by", 20), ExportColumn("Declared by (e-mail)", 26), ExportColumn("Row", 6),
    ExportColumn("Inventory VM", 24), ExportColumn("Inventory VM id", 10),
    ExportColumn("Matched by", 26, dict(MatchKey.choices)),
    ExportColumn("Matched value", 24), ExportColumn("Reasons", 60), ExportColumn("Candidates (VM ids)", 18),
    ExportColumn("Routed to", 20), ExportColumn("Routed to (e-mail)", 26),
    ExportColumn("Answer", 28, dict(Resolution.choices)),
    ExportColumn("Answer note", 40), ExportColumn("Answered by", 16), ExportColumn("Answered at", 18),
)


def _export_row(item: ReconciliationItem) -> list[Any]:
    declared = item.declared_vm
    return [
        item.key, item.state, declared.name if declared else "",
        item.declarer.name if item.declarer_id else "", item.declarer.email if item.declarer_id else "",
        declared.row if declared else None, item.vm.name if item.vm_id else "", item.vm_id,
        item.match_key or None, item.match_value,
        "; ".join(reason.get("message", "") for reason in item.reasons),
        ", ".join(str(vm_id) for vm_id in item.candidates),
        item.routed_to.name if item.routed_to_id else "", item.routed_to.email if item.routed_to_id else "",
        item.resolution or None, item.resolution_note, str(item.resolved_by) if item.resolved_by_id else "",
        item.resolved_at,
    ]


class ReconciliationExportView(ReconciliationMixin, View):
    """The list as filtered on the page, as CSV or xlsx; written to the audit trail with its filters."""

    export = ""  # csv or xlsx

    def get(self, request, pk):
        campaign = self.load_campaign()
        filterset = self.filtered(reconciliation_items_visible_to(request.user, campaign=campaign))
        items: QuerySet = filterset.qs
        filters = _filter_labels(filterset)
        count = items.count()
        reconciliation_export_record(campaign=campaign, user=request.user, export=self.export, filters=filters,
                                     rows=count)
        export = Export(
            title=f"Reconciliation items of {campaign.name}", sheet="Items",
            filename=export_filename(f"{campaign.name}-reconciliation-{timezone.localdate():%Y%m%d}"),
            columns=EXPORT_COLUMNS, rows=(_export_row(item) for item in items.iterator(chunk_size=2000)),
            user=request.user, count=count, filters=filters, facts={"Campaign": campaign.name},
        )
        return export_xlsx_response(export) if self.export == "xlsx" else export_csv_response(export)


def _filter_labels(filterset: ReconciliationItemFilter) -> dict[str, str]:
    """The filters the person chose, as they read them: "State: Undeclared", "Part of: Dana Director"."""
    filterset.is_valid()  # the valid filters apply (and are named), the bad ones are left out
    chosen = filterset.form.cleaned_data
    labels: dict[str, str] = {}
    if chosen.get("state"):
        labels["State"] = State(chosen["state"]).label
    if chosen.get("status"):
        labels["Answer"] = dict(ANSWER_STATUSES)[chosen["status"]]
    if chosen.get("subtree"):
        person = Person.objects.filter(pk=chosen["subtree"]).values_list("name", flat=True).first()
        labels["Part of"] = person or f"person #{chosen['subtree']}"
    if chosen.get("q"):
        labels["Name contains"] = chosen["q"]
    if chosen.get("ordering"):
        sorts = dict(SORT_CHOICES)
        labels["Sorted by"] = ", ".join(sorts.get(value, value) for value in chosen["ordering"])
    return labels


def chosen_items(visible: QuerySet, ids: list[int]) -> list[ReconciliationItem]:
    """The ticked items, all of them readable by the user, or a refusal that names how many are not."""
    items = list(visible.filter(pk__in=ids))
    missing = len(set(ids)) - len(items)
    if missing:
        raise PermissionDenied(
            f"{missing} of the {len(set(ids))} chosen items {'is' if missing == 1 else 'are'} not in your part of "
            "the organisation: nothing was changed."
        )
    return items


def chosen_vm(vm_id: int | None) -> VirtualMachine | None:
    if vm_id is None:
        return None
    vm = VirtualMachine.objects.filter(pk=vm_id).first()
    if vm is None:
        raise ValidationError({"vm": f"No VM has the id {vm_id}."})
    return vm


def refusal_text(refused: Exception) -> str:
    if isinstance(refused, ValidationError):
        return f"Nothing was changed: {error_text(refused)}"
    return f"Nothing was changed: {refused}"


def form_errors_text(form) -> str:
    """A form's errors in one line, each after the label of its field."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = field.label or name.replace("_", " ").capitalize() if field is not None else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return "Nothing was changed: " + " ".join(parts)
