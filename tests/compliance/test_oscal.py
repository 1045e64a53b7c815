"""OSCAL assessment results of a framework and period, validated against the OSCAL model with compliance-trestle."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from pydantic import ValidationError
from trestle.oscal.assessment_results import AssessmentResults

from compliance.models import Framework, Requirement
from compliance.services.oscal import oscal_assessment_results
from portal.choices import Role
from tests.compliance.factories import (
    ControlEvaluationFactory,
    ControlFactory,
    ControlMappingFactory,
    EvidencePackFactory,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()
START = TODAY - datetime.timedelta(days=30)


@pytest.fixture
def evaluated(shipped_catalogs):
    """VMC-90 reaches HIPAA's activity review through AU-6 and is deficient at the period's end."""
    control = ControlFactory(code="VMC-90", title="Audit log review")
    ControlMappingFactory(control=control, target=Requirement.objects.get(
        version__framework__slug="nist-800-53", citation="AU-6"), framework=Framework.objects.get(slug="nist-800-53"))
    ControlEvaluationFactory(control=control, scope="hipaa", evaluated_at=timezone.now() - datetime.timedelta(days=3))
    return ControlEvaluationFactory(control=control, scope="hipaa", status="deficient", value=80,
                                    summary="80 of 100 approved")


def test_the_assessment_results_validate_against_oscal_and_say_what_was_found(evaluated):
    pack = EvidencePackFactory(framework=Framework.objects.get(slug="hipaa"), period_start=START, period_end=TODAY)

    document = oscal_assessment_results(framework=Framework.objects.get(slug="hipaa"), period_start=START,
                                        period_end=TODAY, produced_by="test")

    results = AssessmentResults.model_validate(json.loads(json.dumps(document))["assessment-results"])
    result = results.results[0]
    (observation,) = result.observations
    assert observation.title == "VMC-90 Audit log review" and observation.methods == ["TEST"]
    assert "80 of 100 approved" in observation.description
    findings = {finding.title.split(" ")[0]: finding for finding in result.findings}
    review = findings["164.308(a)(1)(ii)(D)"]
    assert review.target.target_id == "hipaa-164.308-a-1-ii-D" and review.target.status.state.value == "not-satisfied"
    assert review.related_observations[0].observation_uuid == observation.uuid
    selected = [item.control_id for item in result.reviewed_controls.control_selections[0].include_controls]
    assert "hipaa-164.308-a-1-ii-D" in selected and len(selected) == len(result.findings)
    (link,) = [resource for resource in results.back_matter.resources if resource.rlinks][0].rlinks
    assert link.hashes[0].value == pack.pdf_sha256


def test_the_same_period_gives_the_same_identifiers_and_a_bad_token_would_not_validate(evaluated):
    hipaa = Framework.objects.get(slug="hipaa")
    first = oscal_assessment_results(framework=hipaa, period_start=START, period_end=TODAY, produced_by="a")
    second = oscal_assessment_results(framework=hipaa, period_start=START, period_end=TODAY, produced_by="b")
    assert first["assessment-results"]["results"] == second["assessment-results"]["results"]

    broken = json.loads(json.dumps(first))["assessment-results"]
    broken["results"][0]["findings"][0]["target"]["target-id"] = "164.308(a)"
    with pytest.raises(ValidationError):
        AssessmentResults.model_validate(broken)


def test_the_export_downloads_for_those_who_read_compliance_and_refuses_a_bad_period(evaluated, client_for):
    url = reverse("compliance:framework_oscal", args=["hipaa"])
    response = client_for(Role.AUDITOR).get(url, {"start": START, "end": TODAY})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    AssessmentResults.model_validate(json.loads(response.content)["assessment-results"])

    refused = client_for(Role.AUDITOR).get(url, {"start": TODAY, "end": START})
    assert refused.status_code == 400 and "end: The end is before the start." in refused.content.decode()
    assert client_for(Role.AUDITOR).get(url, {"start": "soon"}).status_code == 400
    assert client_for(Role.MANAGER).get(url).status_code == 403
