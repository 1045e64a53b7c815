"""The reconciliation pages in a real Chromium under the Content-Security-Policy: the officer ticks a page of items
with the header's checkbox (reconciliation.js) and answers them in bulk; the manager answers a follow-up; no
console error and no violation on the way."""

import re

import pytest
from playwright.sync_api import expect

from portal.services.demo import DEMO_PASSWORD, demo_people_load
from questionnaires.choices import ReconciliationState, ReconciliationTrigger, Resolution
from questionnaires.models import Campaign, ReconciliationItem
from questionnaires.services.demo import LIVE_CAMPAIGN
from questionnaires.services.demo import demo_load as questionnaires_demo_load
from questionnaires.services.reconciliation import reconciliation_run
from tests.e2e.pages import navigate, settle

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def campaign(watched):
    """The demo's live campaign, reconciled; the page records console errors and policy violations."""
    demo_people_load()
    questionnaires_demo_load()
    campaign = Campaign.objects.get(name=LIVE_CAMPAIGN)
    reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)
    return campaign


def test_the_officer_ticks_a_page_of_items_and_retires_them_in_bulk(page, live_server, log_in, campaign):
    log_in("officer", DEMO_PASSWORD)
    settle(page)
    page.goto(f"{live_server.url}/questionnaires/campaigns/{campaign.pk}/reconciliation/?state=not_found_unscanned")
    settle(page)
    boxes = page.locator("input[name=item][form=bulk]")
    ticked = boxes.count()
    assert ticked > 0

    page.get_by_label("Tick every item of this page").check()
    for index in range(ticked):
        expect(boxes.nth(index)).to_be_checked()
    page.get_by_label("Answer the ticked items").select_option(Resolution.RETIRED.value)
    page.get_by_label("Note (why)").fill("decommissioned last quarter")
    page.get_by_role("button", name="Answer", exact=True).click()
    settle(page)

    expect(page.get_by_text(f"{ticked} items answered: confirmed retired.")).to_be_visible()
    # Nothing of the demo's inventory is loaded here: every declared VM is on a platform nobody scans.
    answered = ReconciliationItem.objects.filter(campaign=campaign, state=ReconciliationState.NOT_FOUND_UNSCANNED)
    assert answered.count() == ticked
    assert set(answered.values_list("resolution", "resolution_note")) == {
        (Resolution.RETIRED, "decommissioned last quarter"),
    }
    assert page.problems == []


def test_the_manager_answers_a_follow_up_from_the_navigation(page, live_server, log_in, campaign):
    log_in("manager", DEMO_PASSWORD)
    settle(page)
    waiting = ReconciliationItem.objects.filter(routed_to__user__username="manager", resolution="").exclude(
        state=ReconciliationState.MATCHED)
    count = waiting.count()
    assert count > 0

    navigate(page, "Questionnaires", f"Follow-ups {count}")
    settle(page)
    not_scanned = page.get_by_role("button", name="It runs on a platform nobody scans")
    first = page.locator("section.follow-up", has=not_scanned).first
    first.get_by_placeholder("where it runs, when it was retired").fill("moved to the new cluster")
    first.get_by_role("button", name="It runs on a platform nobody scans").click()
    settle(page)

    expect(page.get_by_text("1 item answered: runs on a platform not scanned.")).to_be_visible()
    page.locator("#nav").get_by_role("button", name=re.compile("^Questionnaires")).click()
    expect(page.get_by_role("link", name=f"Follow-ups {count - 1}" if count > 1 else "Follow-ups")).to_be_visible()
    assert waiting.count() == count - 1
    assert page.problems == []
