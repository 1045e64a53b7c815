"""A confirmed power-off in a real Chromium under the Content-Security-Policy: a security admin proposes powering
off the rogue VMs from the policy's page, a second security admin confirms the batch, and the simulator's VM is
off; the first cannot confirm their own batch. No console error and no violation on the way."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from inventory.choices import ActionBatchState, PolicyKind
from inventory.models import ActionBatch, Policy, VirtualMachine
from inventory.services.findings import findings_evaluate
from inventory.services.policies import policies_load
from inventory.services.scan import source_scan
from inventory.services.sources import source_vcenter_save
from portal.choices import Role
from portal.services.demo import DEMO_PASSWORD, demo_people_load
from tests.e2e.pages import settle
from tests.factories import UserFactory
from tests.vsphere_sim import harness

pytestmark = [pytest.mark.e2e, pytest.mark.simulator, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sim(vsphere_simulator_available):
    with harness.Simulator(datacenters=1, clusters=1, cluster_hosts=1, hosts=0, vms=2) as simulator:
        yield simulator


def test_a_second_security_admin_confirms_the_power_off_of_a_rogue_vm(watched, live_server, log_in, sim):
    demo_people_load()
    UserFactory(username="secadmin2", password=DEMO_PASSWORD, role=Role.SECURITY_ADMIN)
    policies_load()
    Policy.objects.exclude(kind=PolicyKind.ROGUE).update(enabled=False)
    rogue = Policy.objects.get(kind=PolicyKind.ROGUE)
    rogue.actions = {**rogue.actions, "power_off": {"enabled": True}}
    rogue.save()
    source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                 use_http=True)
    source_scan(source=source)
    VirtualMachine.objects.filter(name="DC0_C0_RP0_VM0").update(
        first_seen=timezone.now() - datetime.timedelta(days=30))
    findings_evaluate()
    page = watched

    log_in("secadmin", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/inventory/policies/{rogue.pk}/")
    page.get_by_role("button", name="Propose power off").click()
    settle(page)
    batch = ActionBatch.objects.get()
    expect(page.get_by_text("You proposed this batch: a second security admin must confirm it.")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm: power off these VMs")).to_have_count(0)
    assert batch.state == ActionBatchState.AWAITING

    page.get_by_role("button", name="Log out").click()
    log_in("secadmin2", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/inventory/findings/dashboard/")
    page.get_by_role("link", name=f"#{batch.pk}").click()
    page.get_by_role("button", name="Confirm: power off these VMs").click()
    settle(page)

    expect(page.get_by_text("Confirmed: the batch runs now.")).to_be_visible()
    expect(page.get_by_role("cell", name="Succeeded")).to_be_visible()
    batch.refresh_from_db()
    si = sim.connect()
    assert batch.state == ActionBatchState.DONE
    assert harness.find_vm(si, "DC0_C0_RP0_VM0").runtime.powerState == "poweredOff"
    assert harness.find_vm(si, "DC0_C0_RP0_VM1").runtime.powerState == "poweredOn"
    assert page.problems == []
