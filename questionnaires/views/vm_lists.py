"""The VM list of a question: the grid with autosave, paste, upload, pre-filled rows to confirm."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import SimpleTemplateResponse
from django.utils import timezone
from django.views.generic import TemplateView
from django_htmx.http import trigger_client_event

from questionnaires.choices import Disposition, QuestionKind
from questionnaires.models import Assignment, DeclaredVM, Question
from questionnaires.permissions import (
    assignment_is_assignee,
)
from questionnaires.selectors import (
    SectionState,
    declared_vm_list,
)
from questionnaires.services.declared_vms import (
    SaveResult,
    declared_vm_disposition_set,
    declared_vms_disposition_bulk_set,
    declared_vms_grid_save,
    declared_vms_prefill,
    declared_vms_save,
)
from questionnaires.views.common import BADGES, AssignmentMixin, error_text, posted_id, status_oob
from questionnaires.vm_rows.columns import DATA_CATEGORIES_HELP, IDENTITY_COLUMNS
from questionnaires.vm_rows.grid import (
    GRID_COLUMNS,
    GridRefused,
    grid_from_json,
    grid_row,
    row_change_texts,
    vm_counts,
)
from questionnaires.vm_rows.parse import ParsedRows, vm_rows_parse

UPLOAD_TYPES = {".csv": "csv_file", ".xlsx": "xlsx_file"}


# The buttons of a row pre-filled from inventory: (disposition, label).
DISPOSITION_BUTTONS = (
    (Disposition.CONFIRMED.value, "Confirm"),
    (Disposition.CORRECTED.value, "Correct"),
    (Disposition.DISOWNED.value, "Not mine"),
)
# The grid's template row (added by "Add a row"): no id, no values.
EMPTY_GRID_ROW = {"id": None, "cells": {}, "declared": None}


def vm_context() -> dict:
    """What every rendering of a VM list needs besides its rows. The identity columns start hidden: a person who
    pastes them from RVTools shows them (the page remembers the choice)."""
    return {"grid_columns": GRID_COLUMNS, "badge": BADGES, "dispositions": DISPOSITION_BUTTONS,
            "empty_row": EMPTY_GRID_ROW, "data_categories_help": DATA_CATEGORIES_HELP,
            "default_hidden": " ".join(IDENTITY_COLUMNS)}


def with_vm_rows(sections: list[SectionState]) -> list[SectionState]:
    """Give each VM list question its grid rows and counts (from the rows the questionnaire selector loaded)."""
    for state in sections:
        for question_state in state.questions:
            if question_state.question.kind == QuestionKind.VM_LIST:
                question_state.grid_rows = [grid_row(declared) for declared in question_state.vm_rows]
                question_state.counts = vm_counts(question_state.vm_rows)
    return sections


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
            rows = [grid_row(declared) for declared in saved]
        context = {
            "assignment": assignment, "question": question, "grid_rows": rows, "editable": self.editable(assignment),
            "counts": vm_counts(saved), **vm_context(), **extra,
        }
        return self.render_to_response(context)

    def get(self, request, *args, **kwargs):
        assignment = self.load_assignment()
        return self._render(assignment, self._question(assignment))

    def post(self, request, *args, **kwargs):
        assignment = self.load_assignment()
        question = self._question(assignment)
        # The grid comes as one JSON body (see ``grid_from_json``); every other action is a form.
        op = "grid" if request.content_type == "application/json" else request.POST.get("op", "")
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
        response.content += status_oob(request, assignment, status_before).encode()
        return response

    def _save(self, assignment, question, parsed: ParsedRows, *, replace: bool):
        return declared_vms_save(
            assignment=assignment, question=question, rows=parsed.rows, user=self.request.user, replace=replace
        )

    def _grid(self, assignment, question):
        """Autosave of the grid: answers with the list's state line only (the grid as typed stays in the page), and
        names the bad cells in an ``HX-Trigger`` event the page uses to mark them. A body that is not a grid is
        refused whole (400), its problems named by row and column; nothing is saved."""
        if self.request.content_type != "application/json":
            return self._grid_status(assignment, question, status=400, problems=[
                "Not saved: the grid is sent as JSON by the page's script; reload the page and try again."])
        try:
            grid = grid_from_json(self.request.body)
        except GridRefused as refused:
            return self._grid_status(assignment, question, status=400, problems=refused.problem_texts(),
                                     cells=refused.problems)
        try:
            result = declared_vms_grid_save(assignment=assignment, question=question, grid=grid,
                                            user=self.request.user)
        except ValidationError as invalid:  # the list is frozen (submitted, campaign closed): say so by the grid
            # The save is atomic: a refused one left the list as it was.
            return self._grid_status(assignment, question, problems=[f"Not saved: {error_text(invalid)}."])
        parsed = result.parsed
        saved = list(declared_vm_list(assignment=assignment, question=question))
        notice = None
        if parsed.problems:
            notice = (f"{len(parsed.rows)} good row{'s' * (len(parsed.rows) != 1)} saved ({len(saved)} in the list); "
                      "the rows with problems are not saved yet.")
        return self._grid_status(assignment, question, saved=saved, problems=parsed.problem_texts(), notice=notice,
                                 saved_at=timezone.localtime(), cells=parsed.problems)

    def _grid_status(self, assignment, question, *, saved=None, status: int = 200, problems: list[str], cells=(),
                     **extra):
        """The grid's state line, with the bad cells in a ``vmProblems`` event for the page to mark."""
        if saved is None:
            saved = list(declared_vm_list(assignment=assignment, question=question))
        context = {"counts": vm_counts(saved), "problems": problems, **extra}
        html = render_to_string("questionnaires/_vm_status.html", context, request=self.request)
        marks = [{"row": p.row, "column": p.column, "message": p.message} for p in cells if p.row]
        return trigger_client_event(HttpResponse(html, status=status), "vmProblems",
                                    {"question": question.pk, "cells": marks})

    def _paste(self, assignment, question):
        text = self.request.POST.get("text", "")
        if not text.strip():
            return self._render(assignment, question, problems=["Paste the rows into the box first."])
        parsed = vm_rows_parse(text=text)
        saved = self._save(assignment, question, parsed, replace=False) if parsed.rows else None
        added, changes = _added_text(saved), _change_texts(saved, parsed)
        if not parsed.problems:
            return self._render(assignment, question, notice=f"{added}.", changes=changes)
        return self._render(
            assignment, question, problems=parsed.problem_texts(), paste_text=text, changes=changes,
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
        saved = self._save(assignment, question, parsed, replace=False) if parsed.rows else None
        return self._render(
            assignment, question, problems=parsed.problem_texts(upload.name),
            notice=f"{_added_text(saved)} from “{upload.name}”.", changes=_change_texts(saved, parsed),
        )

    def _disposition(self, assignment, question):
        declared = get_object_or_404(
            DeclaredVM, pk=posted_id(self.request, "row_id"), assignment=assignment, question=question
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
    """What a paste or an upload did: "3 rows added, 1 updated, 2 unchanged", or "No row added" when nothing was
    saved."""
    if result is None:
        return "No row added"
    added = f"{result.created} row{'s' * (result.created != 1)} added"
    others = [f"{count} {what}" for count, what in ((result.updated, "updated"), (result.unchanged, "unchanged"))
              if count]
    return ", ".join([added, *others])


def _change_texts(result: SaveResult | None, parsed: ParsedRows) -> list[str]:
    """Row by row, what a paste or an upload changed in the rows already listed, and what it kept."""
    return row_change_texts(result.changes, parsed.problems.numbering) if result else []
