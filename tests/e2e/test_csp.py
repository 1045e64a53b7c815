"""The main pages under the Content-Security-Policy in a real Chromium: no console error, no violation, and the
behaviour that moved out of inline scripts (autosave while typing, Enter not submitting, the VM grid's rows,
the confirmation before closing a campaign, Swagger UI) still works."""

import pytest
from playwright.sync_api import expect

from portal.services.demo import DEMO_PASSWORD, demo_people_load
from questionnaires.choices import CampaignStatus
from questionnaires.models import Assignment, Campaign
from questionnaires.services.demo import LIVE_CAMPAIGN
from questionnaires.services.demo import demo_load as questionnaires_demo_load
from tests.e2e.pages import settle
from tests.factories import VirtualMachineFactory, VMChangeFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

def visit(page, url: str) -> None:
    """Open ``url`` and let it settle."""
    page.goto(url)
    settle(page)


@pytest.fixture
def estate():
    demo_people_load()
    questionnaires_demo_load()
    campaign = Campaign.objects.get(name=LIVE_CAMPAIGN)
    assignment = Assignment.objects.get(campaign=campaign, person__user__username="manager")
    # The manager's own VM: managers read the VMs of their part of the organisation.
    vm = VirtualMachineFactory(name="db-prod-01", advanced_settings={"isolation.tools.copy.disable": "TRUE"},
                               owner=assignment.person)
    VMChangeFactory(vm=vm, old="db-old", new="db-prod-01")
    return {"vm": vm, "campaign": campaign, "assignment": assignment}


def test_the_main_pages_raise_no_csp_violation_and_still_work(watched, live_server, log_in, estate):
    page, base = watched, live_server.url
    log_in("manager", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    visit(page, f"{base}/")
    visit(page, f"{base}/inventory/vms/")
    visit(page, f"{base}/inventory/vms/{estate['vm'].pk}/")
    visit(page, f"{base}/questionnaires/campaigns/{estate['campaign'].pk}/")
    visit(page, f"{base}/questionnaires/assignments/{estate['assignment'].pk}/")

    # Typing in a text answer saves it once the typing stops (the trigger that needed eval before).
    count = page.locator("[data-question=vm_count]")
    count.locator("input[name=value]").fill("42")
    expect(count.locator("[data-saved=saved]")).to_be_visible()
    # Enter in that field saves nothing more and leaves the page where it is.
    url = page.url
    count.locator("input[name=value]").press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.url == url
    # The VM grid adds a row from its template (assignment.js).
    grid = page.locator("[data-vm-list] tbody tr")
    rows = grid.count()
    page.locator("[data-add-row]").first.click()
    expect(grid).to_have_count(rows + 1)

    visit(page, f"{base}/api/v1/docs/")
    expect(page.get_by_text("/api/v1/vms/", exact=True).first).to_be_visible()
    settle(page)
    assert page.problems == []


def test_closing_a_campaign_asks_first(watched, live_server, log_in, estate):
    page, campaign = watched, estate["campaign"]
    log_in("officer", DEMO_PASSWORD)
    visit(page, f"{live_server.url}/questionnaires/campaigns/{campaign.pk}/")
    questions = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Close", exact=True).click()
    page.wait_for_load_state("networkidle")

    assert questions == ["Close the campaign? Answers freeze until it is re-opened."]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE
    assert page.problems == []


def test_the_source_form_tests_a_connection_under_the_policy(watched, live_server, log_in):
    page = watched
    demo_people_load()
    log_in("secadmin", DEMO_PASSWORD)
    visit(page, f"{live_server.url}/inventory/sources/")
    page.get_by_role("link", name="Add vCenter").click()
    page.get_by_label("Host").fill("https://not-a-host/")
    page.get_by_role("button", name="Test connection").click()

    expect(page.locator("[data-connection=failed]")).to_contain_text("Fix the form first")
    settle(page)
    assert page.problems == []
