"""What the questionnaire pages share: who may use them, badges and progress bars, small request helpers."""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.template.loader import render_to_string
from django.urls import reverse

from portal.access import RoleRequiredMixin
from questionnaires.choices import (
    AssignmentStatus,
    CampaignStatus,
    Disposition,
)
from questionnaires.models import Assignment
from questionnaires.permissions import ANSWER_ROLES, QUESTIONNAIRE_ROLES, assignment_is_editable
from questionnaires.selectors import (
    assignment_visible,
)

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
def progress_segments(counts: dict[str, int]) -> list[dict[str, Any]]:
    """The stacked bar of a progress count: each status with its share in percent (zero shares left out)."""
    total = counts.get("total", 0)
    return [
        {"status": status.value, "label": label, "count": counts[status], "colour": BADGES[status],
         "percent": round(100 * counts[status] / total, 1)}
        for status, label in PROGRESS_SEGMENTS
        if total and counts[status]
    ]


def posted_id(request, name: str) -> int:
    """A posted id, or 0 (which matches nothing) when it is missing or not a number."""
    value = request.POST.get(name, "")
    return int(value) if value.isdigit() else 0


def error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def assignment_url(assignment: Assignment | int) -> str:
    return reverse("questionnaires:assignment", kwargs={"pk": getattr(assignment, "pk", assignment)})


def status_oob(request, assignment: Assignment, before: str) -> str:
    """The page's status badge, out of band, when a save moved the assignment (not started → in progress)."""
    if assignment.status == before:
        return ""
    context = {"assignment": assignment, "badge": BADGES, "oob": True}
    return render_to_string("questionnaires/_assignment_status.html", context, request=request)


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
        return assignment_is_editable(assignment=assignment, user=self.request.user)
