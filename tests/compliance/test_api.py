"""The compliance API: frameworks with their newest version, requirements filtered by framework, bounded queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compliance.services.catalogs import catalogs_load
from portal.choices import Role
from tests.compliance.conftest import RULE_HEAD, RULE_ROWS, write_catalog
from tests.compliance.test_catalog_data import HIPAA_RULE, HIPAA_SECTIONS

pytestmark = pytest.mark.django_db

REQUIREMENTS_URL = reverse("api:requirement-list")
FRAMEWORKS_URL = reverse("api:framework-list")


def test_requirements_of_one_framework_with_citation_and_required_or_addressable(shipped_catalogs, client_for):
    body = client_for(Role.AUDITOR).get(REQUIREMENTS_URL, {"framework": "hipaa", "page_size": 1000}).json()

    assert body["count"] == len(HIPAA_RULE) + len(HIPAA_SECTIONS)
    by_citation = {row["citation"]: row for row in body["results"]}
    assert {row["framework"] for row in body["results"]} == {"hipaa"}
    risk = by_citation["164.308(a)(1)(ii)(A)"]
    assert (risk["title"], risk["kind"], risk["implementation"], risk["parent"], risk["version"]) == (
        "Risk analysis", "implementation_specification", "required", "164.308(a)(1)(i)", 1
    )
    assert risk["nist_800_53"] == ["RA-2", "RA-3"]
    assert by_citation["164.312(a)(2)(iii)"]["implementation"] == "addressable"
    assert by_citation["164.308(a)(1)(i)"]["implementation"] is None
    assert risk["source_document"].startswith("45 CFR 164.308, 164.310, 164.312, 164.314 and 164.316")


def test_requirements_filter_by_flag_and_by_800_53_control(shipped_catalogs, client_for):
    client = client_for(Role.SECURITY_ADMIN)

    addressable = client.get(REQUIREMENTS_URL, {"framework": "hipaa", "implementation": "addressable"}).json()
    mapped = client.get(REQUIREMENTS_URL, {"framework": "hipaa", "maps_to": "RA-3"}).json()

    assert addressable["count"] == sum(1 for _, _, flag in HIPAA_RULE if flag == "addressable")
    assert "164.308(a)(1)(ii)(A)" in [row["citation"] for row in mapped["results"]]
    assert all("RA-3" in row["nist_800_53"] for row in mapped["results"])


def test_frameworks_with_their_newest_version(shipped_catalogs, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)

    listed = client.get(FRAMEWORKS_URL).json()
    hipaa = client.get(reverse("api:framework-detail", args=["hipaa"])).json()

    assert [f["slug"] for f in listed] == ["glba", "hipaa", "sox", "nist-800-53"]
    assert hipaa["latest_version"]["number"] == 1
    assert hipaa["latest_version"]["mapping_count"] == 279
    assert hipaa["latest_version"]["source_documents"][0]["key"] == "S1"
    assert client.get(reverse("api:framework-detail", args=["nope"])).status_code == 404


def test_only_the_newest_version_unless_asked(small_dir, client_for):
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))
    edited = [row.replace("Risk analysis", "Risk analysis v2") for row in RULE_ROWS]
    write_catalog(small_dir, "rule.csv", RULE_HEAD, edited)
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))
    client = client_for(Role.AUDITOR)

    newest = client.get(REQUIREMENTS_URL, {"framework": "rule"}).json()["results"]
    first = client.get(REQUIREMENTS_URL, {"framework": "rule", "version": 1}).json()["results"]

    assert {row["version"] for row in newest} == {2} and len(newest) == len(RULE_ROWS)
    assert {row["version"] for row in first} == {1}
    assert "Risk analysis v2" not in [row["title"] for row in first]


@pytest.mark.parametrize("role", [Role.MANAGER, "none"])
def test_managers_and_people_without_a_role_are_refused(role, shipped_catalogs, client_for):
    assert client_for(role).get(REQUIREMENTS_URL).status_code == 403
    assert client_for(role).get(FRAMEWORKS_URL).status_code == 403


def test_the_requirement_list_needs_the_same_queries_for_4_or_40_rows(small_dir, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    def count() -> int:
        client.get(REQUIREMENTS_URL, {"framework": "rule"})
        with CaptureQueriesContext(connection) as queries:
            response = client.get(REQUIREMENTS_URL, {"framework": "rule"})
        assert response.status_code == 200
        return len(queries)

    few = count()
    more = [f"164.308(a)(9)({n}),164.308(a)(1)(i),implementation_specification,required,Spec {n},S1,AC-2 AU-6,"
            for n in range(36)]
    write_catalog(small_dir, "rule.csv", RULE_HEAD, [*RULE_ROWS, *more])
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    assert client.get(REQUIREMENTS_URL, {"framework": "rule"}).json()["count"] == 40
    assert count() == few


@pytest.mark.parametrize(
    "instant",
    ["0071-01-20T19:29:16.0418+19:54", "2026-01-20T19:29:16+16:00", "0001-01-01T00:00:00+01:00"],
)
def test_a_time_no_clock_shows_is_a_400_naming_the_filter(db, client_for, instant):
    """PostgreSQL refuses offsets past 15:59 and years before 1 once in UTC: the API says so instead of failing."""
    response = client_for(Role.AUDITOR).get("/api/v1/control-evaluations/", {"evaluated_before": instant})

    assert response.status_code == 400
    assert "evaluated_before" in response.json()


def test_a_real_time_with_its_offset_filters_evaluations(db, client_for):
    response = client_for(Role.AUDITOR).get("/api/v1/control-evaluations/",
                                            {"evaluated_before": "2026-01-20T19:29:16+14:00"})

    assert response.status_code == 200
