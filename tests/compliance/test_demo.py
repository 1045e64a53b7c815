"""The demo loads the shipped catalogs and the control library, evaluates the controls with a history, writes
the compliance records, builds a pack for each regulation, and running it again changes nothing."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from compliance.choices import ControlTestStatus, DecisionOutcome, ExceptionStatus, PackState
from compliance.models import (
    AddressableDecision,
    Applicability,
    CatalogVersion,
    Control,
    ControlEvaluation,
    ControlTest,
    EvaluationRun,
    Evidence,
    EvidencePack,
    FrameworkGrant,
    PlanSignoff,
    PlanVersion,
    Requirement,
    RiskException,
)
from compliance.selectors import framework_rollups, plan_in_force
from compliance.services.demo import HISTORY_WEEKS, demo_load
from compliance.services.packs import pack_verify
from portal.choices import Role
from portal.services.demo import demo_people_load
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_demo_loads_the_catalogs_and_the_library_once():
    first = demo_load()
    state = (CatalogVersion.objects.count(), Requirement.objects.count(), Control.objects.count(),
             ControlEvaluation.objects.count(), EvaluationRun.objects.count())
    second = demo_load()

    assert [line.split(":")[0] for line in first[:4]] == [
        "Catalog nist-800-53 v1", "Catalog glba v1", "Catalog hipaa v1", "Catalog sox v1"
    ]
    assert all("requirements loaded" in line for line in first[:4])
    assert first[4].startswith(f"Control library: {Control.objects.count()} controls loaded")
    assert first[5].startswith(f"Control evaluations: {HISTORY_WEEKS} weekly")
    assert second[:4] == [line.split(":")[0] + ": unchanged." for line in first[:4]]
    assert second[4:6] == [f"Control library: 0 controls loaded, {Control.objects.count()} unchanged.",
                           "Control evaluations: already evaluated."]
    assert state[0] == 4 and state[4] == HISTORY_WEEKS + 1
    assert (CatalogVersion.objects.count(), Requirement.objects.count(), Control.objects.count(),
            ControlEvaluation.objects.count(), EvaluationRun.objects.count()) == state


def test_the_demo_writes_the_compliance_records_once(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    demo_people_load()
    first = demo_load()
    counts = [model.objects.count() for model in (Applicability, AddressableDecision, PlanVersion, PlanSignoff,
                                                  RiskException, ControlTest, Evidence)]
    second = demo_load()

    assert "Security plan: v1 signed off, v2 awaiting one sign-off." in first
    assert "Security plan: unchanged." in second
    assert [model.objects.count() for model in (Applicability, AddressableDecision, PlanVersion, PlanSignoff,
                                                RiskException, ControlTest, Evidence)] == counts
    assert "Control tests: unchanged." in second
    assert plan_in_force().number == 1
    assert Applicability.objects.filter(applicable=False).count() == 5  # 164.314(b)(1) and its four specifications
    outcomes = sorted(AddressableDecision.objects.values_list("outcome", flat=True))
    assert len(outcomes) == 20  # 22 addressable, two still undecided
    assert outcomes.count(DecisionOutcome.ALTERNATIVE) == 2 and outcomes.count(DecisionOutcome.NOT_REASONABLE) == 1
    exceptions = RiskException.objects.all()
    assert exceptions.filter(status=ExceptionStatus.APPROVED, control__isnull=False).exists()
    assert exceptions.filter(status=ExceptionStatus.APPROVED, requirement__isnull=False).exists()
    assert exceptions.filter(status=ExceptionStatus.REQUESTED).exists()
    statuses = set(ControlTest.objects.values_list("status", flat=True))
    assert {ControlTestStatus.PASSED, ControlTestStatus.FAILED, ControlTestStatus.MISSED,
            ControlTestStatus.SCHEDULED} <= statuses
    overdue = ControlTest.objects.filter(status=ControlTestStatus.MISSED, due_on__lt=timezone.localdate())
    assert overdue.exists() and not overdue.filter(control__metric__gt="").exists()


def test_the_demo_tests_most_attested_controls_and_its_frameworks_show_a_mix(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("load_demo", stdout=io.StringIO())  # the whole portal's demo: its estate is what metrics measure

    attested = Control.objects.filter(metric="", retired_at__isnull=True)
    results = dict(ControlTest.objects.exclude(status__in=[ControlTestStatus.SCHEDULED, ControlTestStatus.MISSED])
                   .values_list("control__code", "status").distinct())
    untested = set(attested.values_list("code", flat=True)) - set(results)
    # Most attested controls have a recorded test, one failed; a few are untested, those missed among them.
    assert len(results) > 3 * len(untested) and 1 <= len(untested) <= 3
    assert list(results.values()).count(ControlTestStatus.FAILED) == 1
    missed = set(ControlTest.objects.filter(status=ControlTestStatus.MISSED).values_list("control__code", flat=True))
    assert missed and missed <= untested
    assert all(t.note for t in ControlTest.objects.filter(status=ControlTestStatus.PASSED))
    rollups = {framework.slug: rollup for framework, _, rollup in framework_rollups()}
    assert set(rollups) == {"glba", "hipaa", "sox"}
    for rollup in rollups.values():
        assert rollup.effective > rollup.mapped / 2  # most effective, the rest spread over the other statuses
        assert rollup.deficient and rollup.not_evaluated + rollup.excepted
    assert rollups["hipaa"].excepted and rollups["glba"].excepted


def test_the_demo_builds_a_pack_per_regulation_once_and_grants_them_to_the_auditor():
    officer = UserFactory(username="officer", role=Role.COMPLIANCE_OFFICER)
    auditor = UserFactory(username="auditor", role=Role.AUDITOR, access_expires_on="2999-12-31")

    first = [line for line in demo_load() if line.startswith("Evidence pack")]
    packs = {pack.framework.slug: pack for pack in EvidencePack.objects.select_related("framework")}
    second = [line for line in demo_load() if line.startswith("Evidence pack")]

    assert set(packs) == {"glba", "hipaa", "sox"}
    assert all(pack.state == PackState.READY and pack.built_by == officer for pack in packs.values())
    assert all(pack_verify(pack=pack) == [] for pack in packs.values())
    assert [line.split(":")[0] for line in first] == [
        f"Evidence pack {packs[slug].pk} ({slug})" for slug in ("glba", "hipaa", "sox")]
    assert second == [line.split(":")[0] + ": unchanged." for line in first]
    assert EvidencePack.objects.count() == 3
    assert set(FrameworkGrant.objects.filter(auditor=auditor).values_list("framework__slug", flat=True)) == set(packs)
