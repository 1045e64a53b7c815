"""A person logs in, reads the dashboard and walks the org chart, in a real browser."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.models import AuditEvent
from portal.services.demo import DEMO_PASSWORD, demo_people_load

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_officer_logs_in_and_walks_the_org_chart(page, live_server, log_in):
    demo_people_load()

    page.goto(f"{live_server.url}/people/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/people/"))
    log_in("officer", "wrong password")
    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")

    log_in("officer", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator("[data-figure=people]")).to_have_text("206")
    # The week's events are the demo's own and the two sign-ins just made, the refused one included.
    week = AuditEvent.objects.filter(at__gte=timezone.now() - datetime.timedelta(days=7))
    assert list(week.order_by("-sequence").values_list("action", flat=True)[:2]) == ["auth.login", "auth.login_failed"]
    expect(page.locator("[data-figure=audit_events_week]")).to_have_text(str(week.count()))
    expect(page.get_by_role("link", name="Audit trail").first).to_be_visible()

    page.get_by_role("link", name="People", exact=True).click()
    expect(page.get_by_role("heading", name="Org chart")).to_be_visible()
    ceo = page.locator("details").first
    expect(ceo.locator(".count").first).to_have_text("205")
    # The five vice presidents are loaded by htmx under the expanded root.
    vps = ceo.locator(":scope > ul > li")
    expect(vps).to_have_count(5)
    security = page.locator("details:has(> summary:has-text('Vice President, Information Security'))")
    security.locator("summary").click()
    expect(security.locator(":scope > ul > li")).to_have_count(4)

    page.fill("input[name=q]", "Director, Infrastructure")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("4 matches")).to_be_visible()
    page.locator("table tbody tr a").first.click()
    expect(page.get_by_role("heading", name="Direct reports (3)")).to_be_visible()
    expect(page.locator("[data-figure=headcount]")).to_have_text("9")


def test_manager_does_not_see_the_audit_trail(page, live_server, log_in):
    demo_people_load()
    log_in("manager", DEMO_PASSWORD)
    expect(page.locator("[data-figure=my_subtree]")).to_have_text("9")
    expect(page.get_by_role("link", name="Audit trail")).to_have_count(0)
    page.goto(f"{live_server.url}/audit/")
    expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()
