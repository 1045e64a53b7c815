"""Reconciliation end to end on real sources: the vSphere simulator scanned, an RVTools export and a CSV of
desktop VMs imported, a campaign answered through the VM list services, so that every state and every kind of
mismatch comes out of what people typed and what the scanners saw."""

import datetime
import io

import pytest

from inventory.choices import Platform
from inventory.models import VirtualMachine
from inventory.services.imports import rvtools_import, vm_csv_import
from inventory.services.scan import source_scan
from inventory.services.sources import source_vcenter_save
from questionnaires.choices import AssignmentStatus, ReconciliationTrigger, Resolution
from questionnaires.models import Assignment, DeclaredVM, Question, ReconciliationItem
from questionnaires.services.campaigns import campaign_launch
from questionnaires.services.declared_vms import declared_vms_grid_save
from questionnaires.services.follow_ups import follow_ups_answer, follow_ups_route
from questionnaires.services.reconciliation import reconciliation_run
from tests.inventory.rvtools_files import estate_export, write_xlsx
from tests.vsphere_sim import harness

pytestmark = [pytest.mark.simulator, pytest.mark.django_db]

DESKTOP_CSV = (
    "name,vm_id,platform,host,power_state\n"
    "dev-laptop-01,vbox-0001,virtualbox,LT-0042,on\n"
    "dev-laptop-02,vbox-0002,virtualbox,LT-0042,off\n"
)


@pytest.fixture
def estate(vsphere_simulator_available, tmp_path):
    """Six simulator VMs (one more created by the simulator's user, so vCenter says who made it), eight VMs of an
    RVTools export and two VirtualBox VMs from a CSV."""
    with harness.Simulator(datacenters=1, clusters=2, cluster_hosts=2, hosts=1, vms=2) as sim:
        source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                     use_http=True)
        source_scan(source=source)
        harness.create_vm(sim.connect(), "made-by-user")
        assert source_scan(source=source).status == "complete"
    export = estate_export(datetime.datetime(2026, 11, 30, 7, 0))
    rvtools_import(path=write_xlsx(tmp_path / "dc2.xlsx", export), source_name="dc2")
    vm_csv_import(stream=io.BytesIO(DESKTOP_CSV.encode()), source_name="laptops", platform=Platform.VIRTUALBOX)
    return {vm.name: vm for vm in VirtualMachine.objects.exclude(name="web01")}


def declare(assignment: Assignment, user, rows: list[dict]) -> None:
    question = Question.objects.get(section__version_id=assignment.campaign.version_id, key="vms")
    result = declared_vms_grid_save(assignment=assignment, question=question, grid=rows, user=user)
    assert not result.parsed.problems, result.parsed.problems


def test_every_state_and_every_kind_of_mismatch_comes_out_of_real_sources(estate, make_campaign, officer, logins):
    made = estate["made-by-user"]
    assert made.created_by  # the scanner read who created it from vCenter's events
    campaign = make_campaign()
    campaign_launch(campaign=campaign, user=officer)
    parts = {key: Assignment.objects.get(campaign=campaign, person__user=user) for key, user in logins.items()}
    declare(parts["lead_a1"], logins["lead_a1"], [
        {"name": "DC0_C0_RP0_VM0"},  # matched by name
        {"name": "DC0_C0_RP0_VM1", "status": "Decommissioned"},  # powered on
        {"name": "web", "address": "10.0.2.13"},  # one of two web01: the address says which
        {"name": "db01", "created_on": "2021-05-01"},  # RVTools says 2023-01-15
        {"name": "made-by-user", "created_by": "alice"},
    ])
    declare(parts["lead_a2"], logins["lead_a2"], [
        {"name": "DC0_C1_RP0_VM0", "platform": "Hyper-V"},
        {"name": "DC0_C1_RP0_VM1", "location": "Building 9 lab"},
        {"name": "DC0_H0_VM0"},
        {"name": "ghost-server", "platform": "VMware ESXi"},
        {"name": "qa-kvm-box", "platform": "KVM"},
        {"name": "web01"},  # two VMs have that name: a person picks
    ])
    declare(parts["lead_b1"], logins["lead_b1"], [
        {"name": "DC0_H0_VM0"},  # lead_a2 declared it too
        {"name": "dev-laptop-01"},
        {"name": "dev-laptop-03", "platform": "VirtualBox"},  # VirtualBox is imported: a coverage gap
    ])

    first = reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)
    # The officer asks lead_a1 about backup01 (nobody declared it); lead_a1 says it is theirs; then lead_b1
    # declares it with another owner.
    backup = ReconciliationItem.objects.get(campaign=campaign, vm__name="backup01")
    follow_ups_route(items=[backup], to_person=parts["lead_a1"].person, user=officer)
    follow_ups_answer(items=[backup], user=logins["lead_a1"], resolution=Resolution.CLAIMED, purpose="Backups")
    declare(parts["lead_b1"], logins["lead_b1"], [
        {"name": "DC0_H0_VM0"}, {"name": "dev-laptop-01"}, {"name": "dev-laptop-03", "platform": "VirtualBox"},
        {"name": "backup01", "owner": "Ben Lead"},
    ])
    second = reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)
    third = reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)

    def item(name: str, declarer: str) -> ReconciliationItem:
        return ReconciliationItem.objects.get(
            campaign=campaign, declared_vm__name=name, declared_vm__assignment=parts[declarer]
        )

    expected = {
        ("DC0_C0_RP0_VM0", "lead_a1"): ("matched", []),
        ("DC0_C0_RP0_VM1", "lead_a1"): ("mismatch", ["running_but_decommissioned"]),
        ("web", "lead_a1"): ("matched", []),
        ("db01", "lead_a1"): ("mismatch", ["created_on"]),
        ("made-by-user", "lead_a1"): ("mismatch", ["created_by"]),
        ("DC0_C1_RP0_VM0", "lead_a2"): ("mismatch", ["platform"]),
        ("DC0_C1_RP0_VM1", "lead_a2"): ("mismatch", ["location"]),
        ("DC0_H0_VM0", "lead_a2"): ("conflict", ["declared_twice"]),
        ("ghost-server", "lead_a2"): ("not_found", ["not_seen"]),
        ("qa-kvm-box", "lead_a2"): ("not_found_unscanned", ["not_seen"]),
        ("web01", "lead_a2"): ("not_found", ["ambiguous_name"]),
        ("DC0_H0_VM0", "lead_b1"): ("conflict", ["declared_twice"]),
        ("dev-laptop-01", "lead_b1"): ("matched", []),
        ("dev-laptop-03", "lead_b1"): ("not_found", ["not_seen"]),
        ("backup01", "lead_b1"): ("mismatch", ["owner"]),
    }
    found = {key: (item(*key).state, [reason["code"] for reason in item(*key).reasons]) for key in expected}
    assert found == expected
    assert item("web", "lead_a1").vm.ip_addresses == ["10.0.2.13"] and item("web", "lead_a1").match_key == "ip"
    assert len(item("web01", "lead_a2").candidates) == 2
    assert item("DC0_H0_VM0", "lead_b1").routed_to.email == "ceo@example.com"  # their lowest common manager
    assert item("backup01", "lead_b1").reasons[0]["message"] == (
        "declared owner Ben Lead; inventory's owner is Ann Lead"
    )
    assert item("db01", "lead_a1").reasons[0]["message"].startswith(
        "declared created on 2021-05-01; vCenter says 2023-01-15"
    )

    # Everything present and not a template that no declaration matched is undeclared.
    present = set(VirtualMachine.objects.filter(status="present", is_template=False).values_list("pk", flat=True))
    declared = set(ReconciliationItem.objects.filter(campaign=campaign, declared_vm__isnull=False,
                                                     vm__isnull=False, state__in=["matched", "mismatch", "conflict"])
                   .values_list("vm_id", flat=True))
    assert set(ReconciliationItem.objects.filter(campaign=campaign, state="undeclared")
               .values_list("vm_id", flat=True)) == present - declared
    assert first.counts["undeclared"] > second.counts["undeclared"]  # backup01 is declared in the second run
    assert second.counts == third.counts and third.changed == 0 and third.written_back == 0
    assert second.counts == {
        "matched": 3, "mismatch": 6, "conflict": 2, "not_found": 3, "not_found_unscanned": 1,
        "undeclared": len(present - declared),
    }
    assert DeclaredVM.objects.filter(assignment__campaign=campaign).count() == 15
    assert Assignment.objects.filter(campaign=campaign, status=AssignmentStatus.IN_PROGRESS).count() == 3
