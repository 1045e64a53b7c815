"""Follow-ups: the gaps reconciliation routed to the user, across campaigns, each with its question and the answers
that fit it ("is it yours? what is it for?", "where does it run? retired?"); answered ones below. The address
e-mails link to (``services.reconciliation.FOLLOW_UPS_PATH``)."""

from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from portal.access import RoleRequiredMixin
from portal.views import safe_next
from questionnaires.choices import DataCategory, ReconciliationState, Resolution
from questionnaires.permissions import ANSWER_ROLES, QUESTIONNAIRE_ROLES
from questionnaires.selectors import follow_ups_for_assignment, follow_ups_for_user, reconciliation_items_visible_to
from questionnaires.services.reconciliation import QUESTIONS
from questionnaires.views.reconciliation import ITEMS_PER_PAGE, answer_from_post, decorate_items

State = ReconciliationState
# What each answer's button says on this page, in the words of the question it answers.
ANSWER_BUTTONS = {
    Resolution.CLAIMED: "Yes, it is mine",
    Resolution.DISOWNED: "Not mine",
    Resolution.RETIRED: "It is retired",
    Resolution.NOT_SCANNED: "It runs on a platform nobody scans",
    Resolution.LINKED: "It is this VM",
    Resolution.ACCEPTED: "Accept the difference",
}

# What the note of an answer could say, by state.
NOTE_HINTS = {
    State.UNDECLARED: "whose it might be",
    State.NOT_FOUND: "where it runs, when it was retired",
    State.NOT_FOUND_UNSCANNED: "where it runs, when it was retired",
    State.CONFLICT: "whose it is, and who keeps it in their list",
    State.MISMATCH: "which is right, and why they differ",
}


class FollowUpsView(RoleRequiredMixin, TemplateView):
    """The user's follow-ups, unanswered first (50 a page), each with the forms of the answers that fit it."""

    allowed_roles = QUESTIONNAIRE_ROLES
    template_name = "questionnaires/follow_ups.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        page = Paginator(follow_ups_for_user(user), ITEMS_PER_PAGE).get_page(self.request.GET.get("page"))
        items = decorate_items(list(page), user)
        for item in items:
            item.question = QUESTIONS[item.state].format(name=f"“{item.name}”")
            item.answers = [(value.value, ANSWER_BUTTONS[value]) for value in item.fits
                            if value not in (Resolution.CLAIMED, Resolution.LINKED)]
            item.claimable = Resolution.CLAIMED in item.fits
            item.note_hint = NOTE_HINTS.get(item.state, "")
        return super().get_context_data(
            open_items=[item for item in items if not item.resolution],
            answered=[item for item in items if item.resolution],
            page_obj=page,
            data_categories=DataCategory.choices,
            **kwargs,
        )


class FollowUpAnswerView(FollowUpsView):
    """POST: one answer to one follow-up (or several, ticked); the service checks it fits and is the user's.
    GET shows the follow-ups."""

    write_roles = ANSWER_ROLES

    def post(self, request):
        back = safe_next(request, reverse("questionnaires:follow_ups"))
        answer_from_post(request, reconciliation_items_visible_to(request.user))
        return redirect(back)


# Names the assignment page's card lists before "…".
CARD_NAMES = 5


def follow_ups_card(*, assignment, show: bool) -> dict:
    """What the assignment page's follow-ups card shows its assignee: the gaps of this campaign routed to them."""
    if not show:
        return {"follow_ups": [], "follow_ups_count": 0}
    items = follow_ups_for_assignment(assignment=assignment)
    return {"follow_ups": list(items[:CARD_NAMES]), "follow_ups_count": items.count()}
