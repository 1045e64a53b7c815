"""The control API: controls with their status per scope, mappings and stored evaluations with their inputs,
in bounded queries; filters refuse bad values with a 400 naming them."""

import pytest
from django.urls import reverse

from compliance.choices import EvaluationTrigger
from compliance.services.controls import controls_load
from compliance.services.evaluation import controls_evaluate
from inventory.choices import Sanction
from portal.choices import Role
from tests.factories import HostFactory, VirtualMachineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluated(shipped_catalogs):
    controls_load()
    host = HostFactory()
    for number in range(4):
        VirtualMachineFactory(host=host, sanction=Sanction.APPROVED if number else Sanction.PENDING)
    return controls_evaluate(trigger=EvaluationTrigger.COMMAND)


def test_a_control_with_its_mappings_and_status_per_scope(evaluated, client_for):
    body = client_for(Role.AUDITOR).get(reverse("api:control-detail", args=["VMC-02"])).json()

    assert (body["code"], body["metric"], body["threshold"], body["owner"]) == ("VMC-02", "approval_rate", "98.00",
                                                                                None)
    assert {"framework": "sox", "citation": "SOX-ITGC-PD-02", "relationship": "direct"} in body["mappings"]
    assert {"framework": "nist-800-53", "citation": "CM-8", "relationship": "related"} in body["mappings"]
    assert body["status"]["estate"]["status"] == "deficient"
    assert body["status"]["estate"]["summary"] == "3 of 4 live VMs approved."
    assert body["status"]["hipaa"]["status"] == "not_evaluated"


def test_lists_do_not_grow_queries_with_rows(evaluated, client_for, django_assert_max_num_queries):
    client = client_for(Role.COMPLIANCE_OFFICER)
    for _ in range(2):
        controls_evaluate(trigger=EvaluationTrigger.COMMAND)
    for url in ("api:control-list", "api:controlmapping-list", "api:controlevaluation-list"):
        with django_assert_max_num_queries(8):
            assert client.get(reverse(url)).status_code == 200


def test_evaluations_with_their_inputs_filtered_by_control_scope_and_status(evaluated, client_for):
    client = client_for(Role.SECURITY_ADMIN)

    body = client.get(reverse("api:controlevaluation-list"), {"control": "VMC-02", "scope": "estate"}).json()
    deficient = client.get(reverse("api:controlevaluation-list"), {"status": "deficient"}).json()

    (approval,) = body["results"]
    assert (approval["numerator"], approval["denominator"], approval["trigger"]) == (3, 4, "command")
    (stored,) = approval["inputs"]
    assert (stored["name"], stored["row_count"], len(stored["sha256"])) == ("vms", 4, 64)
    assert {row["status"] for row in deficient["results"]} == {"deficient"}


@pytest.mark.parametrize("query", [{"scope": "mars"}, {"status": "great"}, {"evaluated_after": "yesterday"}])
def test_a_bad_filter_is_a_400_naming_it(evaluated, client_for, query):
    response = client_for(Role.AUDITOR).get(reverse("api:controlevaluation-list"), query)

    assert response.status_code == 400 and set(response.json()) == set(query)


def test_mappings_by_control_and_framework(evaluated, client_for):
    body = client_for(Role.AUDITOR).get(reverse("api:controlmapping-list"),
                                        {"control": "VMC-01", "framework": "glba"}).json()

    assert [(row["citation"], row["relationship"]) for row in body["results"]] == [("314.4(c)(2)", "direct")]


def test_managers_read_no_control(evaluated, client_for):
    assert client_for(Role.MANAGER).get(reverse("api:control-list")).status_code == 403
