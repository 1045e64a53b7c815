"""Reconciliation feeds governance: a run that changed items evaluates the policies, so a VM nobody declared and
one declared decommissioned while it runs become findings without waiting for the next scan."""

import pytest

from inventory.choices import FindingState, PolicyKind, PowerState
from inventory.models import Finding
from inventory.services.policies import policies_load
from questionnaires.choices import AssignmentStatus, DeclaredVMStatus, ReconciliationTrigger
from questionnaires.services.reconciliation import reconciliation_run
from tests.factories import PersonFactory, VirtualMachineFactory
from tests.questionnaires.factories import AssignmentFactory, CampaignFactory, DeclaredVMFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign_with_gaps(db):
    """Dana's campaign: she declares legacy01 decommissioned (it runs); nobody declares stray01, which she owns."""
    policies_load()
    dana = PersonFactory(name="Dana Director", email="dana@example.com")
    campaign = CampaignFactory(scope=dana)
    part = AssignmentFactory(campaign=campaign, person=dana, status=AssignmentStatus.IN_PROGRESS)
    legacy = VirtualMachineFactory(name="legacy01", power_state=PowerState.ON, owner=dana)
    stray = VirtualMachineFactory(name="stray01", power_state=PowerState.ON, owner=dana)
    DeclaredVMFactory(assignment=part, name="legacy01", status=DeclaredVMStatus.DECOMMISSIONED)
    return {"campaign": campaign, "legacy": legacy, "stray": stray}


def open_findings() -> set[tuple[str, str]]:
    return set(Finding.objects.exclude(state=FindingState.RESOLVED).values_list("kind", "vm__name"))


def test_a_reconciliation_that_changed_items_opens_their_findings(
    campaign_with_gaps, django_capture_on_commit_callbacks
):
    assert not Finding.objects.filter(kind__in=[PolicyKind.UNDECLARED, PolicyKind.RUNNING_BUT_DECOMMISSIONED])

    with django_capture_on_commit_callbacks(execute=True):
        run = reconciliation_run(campaign=campaign_with_gaps["campaign"], trigger=ReconciliationTrigger.COMMAND)

    assert run.changed > 0
    found = {(kind, name) for kind, name in open_findings()
             if kind in (PolicyKind.UNDECLARED, PolicyKind.RUNNING_BUT_DECOMMISSIONED)}
    assert found == {(PolicyKind.UNDECLARED, "stray01"), (PolicyKind.RUNNING_BUT_DECOMMISSIONED, "legacy01")}


def test_a_rerun_that_changed_nothing_does_not_evaluate_again(campaign_with_gaps, django_capture_on_commit_callbacks,
                                                              monkeypatch):
    with django_capture_on_commit_callbacks(execute=True):
        reconciliation_run(campaign=campaign_with_gaps["campaign"], trigger=ReconciliationTrigger.COMMAND)
    evaluations = []
    monkeypatch.setattr("inventory.tasks.policies_evaluate", lambda **kwargs: evaluations.append(kwargs))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rerun = reconciliation_run(campaign=campaign_with_gaps["campaign"], trigger=ReconciliationTrigger.COMMAND)

    assert rerun.changed == 0 and callbacks  # the run finished and announced itself
    assert evaluations == []
