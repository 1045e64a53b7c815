"""Campaign response rate: in the latest launched campaign, the share of assignments submitted or accepted."""

from compliance.evaluators.base import Measure, QueryRows, percent
from questionnaires.choices import AssignmentStatus, CampaignStatus
from questionnaires.models import Assignment, Campaign

ANSWERED = frozenset({AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED})


def collect(*, scope, parameters, at):
    campaign = (
        Campaign.objects.exclude(status=CampaignStatus.DRAFT).filter(launched_at__lte=at)
        .order_by("-launched_at", "-id").values_list("id", "name").first()
    )
    if campaign is None:
        return [QueryRows("assignments", "Assignments of the latest launched campaign: none launched yet",
                          {"campaign": None}, [])]
    rows = list(Assignment.objects.filter(campaign_id=campaign[0]).order_by("id").values_list("id", "status"))
    return [QueryRows("assignments", f"Assignments of campaign {campaign[0]} ({campaign[1]}): id, status",
                      {"campaign": campaign[0]}, rows)]


def measure(queries, *, scope, parameters, at):
    query = queries["assignments"]
    if query.parameters.get("campaign") is None:
        return Measure(None, "No campaign has been launched yet.")
    if not query.rows:
        return Measure(None, "The latest campaign has no assignments.")
    answered = sum(1 for _, status in query.rows if status in ANSWERED)
    return Measure(percent(answered, len(query.rows)), f"{answered} of {len(query.rows)} assignments answered.",
                   answered, len(query.rows), {"campaign": query.parameters["campaign"]})
