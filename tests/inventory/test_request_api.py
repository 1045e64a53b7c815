"""The deployment requests API: the same rules as the pages, refusals as 400 / 403 that change nothing."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from inventory.choices import RequestState, Sanction
from inventory.models import DeploymentApproval, DeploymentRequest, VMChange
from portal.choices import Role
from portal.models import AuditEvent, Notification
from tests.factories import DeploymentRequestFactory, PersonFactory, UserFactory, VirtualMachineFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployment-requests/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def org(db):
    manager = UserFactory(username="manny", role=Role.MANAGER)
    boss = PersonFactory(name="Manny Manager", user=manager)
    report = PersonFactory(name="Erin Engineer", parent=boss)
    other = UserFactory(username="olly", role=Role.MANAGER)
    PersonFactory(name="Olly Other", user=other)
    sec = [UserFactory(username=f"sec{n}", role=Role.SECURITY_ADMIN) for n in (1, 2)]
    for user in sec:
        PersonFactory(user=user)
    return {"manager": manager, "boss": boss, "report": report, "other": other, "sec1": sec[0], "sec2": sec[1],
            "auditor": UserFactory(username="aud", role=Role.AUDITOR)}


def body(org, **overrides):
    today = timezone.localdate()
    data = {
        "owner": org["report"].pk, "purpose": "Payroll reports", "environment": "production",
        "data_categories": ["financial_reporting"], "vcpu": 4, "memory_gb": 16, "disk_gb": 200,
        "os": "Windows Server 2022", "backup_engaged": True, "backup_contact": "backup@example.com",
        "start_date": today.isoformat(), "end_date": (today + datetime.timedelta(days=90)).isoformat(),
        "submit": True,
    }
    data.update(overrides)
    return data


def snapshot():
    return (list(DeploymentRequest.objects.values()), list(DeploymentApproval.objects.values()),
            AuditEvent.objects.count(), Notification.objects.count(), VMChange.objects.count())


def test_the_whole_way_through_the_api(org):
    created = api(org["manager"]).post(URL, body(org), format="json")
    assert created.status_code == 201
    data = created.json()
    assert (data["state"], data["number"], data["owner"], data["quorum_needed"]) == (
        RequestState.SUBMITTED, f"REQ-{data['id']:06d}", org["report"].pk, 1)
    detail = f"{URL}{data['id']}/"

    approved = api(org["sec1"]).post(detail + "approve/", {"comment": "Looks right."}, format="json")
    assert (approved.status_code, approved.json()["state"]) == (200, RequestState.APPROVED)
    assert approved.json()["approvals"] == [
        {"approver": "sec1", "decision": "approve", "comment": "Looks right.", "at": approved.json()["decided_at"]},
    ]
    vm = VirtualMachineFactory()
    linked = api(org["sec2"]).post(detail + "link-vm/", {"vm": vm.pk}, format="json")
    assert (linked.status_code, linked.json()["state"], linked.json()["vm"]) == (200, RequestState.FULFILLED, vm.pk)
    vm.refresh_from_db()
    assert vm.sanction == Sanction.PENDING


@pytest.mark.parametrize(("overrides", "field"), [
    ({"colour": "blue"}, "colour"),
    ({"end_date": "2020-01-01", "start_date": "2020-02-01"}, "end_date"),
    ({"purpose": "<b>x</b>" * 30}, "purpose"),
    ({"description": "x" * 1_000_000}, "description"),
    ({"purpose": 12}, "purpose"),
    ({"vcpu": 0}, "vcpu"),
    ({"data_categories": ["secret"]}, "data_categories"),
    ({"backup_contact": ""}, "backup_contact"),
    ({"owner": 999999}, "owner"),
])
def test_bad_bodies_are_400_naming_the_field_and_change_nothing(org, overrides, field):
    before = snapshot()

    response = api(org["manager"]).post(URL, body(org, **overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert snapshot() == before


@pytest.mark.parametrize("purpose", ["Pay\x00roll", "x" * 10_000_000])
def test_a_nul_byte_or_10_mb_in_the_body_is_400_and_changes_nothing(org, purpose):
    before = snapshot()

    response = api(org["manager"]).post(URL, body(org, purpose=purpose), format="json")

    assert response.status_code == 400
    assert snapshot() == before


def test_html_in_the_purpose_comes_back_as_the_same_text(org):
    created = api(org["manager"]).post(URL, body(org, purpose="<img src=x onerror=alert(1)>"), format="json")

    assert created.json()["purpose"] == "<img src=x onerror=alert(1)>"


@pytest.fixture
def submitted(org):
    return DeploymentRequestFactory(requested_by=org["manager"], requester=org["boss"], owner=org["report"],
                                    state=RequestState.SUBMITTED, submitted_at=timezone.now())


@pytest.mark.parametrize(("who", "action", "payload", "status"), [
    ("manager", "approve", {}, 403),
    ("auditor", "approve", {}, 403),
    ("auditor", "withdraw", {}, 403),
    ("sec1", "withdraw", {}, 403),
    ("sec1", "reject", {"comment": ""}, 400),
    ("sec1", "approve", {"comment": "ok", "decision": "reject"}, 400),
    ("sec1", "link-vm", {"vm": 999999}, 400),
    ("manager", "link-vm", {"vm": "a real one"}, 403),
    ("manager", "submit", {}, 400),  # submitted already
])
def test_refused_actions_change_nothing(org, submitted, who, action, payload, status):
    if payload.get("vm") == "a real one":
        payload = {"vm": VirtualMachineFactory().pk}
    before = snapshot()

    response = api(org[who]).post(f"{URL}{submitted.pk}/{action}/", payload, format="json")

    assert response.status_code == status, response.json()
    assert snapshot() == before


def test_the_requester_never_approves_their_own_request_even_as_a_security_admin(org):
    own = DeploymentRequestFactory(requested_by=org["sec1"], requester=org["sec1"].person, owner=org["report"],
                                   state=RequestState.SUBMITTED)
    before = snapshot()

    response = api(org["sec1"]).post(f"{URL}{own.pk}/approve/", {}, format="json")

    assert response.status_code == 403
    assert "another security admin" in response.json()["detail"]
    assert snapshot() == before


def test_managers_read_their_areas_requests_and_filters_are_checked(org, submitted):
    DeploymentRequestFactory(requested_by=org["other"], requester=org["other"].person,
                             owner=org["other"].person, purpose="Elsewhere")

    mine = api(org["manager"]).get(URL).json()
    everything = api(org["auditor"]).get(URL, {"state": "submitted"}).json()
    bad = api(org["auditor"]).get(URL, {"state": "lost"})

    assert [row["id"] for row in mine["results"]] == [submitted.pk]
    assert [row["id"] for row in everything["results"]] == [submitted.pk]
    assert api(org["auditor"]).get(URL, {"q": submitted.number}).json()["count"] == 1
    assert bad.status_code == 400 and list(bad.json()) == ["state"]
    assert api(org["other"]).get(f"{URL}{submitted.pk}/").status_code == 404


def test_the_list_costs_the_same_queries_for_three_or_thirty_requests(org, django_assert_max_num_queries):
    client = api(org["auditor"])
    for count in (3, 30):
        while DeploymentRequest.objects.count() < count:
            request = DeploymentRequestFactory(requested_by=org["manager"], requester=org["boss"],
                                               owner=org["report"], state=RequestState.SUBMITTED,
                                               vm=VirtualMachineFactory())
            DeploymentApproval.objects.create(request=request, approver=org["sec1"], decision="approve",
                                              at=timezone.now())
        with django_assert_max_num_queries(8):
            response = client.get(URL)
        assert response.json()["count"] == count
