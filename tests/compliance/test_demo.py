"""The demo loads the shipped catalogs and the control library, evaluates the controls with a history, builds a
pack for each regulation, and running it again changes nothing."""

import pytest

from compliance.choices import PackState
from compliance.models import (
    CatalogVersion,
    Control,
    ControlEvaluation,
    EvaluationRun,
    EvidencePack,
    FrameworkGrant,
    Requirement,
)
from compliance.services.demo import HISTORY_WEEKS, demo_load
from compliance.services.packs import pack_verify
from portal.choices import Role
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
