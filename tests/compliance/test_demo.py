"""The demo loads the shipped catalogs, and running it again changes nothing."""

import pytest

from compliance.models import CatalogVersion, Requirement
from compliance.services.demo import demo_load

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
