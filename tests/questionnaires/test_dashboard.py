"""What the dashboard tells people about questionnaires: what they have to answer and review, and, for
oversight roles, how the active campaigns stand."""

import datetime

from django.utils import timezone

from questionnaires.models import Assignment, Campaign
from questionnaires.selectors import dashboard_cards
from questionnaires.services.campaigns import campaign_launch
from tests.questionnaires.factories import submit_answered


def cards_of(user) -> dict[str, tuple]:
    return {card["label"]: (card["value"], card["note"]) for card in dashboard_cards(user=user)}


def test_a_manager_sees_what_to_answer_and_what_to_review(make_campaign, officer, logins):
    campaign = make_campaign()
    campaign_launch(campaign=campaign, user=officer)
    lead = Assignment.objects.get(campaign=campaign, person__user=logins["lead_a1"])
    submit_answered(lead, logins["lead_a1"])

    cards = cards_of(logins["vp_a"])

    due = f"{campaign.due_date:%d %b %Y}"
    assert cards["Your questionnaires to answer"] == (1, f"next due {due}")
    assert cards["Parts waiting for your review"] == (1, "accept them or return them with a comment")
    assert "Active campaigns" not in cards
    assert cards_of(logins["lead_a1"])["Your questionnaires to answer"] == (0, "nothing to answer now")


def test_oversight_roles_see_active_campaigns_and_overdue_parts(make_campaign, officer, logins):
    campaign = make_campaign()
    campaign_launch(campaign=campaign, user=officer)
    Campaign.objects.filter(pk=campaign.pk).update(due_date=timezone.localdate() - datetime.timedelta(days=1))

    assert cards_of(officer)["Active campaigns"] == (1, "6 parts overdue")
