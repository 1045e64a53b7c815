"""Evidence packs in a real browser: the officer builds a HIPAA pack and grants it, the auditor downloads it and
draws a sample again; an auditor whose access ended is refused."""

import datetime
import hashlib
import re

import pytest
from celery.contrib.testing.worker import start_worker
from playwright.sync_api import expect

from compliance.models import PackSample
from compliance.services.catalogs import catalogs_load
from compliance.services.sampling import sample_draw
from portal.models import AuditEvent, User
from portal.services.demo import DEMO_PASSWORD, demo_people_load
from tests.factories import VirtualMachineFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_the_officer_builds_a_pack_and_the_auditor_downloads_it_and_draws_a_sample(watched, browser, live_server,
                                                                                   tmp_path, worker_app):
    demo_people_load()
    catalogs_load()
    vms = [VirtualMachineFactory(name=f"ehr-{n:02d}", data_categories=["ephi"]) for n in range(12)]
    today = datetime.date.today()
    page = watched

    log_in(page, live_server.url, "officer")
    page.get_by_role("link", name="Evidence", exact=True).click()
    form = page.locator("form[data-form=pack-request]")
    form.get_by_label("Framework").select_option("hipaa")
    form.get_by_label("Period start").fill(str(today - datetime.timedelta(days=30)))
    form.get_by_label("Period end").fill(str(today))
    form.get_by_label("Sample size").fill("5")
    form.get_by_role("button", name="Build").click()
    # Queued for the PDF worker: the page polls the pack's state until the worker has built it.
    expect(page.locator("[data-pack-state]")).to_have_text(re.compile("Queued|Building"))
    with start_worker(worker_app, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=30,
                      queues=["pdf"]):
        expect(page.locator("[data-pack-state]")).to_have_text("Ready", timeout=60_000)
    pdf_hash = page.locator("[data-figure=pdf-sha256]").inner_text().strip()

    page.get_by_role("link", name="Evidence packs").click()
    page.get_by_role("link", name="Auditor access").click()
    grant = page.locator("form[data-form=grant]")
    grant.get_by_label("Auditor").select_option("auditor")
    grant.get_by_label("Framework").select_option("hipaa")
    grant.get_by_role("button", name="Grant").click()
    expect(page.locator("[data-figure=grants] tbody tr")).to_have_count(1)
    expect(page.locator("[data-figure=grants]")).to_contain_text("HIPAA")

    auditor_context = browser.new_context(viewport={"width": 1280, "height": 900})
    auditor = auditor_context.new_page()
    log_in(auditor, live_server.url, "auditor")
    auditor.get_by_role("link", name="Evidence", exact=True).click()
    auditor.locator("[data-figure=packs] tbody tr a").first.click()
    with auditor.expect_download() as download_info:
        auditor.locator("[data-download=pdf]").click()
    path = tmp_path / "pack.pdf"
    download_info.value.save_as(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pdf_hash
    assert AuditEvent.objects.filter(action="pack.downloaded", actor__username="auditor",
                                     details__pdf_sha256=pdf_hash).count() == 1

    sample_form = auditor.locator("form[data-form=sample]")
    sample_form.get_by_label("VMs").fill("4")
    sample_form.get_by_label("Seed (empty: a new one)").fill("20261201")
    sample_form.get_by_role("button", name="Draw").click()
    expect(auditor.locator("[data-figure=sample-seed]")).to_have_text("20261201")
    expected = sample_draw(population_ids=[vm.pk for vm in vms], seed=20261201, size=4)
    expect(auditor.locator("[data-figure=sample-ids]")).to_have_text(", ".join(map(str, expected)))
    assert PackSample.objects.get().vm_ids == expected
    auditor_context.close()
    assert page.problems == []


def test_an_auditor_whose_access_ended_is_refused(page, live_server):
    demo_people_load()
    User.objects.filter(username="auditor").update(access_expires_on=datetime.date.today() - datetime.timedelta(days=1))

    page.goto(f"{live_server.url}/compliance/packs/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=username]", "auditor")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Your access to vmcensus ended on")
    page.goto(f"{live_server.url}/compliance/packs/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
