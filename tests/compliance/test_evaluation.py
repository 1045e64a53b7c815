"""Control evaluation on real data: the simulator scanned, a campaign answered and reconciled, VMs approved or
not. Each control of the shipped library gets the status its rule gives, stored with its inputs, and a stored
result can be shown on its date and re-checked."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from compliance.choices import EvaluationStatus, EvaluationTrigger, Scope
from compliance.evaluators.base import rows_sha256
from compliance.models import ControlEvaluation, EvaluationRun
from compliance.selectors import control_list, day_end
from compliance.services.controls import controls_load
from compliance.services.evaluation import controls_evaluate, evaluation_recheck
from inventory.choices import PolicyKind, Sanction
from inventory.models import Finding, VirtualMachine
from inventory.services.findings import findings_acknowledge, policies_evaluate
from inventory.services.policies import policies_load
from inventory.services.scan import source_scan
from inventory.services.sources import source_vcenter_save
from portal.choices import Role
from portal.models import AuditEvent
from questionnaires.choices import ReconciliationTrigger
from questionnaires.models import Assignment, Question
from questionnaires.services.answers import answer_save
from questionnaires.services.assignments import assignment_review, assignment_submit
from questionnaires.services.campaigns import campaign_close, campaign_launch
from questionnaires.services.declared_vms import declared_vms_grid_save
from questionnaires.services.reconciliation import reconciliation_run
from tests.questionnaires.conftest import logins, make_campaign, officer, template_version  # noqa: F401
from tests.vsphere_sim import harness

pytestmark = [pytest.mark.simulator, pytest.mark.django_db]

EFFECTIVE, DEFICIENT = EvaluationStatus.EFFECTIVE, EvaluationStatus.DEFICIENT
NOT_EVALUATED = EvaluationStatus.NOT_EVALUATED


@pytest.fixture
def scanned(vsphere_simulator_available, shipped_catalogs):
    """Four simulator VMs on three hosts at build 5969303 (vmx-13, Tools not installed): DC0_C0_RP0_VM1 powered
    off, DC0_C0_RP0_VM0 carrying one hardening setting. Scanned once, complete; the shipped governance policies
    loaded (evaluated by each test when it needs findings)."""
    controls_load()
    policies_load()
    with harness.Simulator(datacenters=1, clusters=1, cluster_hosts=2, hosts=1, vms=2) as sim:
        source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                     use_http=True)
        si = sim.connect()
        harness.reconfigure_extra_config(si, harness.find_vm(si, "DC0_C0_RP0_VM0"), "isolation.tools.copy.disable",
                                         "TRUE")
        harness.power_off(si, harness.find_vm(si, "DC0_C0_RP0_VM1"))
        assert source_scan(source=source).status == "complete"
    return {vm.name: vm for vm in VirtualMachine.objects.all()}


@pytest.fixture
def answered(scanned, make_campaign, officer, logins):  # noqa: F811
    """A campaign over the org (six assignments): Ann declares two scanned VMs, one holding ePHI, and submits; her
    VP accepts; reconciled (which writes the accepted data categories onto the VM)."""
    campaign = make_campaign()
    campaign_launch(campaign=campaign, user=officer)
    ann = Assignment.objects.get(campaign=campaign, person__user=logins["lead_a1"])
    vms = Question.objects.get(section__version_id=campaign.version_id, key="vms")
    saved = declared_vms_grid_save(assignment=ann, question=vms, user=logins["lead_a1"], grid=[
        {"name": "DC0_C0_RP0_VM0", "data_categories": "ePHI"}, {"name": "DC0_H0_VM0"},
    ])
    assert not saved.parsed.problems
    answer_save(assignment=ann, question=Question.objects.get(section__version_id=campaign.version_id,
                                                               key="runs_vms"), raw="yes", user=logins["lead_a1"])
    assignment_submit(assignment=ann, user=logins["lead_a1"])
    assignment_review(assignment=ann, user=logins["vp_a"], accept=True)
    reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)
    return campaign


def statuses(run: EvaluationRun, scope: str = Scope.ESTATE) -> dict[str, str]:
    return dict(run.evaluations.filter(scope=scope).values_list("control__code", "status"))


def evaluation(run: EvaluationRun, code: str, scope: str = Scope.ESTATE) -> ControlEvaluation:
    return run.evaluations.get(control__code=code, scope=scope)


def test_each_automated_control_gets_the_status_its_rule_gives(answered, scanned, role_users):
    VirtualMachine.objects.filter(name__in=["DC0_C0_RP0_VM0", "DC0_H0_VM0"]).update(sanction=Sanction.APPROVED)

    run = controls_evaluate(trigger=EvaluationTrigger.COMMAND)

    assert statuses(run) == {
        "VMC-01": DEFICIENT,  # 2 of 4 scanned VMs declared and matched, under 95 %
        "VMC-02": DEFICIENT,  # 2 of 4 approved, under 98 %
        "VMC-03": DEFICIENT,  # no VM holds all four baseline settings
        "VMC-04": EFFECTIVE,  # the unapproved VMs were first seen today: no rogue finding yet
        "VMC-05": DEFICIENT,  # Tools not installed on any of the 3 powered-on VMs
        "VMC-06": EFFECTIVE,  # every VM is vmx-13, the minimum
        "VMC-07": EFFECTIVE,  # every host at build 5969303, the minimum
        "VMC-08": EFFECTIVE,  # the powered-off VM was seen today: no dormant finding
        "VMC-09": EFFECTIVE,  # no BIOS UUID shared: no copied finding
        "VMC-10": DEFICIENT,  # 1 of 6 assignments answered, under 90 %
        "VMC-11": EFFECTIVE,  # the one vCenter source scanned just now
        "VMC-12": EFFECTIVE,  # the audit chain verifies
        "VMC-13": EFFECTIVE,  # the one auditor's access ends in 30 days, within 90
    }
    assert evaluation(run, "VMC-01").summary == "2 of 4 scanned VMs declared and matched."
    assert (evaluation(run, "VMC-02").value, evaluation(run, "VMC-02").numerator) == (Decimal("50.0000"), 2)
    assert evaluation(run, "VMC-05").summary == "0 of 3 powered-on VMs have current Tools."
    assert evaluation(run, "VMC-10").summary == "1 of 6 assignments answered."
    # Attestation controls are not evaluated from data at all.
    assert not run.evaluations.filter(control__code="VMC-14").exists()
    assert AuditEvent.objects.get(action="compliance.controls_evaluated", object_id=str(run.pk)).details["counts"] \
        == run.counts


def test_a_framework_scope_counts_only_the_vms_holding_its_data(answered, scanned):
    run = controls_evaluate(trigger=EvaluationTrigger.COMMAND)

    # Ann's declaration wrote ePHI onto DC0_C0_RP0_VM0: HIPAA's scope is that VM alone; SOX has none.
    assert VirtualMachine.objects.get(name="DC0_C0_RP0_VM0").data_categories == ["ephi"]
    hipaa = evaluation(run, "VMC-01", Scope.HIPAA)
    assert (hipaa.status, hipaa.summary) == (EFFECTIVE, "1 of 1 scanned VMs declared and matched.")
    assert evaluation(run, "VMC-02", Scope.HIPAA).summary == "0 of 1 live VMs approved."
    sox = evaluation(run, "VMC-02", Scope.SOX)
    assert (sox.status, sox.summary) == (NOT_EVALUATED, "No live VMs in scope.")
    # Metrics that are not about VMs are evaluated once, for the estate.
    assert list(run.evaluations.filter(control__code="VMC-12").values_list("scope", flat=True)) == [Scope.ESTATE]


def test_each_evaluation_keeps_its_query_parameters_row_count_and_hash(answered, scanned):
    run = controls_evaluate(trigger=EvaluationTrigger.COMMAND)

    approval = evaluation(run, "VMC-02")
    (stored,) = approval.inputs
    rows = list(VirtualMachine.objects.order_by("id").values_list("id", "sanction"))
    assert (stored["name"], stored["row_count"], stored["parameters"]) == ("vms", 4, {"scope": "estate"})
    assert stored["sha256"] == rows_sha256(rows)
    assert stored["query"].startswith("VMs with status present, templates excluded")
    (hipaa,) = evaluation(run, "VMC-02", Scope.HIPAA).inputs
    assert hipaa["row_count"] == 1 and "'ephi'" in hipaa["query"]
    rogue = evaluation(run, "VMC-04")
    assert (rogue.parameters, rogue.threshold, rogue.control_version) == ({"grace_days": 7}, Decimal("0"), 1)
    assert [entry["name"] for entry in rogue.inputs] == ["policies", "vms", "findings"]


def test_findings_left_unresolved_past_their_period_make_rogue_and_dormant_deficient(answered, scanned, role_users):
    # Seen for 100 days: the rogue policy (7 days' grace) flags the four unapproved VMs, the dormant policy
    # (90 days) the one powered off since discovery.
    VirtualMachine.objects.update(first_seen=timezone.now() - datetime.timedelta(days=100))
    policies_evaluate()
    soon, later = (timezone.now() + datetime.timedelta(days=days) for days in (5, 31))

    early = controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=soon)
    late = controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=later)
    dormant_finding = Finding.objects.get(kind=PolicyKind.DORMANT)
    findings_acknowledge(ids=[dormant_finding.pk], user=role_users[Role.SECURITY_ADMIN])
    reviewed = controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=later)

    assert (evaluation(early, "VMC-04").status, evaluation(early, "VMC-04").value) == (EFFECTIVE, 0)  # in grace
    rogue, dormant, fresh = (evaluation(late, code) for code in ("VMC-04", "VMC-08", "VMC-11"))
    assert (rogue.status, rogue.value, rogue.details["oldest_age_days"]) == (DEFICIENT, 4, 31)
    assert rogue.summary == "4 rogue findings unresolved more than 7 days (4 unresolved in all, oldest 31 days)."
    assert (dormant.status, dormant.value, dormant.details["overdue_sample"]) == (
        DEFICIENT, 1, [scanned["DC0_C0_RP0_VM1"].pk]
    )
    assert (fresh.status, fresh.details["stale"]) == (DEFICIENT, ["lab"])
    # Acknowledged is reviewed: the dormant VM was looked at; an acknowledged rogue VM still runs unapproved.
    assert evaluation(reviewed, "VMC-08").status == EFFECTIVE
    assert evaluation(reviewed, "VMC-04").value == 4
    (stored,) = [entry for entry in evaluation(late, "VMC-08").inputs if entry["name"] == "findings"]
    assert (stored["row_count"], stored["parameters"]) == (1, {"kind": "dormant", "scope": "estate"})


def test_a_past_status_is_shown_on_its_date_and_re_checked_against_the_data(answered, scanned):
    yesterday = timezone.now() - datetime.timedelta(days=1)
    first = controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=yesterday)
    VirtualMachine.objects.update(sanction=Sanction.APPROVED)
    controls_evaluate(trigger=EvaluationTrigger.COMMAND)

    on_the_day = {c.code: c.estate.status for c in control_list(at=day_end(timezone.localdate(yesterday))) if c.estate}
    today = {c.code: c.estate.status for c in control_list() if c.estate}
    assert (on_the_day["VMC-02"], today["VMC-02"]) == (DEFICIENT, EFFECTIVE)

    stale = evaluation_recheck(evaluation=evaluation(first, "VMC-02"))
    same = evaluation_recheck(evaluation=evaluation(first, "VMC-06"))
    assert not stale.same and (stale.status_now, stale.value_now) == (EFFECTIVE, Decimal("100.00"))
    assert stale.inputs[0].rows_now == stale.inputs[0].stored_rows == 4
    assert same.same and same.status_now == EFFECTIVE


def test_a_complete_scan_a_reconciliation_and_a_campaign_close_each_trigger_an_evaluation(
    answered, scanned, officer, django_capture_on_commit_callbacks  # noqa: F811
):
    before = EvaluationRun.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        reconciliation_run(campaign=answered, trigger=ReconciliationTrigger.COMMAND)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_close(campaign=answered, user=officer)

    triggers = list(EvaluationRun.objects.order_by("id").values_list("trigger", flat=True)[before:])
    assert triggers == [EvaluationTrigger.RECONCILIATION, EvaluationTrigger.CAMPAIGN_CLOSE]
    assert all(run.evaluations.count() > 0 for run in EvaluationRun.objects.order_by("id")[before:])


def test_a_complete_scan_triggers_an_evaluation_once_it_committed(
    vsphere_simulator_available, shipped_catalogs, django_capture_on_commit_callbacks
):
    controls_load()
    with harness.Simulator(datacenters=1, clusters=1, cluster_hosts=1, vms=1) as sim:
        source = source_vcenter_save(name="lab", host=sim.host, port=sim.port, username="user", password="pass",
                                     use_http=True)
        with django_capture_on_commit_callbacks(execute=True):
            source_scan(source=source)

    # The scan queues an evaluation, and so does the policy evaluation the scan queued.
    assert sorted(EvaluationRun.objects.values_list("trigger", flat=True)) == [
        EvaluationTrigger.POLICY_EVALUATION, EvaluationTrigger.SCAN
    ]
    run = EvaluationRun.objects.get(trigger=EvaluationTrigger.SCAN)
    scanned_vms = VirtualMachine.objects.count()
    assert scanned_vms > 0
    assert evaluation(run, "VMC-06").summary == f"{scanned_vms} of {scanned_vms} live VMs at vmx-13 or above."


def test_a_policy_evaluation_triggers_an_evaluation(scanned, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        policies_evaluate()

    assert EvaluationRun.objects.get().trigger == EvaluationTrigger.POLICY_EVALUATION


def test_the_daily_run_happens_once_a_day_however_often_it_is_delivered(scanned):
    first = controls_evaluate(trigger=EvaluationTrigger.DAILY)
    second = controls_evaluate(trigger=EvaluationTrigger.DAILY)

    assert second.pk == first.pk
    assert EvaluationRun.objects.filter(trigger=EvaluationTrigger.DAILY).count() == 1
    assert ControlEvaluation.objects.filter(run=first).count() == first.evaluations.count() > 0
