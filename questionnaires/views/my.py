"""My questionnaires: the user's own parts, and the parts waiting for their review."""

from django.utils import timezone
from django.views.generic import TemplateView

from portal.access import RoleRequiredMixin
from questionnaires.permissions import QUESTIONNAIRE_ROLES
from questionnaires.selectors import (
    assignments_awaiting_review,
    assignments_for_user,
)
from questionnaires.views.common import BADGES


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
