"""Metrics at their edges: the baseline leaves out VMs whose settings were never collected, copied findings count
past their grace and not once excepted,
hardware versions are read from vCenter's ``vmx-N``, and a metric with nothing to count is not evaluated."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from compliance.choices import EvaluationStatus, EvaluationTrigger, Scope
from compliance.evaluators.hardware import version_number
from compliance.models import EvaluationRun
from compliance.services.controls import controls_load
from compliance.services.evaluation import controls_evaluate
from inventory.choices import PolicyKind, VMStatus
from inventory.models import Finding, Policy
from inventory.services.findings import findings_except, policies_evaluate
from inventory.services.policies import policies_load
from portal.choices import Role
from portal.models import AuditEvent
from tests.factories import HostFactory, VirtualMachineFactory

pytestmark = pytest.mark.django_db

BASELINE = {"isolation.tools.copy.disable": "TRUE", "isolation.tools.paste.disable": "TRUE",
            "isolation.device.connectable.disable": "TRUE", "RemoteDisplay.maxConnections": "1"}


def result(run, code, scope=Scope.ESTATE):
    return run.evaluations.get(control__code=code, scope=scope)


def test_the_baseline_judges_only_vms_whose_settings_were_collected(shipped_catalogs):
    controls_load()
    host = HostFactory()
    for _ in range(19):
        VirtualMachineFactory(host=host, advanced_settings={**BASELINE, "isolation.tools.copy.disable": "true"})
    VirtualMachineFactory(host=host, advanced_settings={**BASELINE, "RemoteDisplay.maxConnections": "4"})
    VirtualMachineFactory(host=host, advanced_settings={})  # an import: no settings known

    baseline = result(controls_evaluate(trigger=EvaluationTrigger.COMMAND), "VMC-03")

    assert (baseline.status, baseline.numerator, baseline.denominator) == (EvaluationStatus.EFFECTIVE, 19, 20)
    assert baseline.summary == "19 of 20 live VMs with collected settings meet the baseline (1 without collected " \
                               "settings)."
    assert baseline.details["not_collected"] == 1


def test_copied_findings_count_once_past_their_grace_and_not_once_excepted(shipped_catalogs, role_users):
    controls_load()
    policies_load()
    host = HostFactory()
    first, second = (VirtualMachineFactory(host=host, copied=True, bios_uuid="4200") for _ in range(2))
    VirtualMachineFactory(host=host, copied=True, status=VMStatus.REMOVED)
    VirtualMachineFactory(host=host)
    policies_evaluate()
    week_on = timezone.now() + datetime.timedelta(days=8)

    fresh = result(controls_evaluate(trigger=EvaluationTrigger.COMMAND), "VMC-09")
    late = result(controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=week_on), "VMC-09")
    findings_except(ids=[Finding.objects.get(vm=first, kind=PolicyKind.COPIED).pk],
                    user=role_users[Role.SECURITY_ADMIN], until=timezone.localdate() + datetime.timedelta(days=30),
                    reason="A lab clone, renumbered next month.")
    excepted = result(controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=week_on), "VMC-09")

    assert (fresh.status, fresh.value, fresh.details["unresolved"]) == (EvaluationStatus.EFFECTIVE, 0, 2)
    assert (late.status, late.value, sorted(late.details["overdue_sample"])) == (
        EvaluationStatus.DEFICIENT, 2, sorted([first.pk, second.pk])
    )
    assert (excepted.value, excepted.details["overdue_sample"]) == (1, [second.pk])


def test_without_an_enabled_policy_findings_metrics_are_not_evaluated(shipped_catalogs):
    controls_load()
    policies_load()
    Policy.objects.filter(kind=PolicyKind.ROGUE).update(enabled=False)
    VirtualMachineFactory()

    rogue = result(controls_evaluate(trigger=EvaluationTrigger.COMMAND), "VMC-04")

    assert (rogue.status, rogue.summary) == (EvaluationStatus.NOT_EVALUATED,
                                             "No enabled governance policy looks for these findings.")


def test_nothing_to_count_is_not_evaluated(shipped_catalogs):
    controls_load()

    run = controls_evaluate(trigger=EvaluationTrigger.COMMAND)

    for code in ("VMC-01", "VMC-02", "VMC-04", "VMC-08", "VMC-10", "VMC-11"):
        assert result(run, code).status == EvaluationStatus.NOT_EVALUATED, code
    assert result(run, "VMC-10").summary == "No campaign has been launched yet."
    assert result(run, "VMC-11").summary == "No enabled vCenter source."


@pytest.mark.parametrize(("text", "number"), [("vmx-19", 19), ("VMX-08", 8), ("13", 13), ("", None), ("vmx", None)])
def test_hardware_versions_are_read_as_vcenter_writes_them(text, number):
    assert version_number(text) == number


def test_before_the_library_is_loaded_nothing_is_evaluated_or_written(shipped_catalogs):
    VirtualMachineFactory()
    events = AuditEvent.objects.count()

    assert controls_evaluate(trigger=EvaluationTrigger.SCAN) is None
    with pytest.raises(CommandError, match="run manage.py load_controls first"):
        call_command("evaluate_controls", stdout=io.StringIO())

    assert (EvaluationRun.objects.count(), AuditEvent.objects.count()) == (0, events)
