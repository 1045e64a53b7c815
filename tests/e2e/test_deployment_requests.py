"""A deployment request in a real Chromium under the Content-Security-Policy: the demo's manager requests a VM, the
security admin approves it from the review queue, the VM is deployed with the request's number in its
``vmcensus.request`` custom attribute on the simulator, and a "Scan now" links it; no console error and no
violation on the way."""

import pytest
from playwright.sync_api import expect

from inventory.choices import RequestState, Sanction
from inventory.models import DeploymentRequest
from inventory.services.approvals import REQUEST_ATTRIBUTE
from inventory.services.sources import source_vcenter_save
from portal.models import Person
from portal.services.demo import DEMO_PASSWORD, demo_people_load
from tests.e2e.pages import RECORD_VIOLATIONS, navigate, settle
from tests.vsphere_sim import harness

pytestmark = [pytest.mark.e2e, pytest.mark.simulator, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sim(vsphere_simulator_available):
    with harness.Simulator(datacenters=1, clusters=1, cluster_hosts=1, hosts=0, vms=2) as simulator:
        yield simulator


def set_request_attribute(si, vm, value: str) -> None:
    from pyVmomi import vim

    fields = si.content.customFieldsManager
    field = fields.AddCustomFieldDef(name=REQUEST_ATTRIBUTE, moType=vim.VirtualMachine)
    fields.SetField(entity=vm, key=field.key, value=value)


def test_a_manager_requests_a_vm_a_security_admin_approves_and_a_scan_links_it(browser, watched, live_server,
                                                                                log_in, sim):
    demo_people_load()
    page = watched
    owner = Person.objects.filter(parent__user__username="manager").order_by("name").first()
    log_in("manager", DEMO_PASSWORD)
    settle(page)

    navigate(page, "Estate", "Deployment requests")
    page.get_by_role("link", name="Request a VM").click()
    settle(page)
    page.get_by_label("Purpose").fill("Payroll reporting")
    page.get_by_label("Owner").fill(f"{owner.name} <{owner.email}>")
    page.get_by_label("Financial reporting").check()
    page.get_by_label("Operating system").fill("Windows Server 2022")
    page.get_by_label("Backup team engaged").check()
    page.get_by_label("Backup contact").fill("backup-team@example.com")
    page.get_by_label("End date").fill("2030-06-30")
    page.get_by_role("button", name="Submit for approval").click()
    settle(page)

    request = DeploymentRequest.objects.get()
    expect(page.get_by_text(f"{request.number} submitted to the security admins.")).to_be_visible()
    assert (request.state, request.owner, request.data_categories) == (
        RequestState.SUBMITTED, owner, ["financial_reporting"])

    security = browser.new_context(viewport={"width": 1280, "height": 900})
    admin_page = security.new_page()
    admin_page.add_init_script(RECORD_VIOLATIONS)
    admin_page.problems = page.problems
    admin_page.on("console", lambda message: page.problems.append(f"console {message.type}: {message.text}")
                  if message.type in ("error", "warning") else None)
    admin_page.on("pageerror", lambda error: page.problems.append(f"uncaught {error}"))
    admin_page.goto(f"{live_server.url}/")
    admin_page.fill("input[name=username]", "secadmin")
    admin_page.fill("input[name=password]", DEMO_PASSWORD)
    admin_page.click("button[type=submit]")
    navigate(admin_page, "Estate", "Deployment requests 1")
    admin_page.get_by_role("link", name="Review queue").click()
    row = admin_page.get_by_role("row", name=request.number)
    expect(row).to_contain_text("0 of 1")
    row.get_by_role("button", name="Approve").click()
    expect(admin_page.get_by_text(f"Your vote on {request.number} is recorded: it is now approved.")).to_be_visible()
    settle(admin_page)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED

    # Whoever deploys it marks the VM with the request's number in vCenter; the security admin scans.
    si = sim.connect()
    set_request_attribute(si, harness.find_vm(si, "DC0_C0_RP0_VM1"), request.number)
    source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                 use_http=True)
    admin_page.goto(f"{live_server.url}/inventory/sources/{source.pk}/scan/")
    admin_page.get_by_role("button", name="Scan now").click()
    expect(admin_page.locator("#scan-progress").get_by_text("Complete", exact=True)).to_be_visible(timeout=30_000)

    admin_page.goto(f"{live_server.url}/inventory/requests/{request.pk}/")
    expect(admin_page.get_by_role("heading", name=f"{request.number} Fulfilled")).to_be_visible()
    admin_page.get_by_role("link", name="DC0_C0_RP0_VM1").click()
    expect(admin_page.get_by_text(f"{request.number} fulfilled")).to_be_visible()
    settle(admin_page)
    request.refresh_from_db()
    assert (request.state, request.vm.name, request.vm.sanction) == (
        RequestState.FULFILLED, "DC0_C0_RP0_VM1", Sanction.PENDING)
    security.close()
    assert page.problems == []
