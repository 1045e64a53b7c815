"""The statement of applicability and the HIPAA addressable decisions: who decides, what a decision needs, what
readers see, the exports and the API; a refused decision changes nothing."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from compliance.choices import DecisionOutcome, Implementation, RequirementKind
from compliance.models import AddressableDecision, Applicability, Requirement
from compliance.services.applicability import applicability_set
from portal.choices import Role
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db

READERS = [Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.AUDITOR, Role.ADMIN]
EDITORS = [Role.COMPLIANCE_OFFICER, Role.ADMIN]


def hipaa(citation: str) -> Requirement:
    return Requirement.objects.get(version__framework__slug="hipaa", citation=citation)


def state() -> tuple:
    """Everything a decision could change."""
    return (list(Applicability.objects.values_list("requirement_id", "applicable", "justification")),
            list(AddressableDecision.objects.values_list("requirement_id", "outcome", "alternative_measure",
                                                         "rationale")),
            AuditEvent.objects.count())


def edit_url(requirement: Requirement) -> str:
    return reverse("compliance:applicability_edit", args=[requirement.pk])


def decision_url(requirement: Requirement) -> str:
    return reverse("compliance:decision_edit", args=[requirement.pk])


def test_not_applicable_needs_a_justification_and_nothing_is_written_without_one(shipped_catalogs, client_for):
    requirement = hipaa("164.310(d)(1)")
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post(edit_url(requirement), {"applicable": "no",
                                                                                  "justification": "   "})

    assert response.status_code == 200
    assert response.context["form"].errors == {"justification": ["Say why the requirement does not apply."]}
    assert state() == before


def test_an_officer_records_applicability_with_who_and_an_audit_event(shipped_catalogs, client_for, role_users):
    requirement = hipaa("164.310(d)(1)")
    client = client_for(Role.COMPLIANCE_OFFICER)

    response = client.post(edit_url(requirement), {"applicable": "no", "justification": "No removable media."})

    assert response.status_code == 302
    row = Applicability.objects.get(requirement=requirement)
    assert (row.applicable, row.justification, row.decided_by) == (False, "No removable media.",
                                                                    role_users[Role.COMPLIANCE_OFFICER])
    event = AuditEvent.objects.get(action="compliance.applicability_set")
    assert event.details["citation"] == "164.310(d)(1)" and event.details["before"] is None
    client.post(edit_url(requirement), {"applicable": "yes", "justification": ""})
    second = AuditEvent.objects.filter(action="compliance.applicability_set").order_by("sequence").last()
    assert second.details["before"] == {"applicable": False, "justification": "No removable media."}
    assert Applicability.objects.get(requirement=requirement).applicable is True


@pytest.mark.parametrize("role", [*READERS, Role.MANAGER, "none"])
def test_readers_see_the_statement_and_only_officers_change_it(role, shipped_catalogs, client_for):
    requirement = hipaa("164.310(d)(1)")
    client = client_for(role)
    before = state()

    listed = client.get(reverse("compliance:applicability_list", args=["hipaa"]))
    posted = client.post(edit_url(requirement), {"applicable": "no", "justification": "Because."})

    assert listed.status_code == (200 if role in READERS else 403)
    if role in EDITORS:
        assert posted.status_code == 302
    else:
        assert posted.status_code == 403
        assert state() == before


def test_html_in_a_justification_is_shown_as_text(shipped_catalogs, client_for):
    requirement = hipaa("164.310(d)(1)")
    client = client_for(Role.COMPLIANCE_OFFICER)
    client.post(edit_url(requirement), {"applicable": "no", "justification": "<script>alert(1)</script>"})

    html = client_for(Role.AUDITOR).get(reverse("compliance:applicability_list", args=["hipaa"])).content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_justification_too_long_is_refused_and_a_10_mb_one_is_a_400(shipped_catalogs, client_for):
    requirement = hipaa("164.310(d)(1)")
    client = client_for(Role.COMPLIANCE_OFFICER)
    before = state()

    long = client.post(edit_url(requirement), {"applicable": "no", "justification": "x" * 5001})
    huge = client.post(edit_url(requirement), {"applicable": "no", "justification": "x" * 10_000_000})
    nul = client.post(edit_url(requirement), {"applicable": "no", "justification": "a\x00b"})

    assert long.status_code == 200 and "justification" in long.context["form"].errors
    assert huge.status_code == 400
    assert nul.status_code == 400
    assert state() == before


def test_the_list_filters_and_reads_in_a_fixed_number_of_queries(shipped_catalogs, client_for,
                                                                 django_assert_max_num_queries):
    client = client_for(Role.COMPLIANCE_OFFICER)
    for citation in ("164.310(d)(1)", "164.310(d)(2)(i)"):
        client.post(edit_url(hipaa(citation)), {"applicable": "no", "justification": "No media."})
    url = reverse("compliance:applicability_list", args=["hipaa"])

    with django_assert_max_num_queries(12):
        response = client.get(url, {"state": "not_applicable"})

    assert [row.citation for row in response.context["rows"]] == ["164.310(d)(1)", "164.310(d)(2)(i)"]
    total = Requirement.objects.filter(version__framework__slug="hipaa").count()
    assert response.context["counts"] == {"applicable": 0, "not_applicable": 2, "undecided": total - 2}
    with django_assert_max_num_queries(12):
        client.get(url)


def test_the_exports_carry_the_decisions_with_the_filters(shipped_catalogs, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)
    client.post(edit_url(hipaa("164.310(d)(1)")), {"applicable": "no", "justification": "=HYPERLINK(1)"})

    response = client.get(reverse("compliance:applicability_export_csv", args=["hipaa"]), {"state": "not_applicable"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    workbook = openpyxl.load_workbook(io.BytesIO(client_for(Role.AUDITOR).get(
        reverse("compliance:applicability_export_xlsx", args=["hipaa"])).content))

    assert rows[0][:6] == ["Framework", "Citation", "Title", "Kind", "Applicable", "Justification"]
    assert rows[1][:6] == ["hipaa", "164.310(d)(1)", "Device and media controls", "Standard", "No", "'=HYPERLINK(1)"]
    assert len(rows) == 2
    data = list(workbook["Applicability"].values)
    assert len(data) == 1 + Requirement.objects.filter(version__framework__slug="hipaa").count()


def addressable() -> Requirement:
    return hipaa("164.312(a)(2)(iv)")  # Encryption and decryption


def test_each_addressable_specification_is_listed_for_a_decision(shipped_catalogs, client_for):
    response = client_for(Role.AUDITOR).get(reverse("compliance:decision_list"))

    rows = response.context["rows"]
    assert len(rows) == 22  # HHS Appendix A: 22 addressable specifications in 164.308, .310 and .312
    assert all(row.implementation == Implementation.ADDRESSABLE for row in rows)
    assert "164.312(a)(2)(iv)" in [row.citation for row in rows]


@pytest.mark.parametrize(("outcome", "field", "message"), [
    (DecisionOutcome.ALTERNATIVE, "alternative_measure", "Name the equivalent alternative measure."),
    (DecisionOutcome.NOT_REASONABLE, "rationale", "Say why the specification is not reasonable and appropriate."),
])
def test_an_alternative_names_its_measure_and_not_reasonable_says_why(outcome, field, message, shipped_catalogs,
                                                                       client_for):
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post(decision_url(addressable()), {"outcome": outcome})

    assert response.context["form"].errors == {field: [message]}
    assert state() == before


def test_a_decision_keeps_only_the_text_its_outcome_uses(shipped_catalogs, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)

    response = client.post(decision_url(addressable()), {
        "outcome": DecisionOutcome.ALTERNATIVE, "alternative_measure": "Full-disk encryption of the datastores.",
        "rationale": "left over",
    })

    assert response.status_code == 302
    decision = AddressableDecision.objects.get(requirement=addressable())
    assert (decision.outcome, decision.alternative_measure, decision.rationale) == (
        DecisionOutcome.ALTERNATIVE, "Full-disk encryption of the datastores.", "")
    assert AuditEvent.objects.filter(action="compliance.addressable_decision_set").count() == 1


def test_a_required_specification_has_no_decision_page(shipped_catalogs, client_for):
    required = Requirement.objects.filter(version__framework__slug="hipaa",
                                          kind=RequirementKind.IMPLEMENTATION_SPECIFICATION,
                                          implementation=Implementation.REQUIRED).first()

    assert client_for(Role.COMPLIANCE_OFFICER).get(decision_url(required)).status_code == 404


def test_the_decision_export_lists_every_specification(shipped_catalogs, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)
    client.post(decision_url(addressable()), {"outcome": DecisionOutcome.NOT_REASONABLE, "rationale": "Too costly."})

    response = client.get(reverse("compliance:decision_export_csv"), {"outcome": "not_reasonable"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    xlsx = client.get(reverse("compliance:decision_export_xlsx"))

    assert rows[1][0] == "164.312(a)(2)(iv)" and rows[1][3] == "Not reasonable and appropriate"
    assert rows[1][5] == "Too costly." and len(rows) == 2
    assert len(list(openpyxl.load_workbook(io.BytesIO(xlsx.content))["Decisions"].values)) == 23


# --- API ------------------------------------------------------------------------------------------------------


def test_the_api_records_and_lists_applicability(shipped_catalogs, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)
    requirement = hipaa("164.310(d)(1)")

    created = client.post("/api/v1/applicability/", {"requirement": requirement.pk, "applicable": False,
                                                     "justification": "No removable media."},
                          content_type="application/json")
    listed = client_for(Role.AUDITOR).get("/api/v1/applicability/", {"framework": "hipaa", "applicable": "false"})

    assert created.status_code == 201
    assert created.json()["citation"] == "164.310(d)(1)"
    assert [row["citation"] for row in listed.json()["results"]] == ["164.310(d)(1)"]


@pytest.mark.parametrize("body", [
    {"applicable": False, "justification": ""},
    {"applicable": "no", "justification": "x"},
    {"applicable": False, "justification": "x" * 5001},
    {"applicable": False, "justification": 7},
])
def test_the_api_refuses_a_bad_applicability_naming_the_field(body, shipped_catalogs, client_for):
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post(
        "/api/v1/applicability/", {"requirement": hipaa("164.310(d)(1)").pk, **body},
        content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) & {"applicable", "justification"}
    assert state() == before


def test_auditors_read_the_api_and_write_nothing(shipped_catalogs, client_for):
    before = state()
    client = client_for(Role.AUDITOR)

    refused = client.post("/api/v1/addressable-decisions/", {"requirement": addressable().pk,
                                                             "outcome": "implemented"},
                          content_type="application/json")

    assert refused.status_code == 403
    assert client.get("/api/v1/addressable-decisions/").status_code == 200
    assert state() == before


def test_the_api_refuses_a_decision_on_a_required_specification(shipped_catalogs, client_for):
    required = hipaa("164.308(a)(1)(ii)(A)")
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post(
        "/api/v1/addressable-decisions/", {"requirement": required.pk, "outcome": "implemented"},
        content_type="application/json")

    assert response.status_code == 400 and "requirement" in response.json()
    assert state() == before


def test_the_api_list_reads_in_a_fixed_number_of_queries(shipped_catalogs, role_users, client_for,
                                                         django_assert_max_num_queries):
    for requirement in Requirement.objects.filter(version__framework__slug="hipaa")[:20]:
        applicability_set(requirement=requirement, applicable=True, justification="",
                          user=role_users[Role.COMPLIANCE_OFFICER])

    client = client_for(Role.AUDITOR)

    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/applicability/", {"framework": "hipaa"})

    assert response.json()["count"] == 20
