"""An assignment's page: the questionnaire answered with autosave, the parts delegated below, and the workflow
actions (delegate, submit, review, answer for a report)."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import prefetch_related_objects
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.generic import TemplateView
from django_htmx.http import reswap, retarget

from portal.models import Person
from portal.views import safe_next
from questionnaires.choices import (
    OPEN_STATUSES,
    AssignmentStatus,
    CampaignStatus,
    QuestionKind,
)
from questionnaires.forms import ReassignForm
from questionnaires.models import Assignment, Question, Section
from questionnaires.permissions import (
    assignment_is_assignee,
    assignment_may_answer_for,
    assignment_may_reassign,
    assignment_may_review,
    assignment_reviewer_person,
)
from questionnaires.selectors import (
    SectionState,
    assignment_children,
    assignment_children_progress,
    assignment_delegation_candidates,
    assignment_held_sections,
    assignment_parts_below,
    assignment_questionnaire,
    section_delegations,
)
from questionnaires.services.answers import OTHER_VALUE, answer_save
from questionnaires.services.assignments import (
    assignment_answer_for,
    assignment_delegate,
    assignment_reassign,
    assignment_review,
    assignment_submit,
    assignment_submit_blockers,
)
from questionnaires.views.common import BADGES, AssignmentMixin, assignment_url, error_text, posted_id, status_oob
from questionnaires.views.follow_ups import follow_ups_card
from questionnaires.views.vm_lists import vm_context, with_vm_rows


def _section_context(assignment: Assignment, state: SectionState, *, editable: bool, **extra) -> dict:
    return {"assignment": assignment, "state": state, "editable": editable, "other_value": OTHER_VALUE,
            **vm_context(), **extra}


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
        may_delegate = editable and is_assignee
        children = assignment_children_progress(assignment=assignment)
        prefetch_related_objects([child["assignment"] for child in children], "sections")
        sections = section_delegations(
            sections=with_vm_rows(assignment_questionnaire(assignment=assignment)),
            children=[child["assignment"] for child in children],
        )
        reviewer = assignment_reviewer_person(assignment=assignment)
        reassign_form = kwargs.pop("reassign_form", None)
        if reassign_form is None and active and assignment_may_reassign(assignment=assignment, user=user):
            reassign_form = ReassignForm(auto_id="reassign-%s")
        may_answer_for = (
            active and assignment.status in OPEN_STATUSES
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
            parts_below=assignment_parts_below(assignment=assignment) if may_answer_for else [],
            # The side panel (parts below, delegation) only when it has something to show or do.
            may_delegate=may_delegate,
            reassign_form=reassign_form,
            side_panel=bool(children) or may_delegate or (may_answer_for and not is_assignee) or bool(reassign_form),
            # A VM list takes the page's width; the side panel then goes below the questionnaire.
            wide=any(state.question.kind == QuestionKind.VM_LIST for section in sections
                     for state in section.visible_questions),
            candidates=list(assignment_delegation_candidates(assignment=assignment)) if may_delegate else [],
            held_sections=assignment_held_sections(assignment=assignment) if may_delegate else [],
            reviewer=reviewer,
            reviewer_label=reviewer.name if reviewer else str(campaign.owner),
            other_value=OTHER_VALUE,
            **vm_context(),
            **follow_ups_card(assignment=assignment, show=is_assignee),
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

    def _sections(self, assignment: Assignment) -> list[SectionState]:
        return section_delegations(
            sections=with_vm_rows(assignment_questionnaire(assignment=assignment)),
            children=assignment_children(assignment=assignment),
        )

    def get(self, request, *args, **kwargs):
        assignment = self.load_assignment()
        state = self._state(self._sections(assignment))
        return self.render_to_response(_section_context(assignment, state, editable=self.editable(assignment)))

    def post(self, request, *args, **kwargs):
        assignment = self.load_assignment()
        before = {state.section.pk: state.visible_keys() for state in assignment_questionnaire(assignment=assignment)}
        own = self.kwargs["section_id"]
        if own not in before:
            raise PermissionDenied("This section is not part of this assignment.")
        question = get_object_or_404(
            Question, pk=posted_id(request, "question"), section_id=own,
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
            error = error_text(invalid)
        else:
            if other_text.strip() and not answer.other_text:
                note = "Tick “Other” to keep what you wrote."
        sections = self._sections(assignment)
        editable = self.editable(assignment)
        changed = [state for state in sections if state.visible_keys() != before.get(state.section.pk)]
        indicator = render_to_string(
            "questionnaires/_autosave.html",
            {"question": question, "error": error, "note": note, "saved_at": timezone.localtime()},
            request=request,
        )
        own_changed = next((state for state in changed if state.section.pk == own), None)
        parts = [status_oob(request, assignment, status_before)]
        for state in changed:
            context = _section_context(assignment, state, editable=editable, oob=state is not own_changed,
                                       saved_question=question.pk, indicator=indicator)
            parts.append(render_to_string("questionnaires/_section.html", context, request=request))
        if own_changed is None:
            return HttpResponse(indicator + "".join(parts))
        response = HttpResponse("".join(parts))
        return reswap(retarget(response, f"#section-{own}"), "outerHTML")


class AssignmentActionView(AssignmentView):
    """Base of the workflow actions: GET shows the assignment's page; POST calls the service, then redirects
    with a message (a refusal's reasons as an error message)."""

    def post(self, request, *args, **kwargs):
        self.assignment = self.load_assignment()
        try:
            text = self.act(self.assignment)
        except ValidationError as error:
            messages.error(request, error_text(error))
        else:
            messages.success(request, text)
        return redirect(safe_next(request, assignment_url(self.assignment)))

    def act(self, assignment: Assignment) -> str:
        raise NotImplementedError


class DelegateView(AssignmentActionView):
    """Hand the assignment (all of it, or named sections) to a direct report."""

    def act(self, assignment):
        person = Person.objects.filter(pk=posted_id(self.request, "person")).first()
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
            blockers = assignment_submit_blockers(assignment=self.assignment)
            if not blockers:  # refused for the part's state (already submitted, campaign closed): say that
                messages.error(request, error_text(error))
                return redirect(assignment_url(self.assignment))
            return self.render_to_response(self.get_context_data(submit_problems=blockers))
        reviewer = assignment_reviewer_person(assignment=self.assignment)
        messages.success(
            request, f"Submitted: {reviewer.name if reviewer else self.assignment.campaign.owner} reviews it now."
        )
        return redirect(assignment_url(self.assignment))


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
    """The manager who delegated a part answers it themselves, with a reason; when refused (answers missing, no
    reason), the part's page again with every reason listed by the button and the reason typed kept."""

    def post(self, request, *args, **kwargs):
        self.assignment = self.load_assignment()
        reason = request.POST.get("reason", "")
        try:
            assignment_answer_for(assignment=self.assignment, user=request.user, reason=reason)
        except ValidationError as error:
            if not hasattr(error, "error_dict"):  # refused for the part's state (accepted, submitted): say that
                messages.error(request, error_text(error))
                return redirect(assignment_url(self.assignment))
            self.assignment = self.load_assignment()
            problems = error.message_dict
            context = self.get_context_data(
                answer_for_problems=problems.get("answers", []),
                answer_for_reason_error=" ".join(problems.get("reason", [])),
                answer_for_reason=reason,
            )
            return self.render_to_response(context, status=400)
        messages.success(request, f"{self.assignment.person.name}'s part is answered by you and accepted.")
        return redirect(assignment_url(self.assignment))


class ReassignView(AssignmentActionView):
    """Give the part, with its answers and the parts below it, to another person (the campaign's owner, or the
    manager above); a refusal shows the page again with the reason next to the field."""

    def post(self, request, *args, **kwargs):
        self.assignment = self.load_assignment()
        form = ReassignForm(request.POST, auto_id="reassign-%s")
        if form.is_valid():
            previous = self.assignment.person.name
            try:
                assignment_reassign(assignment=self.assignment, to_person=form.cleaned_data["to_person"],
                                    user=request.user)
            except ValidationError as error:
                form.add_error(None if hasattr(error, "error_dict") else "to_person", error)
            else:
                messages.success(request, f"{previous}'s part is now {self.assignment.person.name}'s.")
                return redirect(assignment_url(self.assignment))
        return self.render_to_response(self.get_context_data(reassign_form=form), status=400)
