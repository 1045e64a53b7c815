"""Exceptions (risk acceptance): asked for, approved by a compliance officer who is not the requester, expired
by the daily task (which reopens the requirement and tells both); refusals change nothing."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.choices import ExceptionStatus
from compliance.models import RiskException
from compliance.services.exceptions import exception_decide, exception_request, exceptions_expire
from compliance.tasks import exceptions_expire_task
from portal.choices import NotificationKind, Role
from portal.models import AuditEvent, Notification
from tests.compliance.factories import ControlFactory, RequirementFactory
from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db

REQUEST_URL = reverse("compliance:exception_request")


@pytest.fixture
def requirement(db):
    return RequirementFactory(version__framework__slug="hipaa", version__framework__name="HIPAA",
                              citation="164.312(a)(2)(iv)", title="Encryption and decryption")


@pytest.fixture
def second_officer(db):
    return UserFactory(username="officer2", role=Role.COMPLIANCE_OFFICER)


def state() -> tuple:
    return (list(RiskException.objects.values_list("status", "decided_by_id", "reason")),
            AuditEvent.objects.count(), Notification.objects.count())


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def ask(user, requirement, days=90) -> RiskException:
    return exception_request(user=user, requirement=requirement, reason="Legacy VMs cannot encrypt.",
                             expires_on=in_days(days))


def form(**changes) -> dict:
    return {"framework": "hipaa", "citation": "164.312(a)(2)(iv)", "reason": "Legacy VMs cannot encrypt.",
            "expires_on": in_days(90).isoformat(), **changes}


def test_a_security_admin_asks_for_an_exception_on_a_requirement(requirement, client_for, role_users):
    response = client_for(Role.SECURITY_ADMIN).post(REQUEST_URL, form())

    exception = RiskException.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("compliance:exception_detail",
                                                                            args=[exception.pk])
    assert (exception.requirement, exception.status, exception.requested_by) == (
        requirement, ExceptionStatus.REQUESTED, role_users[Role.SECURITY_ADMIN])
    assert AuditEvent.objects.filter(action="compliance.exception_requested").count() == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"reason": ""}, "reason"),
    ({"expires_on": "2001-01-01"}, "expires_on"),
    ({"expires_on": (timezone.localdate() + datetime.timedelta(days=400)).isoformat()}, "expires_on"),
    ({"citation": "164.999"}, "citation"),
    ({"framework": "nope"}, "framework"),
    ({"reason": "x" * 5001}, "reason"),
])
def test_a_bad_request_names_its_field_and_writes_nothing(changes, field, requirement, client_for):
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post(REQUEST_URL, form(**changes))

    assert response.status_code == 200 and field in response.context["form"].errors
    assert state() == before


def test_another_compliance_officer_approves(requirement, role_users, second_officer, client):
    exception = ask(role_users[Role.COMPLIANCE_OFFICER], requirement)
    client.force_login(second_officer)

    response = client.post(reverse("compliance:exception_detail", args=[exception.pk]), {"decision": "approve"})

    exception.refresh_from_db()
    assert response.status_code == 302
    assert (exception.status, exception.decided_by) == (ExceptionStatus.APPROVED, second_officer)
    assert AuditEvent.objects.filter(action="compliance.exception_approved").count() == 1


def test_the_requester_does_not_approve_their_own_exception(requirement, role_users, client_for):
    exception = ask(role_users[Role.COMPLIANCE_OFFICER], requirement)
    before = state()

    page = client_for(Role.COMPLIANCE_OFFICER).get(reverse("compliance:exception_detail", args=[exception.pk]))
    posted = client_for(Role.COMPLIANCE_OFFICER).post(reverse("compliance:exception_detail", args=[exception.pk]),
                                                       {"decision": "approve"})

    assert page.context["may_decide"] is False
    assert posted.status_code == 403
    assert state() == before


@pytest.mark.parametrize("role", [Role.SECURITY_ADMIN, Role.AUDITOR, Role.ADMIN, Role.MANAGER])
def test_only_a_compliance_officer_decides(role, requirement, second_officer, client_for):
    exception = ask(second_officer, requirement)
    before = state()

    response = client_for(role).post(reverse("compliance:exception_detail", args=[exception.pk]),
                                     {"decision": "approve"})

    assert response.status_code == 403
    assert state() == before


def test_a_rejection_says_why(requirement, role_users, second_officer, client):
    exception = ask(role_users[Role.COMPLIANCE_OFFICER], requirement)
    client.force_login(second_officer)
    before = state()

    response = client.post(reverse("compliance:exception_detail", args=[exception.pk]), {"decision": "reject"})

    assert response.context["form"].errors == {"note": ["Say why it is rejected."]}
    assert state() == before


def test_an_expired_exception_reopens_and_tells_both_once(requirement, role_users, second_officer):
    PersonFactory(user=role_users[Role.SECURITY_ADMIN], name="Sam Secadmin")
    PersonFactory(user=second_officer, name="Olive Officer")
    exception = ask(role_users[Role.SECURITY_ADMIN], requirement, days=10)
    later = ask(role_users[Role.SECURITY_ADMIN], requirement, days=30)
    for row in (exception, later):
        exception_decide(exception=row, user=second_officer, approve=True)

    assert exceptions_expire(today=in_days(10)) == 0  # the last day still covers it
    assert exceptions_expire(today=in_days(11)) == 1
    assert exceptions_expire(today=in_days(11)) == 0

    exception.refresh_from_db()
    later.refresh_from_db()
    assert (exception.status, later.status) == (ExceptionStatus.EXPIRED, ExceptionStatus.APPROVED)
    told = Notification.objects.filter(kind=NotificationKind.EXCEPTION_EXPIRED)
    assert sorted(told.values_list("person__name", flat=True)) == ["Olive Officer", "Sam Secadmin"]
    assert AuditEvent.objects.filter(action="compliance.exception_expired").count() == 1


def test_the_daily_task_expires(requirement, role_users, second_officer):
    exception = ask(role_users[Role.SECURITY_ADMIN], requirement, days=1)
    exception_decide(exception=exception, user=second_officer, approve=True)
    RiskException.objects.filter(pk=exception.pk).update(expires_on=in_days(-1))

    exceptions_expire_task.delay()
    exceptions_expire_task.delay()

    exception.refresh_from_db()
    assert exception.status == ExceptionStatus.EXPIRED
    assert AuditEvent.objects.filter(action="compliance.exception_expired").count() == 1


def test_the_list_filters_escapes_and_exports(requirement, role_users, client_for, django_assert_max_num_queries):
    for _ in range(5):
        exception_request(user=role_users[Role.SECURITY_ADMIN], requirement=requirement,
                          reason="<b>legacy</b>", expires_on=in_days(30))
    client = client_for(Role.AUDITOR)

    with django_assert_max_num_queries(10):
        response = client.get(reverse("compliance:exception_list"), {"status": "requested", "framework": "hipaa"})
    exported = client.get(reverse("compliance:exception_export_csv"), {"status": "approved"})
    xlsx = client.get(reverse("compliance:exception_export_xlsx"))

    html = response.content.decode()
    assert len(response.context["exceptions"]) == 5
    assert "<b>legacy</b>" not in html and "&lt;b&gt;legacy&lt;/b&gt;" in html
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert rows == [["Id", "Framework", "Covers", "Status", "Reason", "Expires on", "Requested by", "Requested at",
                     "Decided by", "Decided at", "Decision note"]]
    assert xlsx.status_code == 200


# --- API ------------------------------------------------------------------------------------------------------


def test_the_api_asks_and_decides(requirement, client_for, second_officer, client):
    asked = client_for(Role.SECURITY_ADMIN).post(
        "/api/v1/exceptions/", {"requirement": requirement.pk, "reason": "Legacy.",
                                "expires_on": in_days(60).isoformat()}, content_type="application/json")
    client.force_login(second_officer)
    decided = client.post(f"/api/v1/exceptions/{asked.json()['id']}/decide/", {"approve": True},
                          content_type="application/json")

    assert asked.status_code == 201 and asked.json()["citation"] == "164.312(a)(2)(iv)"
    assert decided.status_code == 200 and decided.json()["status"] == "approved"


@pytest.mark.parametrize("body", [
    {"reason": "", "expires_on": "2030-01-01"}, {"reason": "x", "expires_on": "2001-01-01"},
    {"reason": 1, "expires_on": "2030-01-01"}, {"reason": "x", "expires_on": "soon"},
])
def test_the_api_refuses_a_bad_exception(body, requirement, client_for):
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post(
        "/api/v1/exceptions/", {"requirement": requirement.pk, **body}, content_type="application/json")

    assert response.status_code == 400 and set(response.json()) & {"reason", "expires_on"}
    assert state() == before


def test_the_api_refuses_the_requester_and_auditors(requirement, role_users, client_for):
    exception = ask(role_users[Role.COMPLIANCE_OFFICER], requirement)
    before = state()

    own = client_for(Role.COMPLIANCE_OFFICER).post(f"/api/v1/exceptions/{exception.pk}/decide/", {"approve": True},
                                                   content_type="application/json")
    auditor = client_for(Role.AUDITOR).post(f"/api/v1/exceptions/{exception.pk}/decide/", {"approve": True},
                                            content_type="application/json")

    assert own.status_code == 403 and "another compliance officer" in own.json()["detail"]
    assert auditor.status_code == 403
    assert state() == before


def test_the_api_refuses_a_nul_and_a_10_mb_reason(requirement, client_for):
    before = state()
    client = client_for(Role.COMPLIANCE_OFFICER)

    for reason in ("legacy\x00", "x" * 10_000_000):
        response = client.post("/api/v1/exceptions/", {"requirement": requirement.pk, "reason": reason,
                                                       "expires_on": in_days(30).isoformat()},
                               content_type="application/json")
        assert response.status_code == 400 and response.json()["detail"]

    assert state() == before


def test_the_api_list_reads_in_a_fixed_number_of_queries(requirement, role_users, client_for,
                                                         django_assert_max_num_queries):
    for _ in range(12):
        ask(role_users[Role.SECURITY_ADMIN], requirement)
    client = client_for(Role.AUDITOR)

    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/exceptions/")

    assert response.json()["count"] == 12


def test_an_exception_on_a_control_is_asked_for_listed_by_control_and_expires(role_users, second_officer,
                                                                              client_for):
    ControlFactory(code="VMC-21", title="Encryption of VM files at rest")

    response = client_for(Role.SECURITY_ADMIN).post(REQUEST_URL, form(framework="", citation="", control="VMC-21"))
    exception = RiskException.objects.get()
    listed = client_for(Role.AUDITOR).get(reverse("compliance:exception_list"), {"control": "VMC-21"})

    assert response.status_code == 302
    assert (exception.control.code, exception.requirement) == ("VMC-21", None)
    assert [e.subject_label for e in listed.context["exceptions"]] == ["control VMC-21"]
    exception_decide(exception=exception, user=second_officer, approve=True)
    assert exceptions_expire(today=in_days(91)) == 1


def test_an_exception_covers_one_control_or_one_requirement(requirement, client_for):
    ControlFactory(code="VMC-21")
    before = state()
    client = client_for(Role.SECURITY_ADMIN)

    both = client.post(REQUEST_URL, form(control="VMC-21"))
    neither = client.post(REQUEST_URL, form(framework="", citation=""))

    for response in (both, neither):
        assert response.context["form"].errors["control"] == [
            "An exception covers one control or one requirement: choose one of the two."]
    assert state() == before
