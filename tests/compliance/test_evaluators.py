"""Metrics at their edges: the baseline leaves out VMs whose settings were never collected, copies are counted,
hardware versions are read from vCenter's ``vmx-N``, and a metric with nothing to count is not evaluated."""

import pytest

from compliance.choices import EvaluationStatus, EvaluationTrigger, Scope
from compliance.evaluators.hardware import version_number
from compliance.services.controls import controls_load
from compliance.services.evaluation import controls_evaluate
from inventory.choices import PowerState, VMStatus
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


def test_copies_are_counted_and_removed_vms_and_templates_are_not(shipped_catalogs):
    controls_load()
    host = HostFactory()
    VirtualMachineFactory(host=host, copied=True, bios_uuid="4200")
    VirtualMachineFactory(host=host, copied=True, bios_uuid="4200")
    VirtualMachineFactory(host=host, copied=True, status=VMStatus.REMOVED)
    VirtualMachineFactory(host=host, is_template=True, power_state=PowerState.OFF)
    VirtualMachineFactory(host=host)

    copied = result(controls_evaluate(trigger=EvaluationTrigger.COMMAND), "VMC-09")

    assert (copied.status, copied.value, copied.denominator) == (EvaluationStatus.DEFICIENT, 2, 3)


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
