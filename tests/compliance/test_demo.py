"""The demo loads the shipped catalogs and builds a pack for each regulation, and running it again changes
nothing."""

import pytest

from compliance.choices import PackState
from compliance.models import CatalogVersion, EvidencePack, FrameworkGrant, Requirement
from compliance.services.demo import demo_load
from compliance.services.packs import pack_verify
from portal.choices import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_demo_loads_the_catalogs_and_builds_a_pack_per_regulation_once():
    officer = UserFactory(username="officer", role=Role.COMPLIANCE_OFFICER)
    auditor = UserFactory(username="auditor", role=Role.AUDITOR, access_expires_on="2999-12-31")

    first = demo_load()
    versions, requirements = CatalogVersion.objects.count(), Requirement.objects.count()
    packs = {pack.framework.slug: pack for pack in EvidencePack.objects.select_related("framework")}
    second = demo_load()

    catalogs = [line for line in first if line.startswith("Catalog")]
    assert [line.split(":")[0] for line in catalogs] == [
        "Catalog nist-800-53 v1", "Catalog glba v1", "Catalog hipaa v1", "Catalog sox v1"
    ]
    assert all("requirements loaded" in line for line in catalogs)
    assert set(packs) == {"glba", "hipaa", "sox"}
    assert all(pack.state == PackState.READY and pack.built_by == officer for pack in packs.values())
    assert all(pack_verify(pack=pack) == [] for pack in packs.values())
    assert second == [line.split(":")[0] + ": unchanged." for line in first]
    assert versions == 4
    assert (CatalogVersion.objects.count(), Requirement.objects.count(), EvidencePack.objects.count()) == (
        versions, requirements, 3)
    assert set(FrameworkGrant.objects.filter(auditor=auditor).values_list("framework__slug", flat=True)) == set(packs)
