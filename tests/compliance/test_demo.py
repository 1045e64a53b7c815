"""The demo loads the shipped catalogs and the control library, evaluates the controls with a history, and
running it again changes nothing."""

import pytest

from compliance.models import CatalogVersion, Control, ControlEvaluation, EvaluationRun, Requirement
from compliance.services.demo import HISTORY_WEEKS, demo_load

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
    assert second[4:] == [f"Control library: 0 controls loaded, {Control.objects.count()} unchanged.",
                          "Control evaluations: already evaluated."]
    assert state[0] == 4 and state[4] == HISTORY_WEEKS + 1
    assert (CatalogVersion.objects.count(), Requirement.objects.count(), Control.objects.count(),
            ControlEvaluation.objects.count(), EvaluationRun.objects.count()) == state
