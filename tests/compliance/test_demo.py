"""The demo loads the shipped catalogs and the compliance records, and running it again changes nothing."""

import pytest

from compliance.choices import DecisionOutcome, ExceptionStatus
from compliance.models import (
    AddressableDecision,
    Applicability,
    CatalogVersion,
    PlanSignoff,
    PlanVersion,
    Requirement,
    RiskException,
)
from compliance.selectors import plan_in_force
from compliance.services.demo import demo_load
from portal.services.demo import demo_people_load

pytestmark = pytest.mark.django_db


def test_the_demo_loads_the_catalogs_once():
    first = demo_load()
    versions, requirements = CatalogVersion.objects.count(), Requirement.objects.count()
    second = demo_load()

    assert [line.split(":")[0] for line in first] == [
        "Catalog nist-800-53 v1", "Catalog glba v1", "Catalog hipaa v1", "Catalog sox v1"
    ]
    assert all("requirements loaded" in line for line in first)
    assert second == [line.split(":")[0] + ": unchanged." for line in first]
    assert versions == 4
    assert (CatalogVersion.objects.count(), Requirement.objects.count()) == (versions, requirements)


def test_the_demo_writes_the_compliance_records_once():
    demo_people_load()
    first = demo_load()
    counts = [model.objects.count() for model in (Applicability, AddressableDecision, PlanVersion, PlanSignoff,
                                                  RiskException)]
    second = demo_load()

    assert "Security plan: v1 signed off, v2 awaiting one sign-off." in first
    assert "Security plan: unchanged." in second
    assert [model.objects.count() for model in (Applicability, AddressableDecision, PlanVersion, PlanSignoff,
                                                RiskException)] == counts
    assert plan_in_force().number == 1
    assert Applicability.objects.filter(applicable=False).count() == 5  # 164.314(b)(1) and its four specifications
    outcomes = sorted(AddressableDecision.objects.values_list("outcome", flat=True))
    assert len(outcomes) == 20  # 22 addressable, two still undecided
    assert outcomes.count(DecisionOutcome.ALTERNATIVE) == 2 and outcomes.count(DecisionOutcome.NOT_REASONABLE) == 1
    assert sorted(RiskException.objects.values_list("status", flat=True)) == [ExceptionStatus.APPROVED,
                                                                              ExceptionStatus.REQUESTED]
