"""Attestation: the test calendar, reminders and missed tests, tests recorded with evidence files checked by
content, downloads that never render, versions that never overwrite, and expiry that asks for a new test.
Refusals store no file and change nothing."""

import csv
import datetime
import hashlib
import io
import os

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from compliance.choices import ControlFrequency, ControlTestStatus, EvaluationBasis, EvaluationStatus
from compliance.evidence_files import evidence_file_checked
from compliance.models import ControlEvaluation, ControlTest, Evidence
from compliance.services.attestations import (
    SCHEDULE_AHEAD_DAYS,
    add_months,
    control_test_record,
    control_tests_remind,
    control_tests_schedule,
    evidence_expire,
)
from compliance.tasks import attestation_daily_task
from portal.choices import NotificationKind, Role
from portal.models import AuditEvent, Notification
from tests.compliance.factories import ControlFactory
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media) -> list[str]:
    return sorted(os.path.relpath(os.path.join(root, name), media)
                  for root, _dirs, names in os.walk(media) for name in names)


@pytest.fixture
def owner(role_users):
    """The control's owner: a manager's login (no compliance role)."""
    return PersonFactory(name="Olga Owner", user=role_users[Role.MANAGER])


@pytest.fixture
def control(owner):
    return ControlFactory(code="VMC-90", title="Backup restore test", metric="", threshold=None,
                          frequency=ControlFrequency.QUARTERLY, owner=owner)


def in_days(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def test(control):
    return ControlTest.objects.create(control=control, due_on=in_days(3), created_at=timezone.now())


def state(media) -> tuple:
    return (list(ControlTest.objects.values_list("status", "note", "performed_by_id")),
            Evidence.objects.count(), ControlEvaluation.objects.count(), AuditEvent.objects.count(),
            stored_files(media))


def record(client, test, *, files=(), **data):
    body = {"result": "passed", "note": "", "expires_on": in_days(90).isoformat(), **data}
    if files:
        body["files"] = list(files)
    return client.post(reverse("compliance:test_detail", args=[test.pk]), body)


# --- the calendar ------------------------------------------------------------------------------------------------


def test_the_calendar_is_written_a_period_apart_ahead_and_a_rerun_writes_nothing(control):
    ControlFactory(code="VMC-91")  # a metric control: evaluated, never attested
    ControlFactory(code="VMC-92", metric="", threshold=None, retired_at=timezone.now())
    ControlFactory(code="VMC-93", metric="", threshold=None, frequency=ControlFrequency.CONTINUOUS)
    ControlFactory(code="VMC-94", metric="", threshold=None, frequency=ControlFrequency.WEEKLY)
    today = timezone.localdate()
    horizon = today + datetime.timedelta(days=SCHEDULE_AHEAD_DAYS)

    control_tests_schedule(today=today)
    dues = {}
    for code, due in ControlTest.objects.order_by("due_on").values_list("control__code", "due_on"):
        dues.setdefault(code, []).append(due)
    control_tests_schedule(today=today)

    assert set(dues) == {"VMC-90", "VMC-94"}
    assert dues["VMC-90"] == [add_months(today, 3)]  # the next test, however far
    weekly = dues["VMC-94"]
    assert weekly == [today + datetime.timedelta(days=7 * n) for n in range(1, len(weekly) + 1)]
    assert weekly[-2] <= horizon < weekly[-1]
    assert ControlTest.objects.count() == sum(len(d) for d in dues.values())


def test_owners_are_reminded_once_and_a_missed_test_is_flagged_once(control, owner):
    soon = ControlTest.objects.create(control=control, due_on=in_days(5), created_at=timezone.now())
    late = ControlTest.objects.create(control=control, due_on=in_days(-1), created_at=timezone.now())

    first = control_tests_remind()
    second = control_tests_remind()

    assert (first, second) == ({"reminded": 1, "missed": 1}, {"reminded": 0, "missed": 0})
    soon.refresh_from_db()
    late.refresh_from_db()
    assert soon.status == ControlTestStatus.SCHEDULED and soon.reminded_at is not None
    assert late.status == ControlTestStatus.MISSED and late.missed_at is not None
    kinds = sorted(Notification.objects.filter(person=owner).values_list("kind", flat=True))
    assert kinds == [NotificationKind.CONTROL_TEST_DUE, NotificationKind.CONTROL_TEST_MISSED]
    evaluation = ControlEvaluation.objects.get(control=control)
    assert (evaluation.basis, evaluation.status) == (EvaluationBasis.ATTESTATION, EvaluationStatus.NOT_EVALUATED)
    assert "missed" in evaluation.summary
    assert AuditEvent.objects.filter(action="compliance.control_test_missed").count() == 1


def test_the_daily_task_runs_twice_and_acts_once(control):
    attestation_daily_task.delay()
    counts = (ControlTest.objects.count(), Notification.objects.count(), ControlEvaluation.objects.count())
    attestation_daily_task.delay()

    assert counts[0] >= 1
    assert (ControlTest.objects.count(), Notification.objects.count(), ControlEvaluation.objects.count()) == counts


# --- recording -------------------------------------------------------------------------------------------------


def test_the_owner_records_a_pass_with_evidence_kept_with_its_hash(test, client_for, media, role_users):
    response = record(client_for(Role.MANAGER), test, files=[SimpleUploadedFile("restore.pdf", PDF)])

    assert response.status_code == 302
    test.refresh_from_db()
    assert (test.status, test.performed_by) == (ControlTestStatus.PASSED, role_users[Role.MANAGER])
    evidence = Evidence.objects.get()
    assert (evidence.name, evidence.version, evidence.content_type, evidence.size) == (
        "restore.pdf", 1, "application/pdf", len(PDF))
    assert evidence.sha256 == hashlib.sha256(PDF).hexdigest()
    assert evidence.file.read() == PDF and "restore" not in evidence.file.name
    evaluation = ControlEvaluation.objects.get(control=test.control)
    assert evaluation.status == EvaluationStatus.EFFECTIVE and evaluation.details["evidence"] == [evidence.sha256]
    assert AuditEvent.objects.get(action="compliance.control_test_recorded").details["evidence"][0]["sha256"] == (
        evidence.sha256)


@pytest.mark.parametrize(("files", "data", "field", "message"), [
    ([("report.pdf", b"<html><script>alert(1)</script></html>")], {}, "files", "content is HTML"),
    ([("report.pdf", b"%PDF-1.4\n<html><body>hi</body></html>")], {}, "files", "content is HTML"),
    ([("report.pdf", PNG)], {}, "files", "content is a PNG file"),
    ([("page.html", b"<p>hi</p>")], {}, "files", "is not a PDF, PNG, JPEG, CSV, XLSX or TXT file"),
    ([("run.exe", b"MZ")], {}, "files", "is not a PDF"),
    ([("notes.txt", b"a\x00b")], {}, "files", "content is not a TXT file"),
    ([("notes.txt", b"")], {}, "files", "The submitted file is empty."),
    ([("big.pdf", PDF + b"0" * (10 * 1024 * 1024))], {}, "files", "evidence files are at most 10 MB"),
    ([], {}, "files", "A passed test keeps its evidence"),
    ([], {"result": "failed"}, "note", "Say what failed"),
    ([("ok.pdf", PDF)], {"expires_on": "2001-01-01"}, "expires_on", "A date after today"),
    ([("ok.pdf", PDF)], {"result": "maybe"}, "result", "Select a valid choice"),
    ([("ok.pdf", PDF)], {"note": "x" * 5001}, "note", "at most 5000 characters"),
])
def test_a_bad_record_is_refused_naming_the_field_and_stores_nothing(files, data, field, message, test,
                                                                     client_for, media):
    before = state(media)

    response = record(client_for(Role.COMPLIANCE_OFFICER), test,
                      files=[SimpleUploadedFile(name, content) for name, content in files], **data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert state(media) == before


def test_a_file_name_with_a_path_is_refused_by_the_service(test, role_users, media):
    before = state(media)

    with pytest.raises(ValidationError, match="a character a file name cannot have"):
        control_test_record(test=test, user=role_users[Role.COMPLIANCE_OFFICER], result="passed", note="",
                            files=[("../../etc/passwd.txt", b"x")], expires_on=in_days(30))

    assert state(media) == before


@pytest.mark.parametrize(("role", "read", "write"), [
    (Role.AUDITOR, 200, 403), (Role.SECURITY_ADMIN, 200, 403), (Role.ADMIN, 200, 403),
])
def test_only_the_owner_or_a_compliance_officer_records(role, read, write, test, client_for, media):
    before = state(media)

    assert client_for(role).get(reverse("compliance:test_detail", args=[test.pk])).status_code == read
    assert record(client_for(role), test, files=[SimpleUploadedFile("r.pdf", PDF)]).status_code == write
    assert state(media) == before


def test_a_manager_who_does_not_own_the_control_reads_nothing_of_it(test, client_for, role_users, media):
    test.control.owner = PersonFactory(name="Someone Else")
    test.control.save()
    before = state(media)

    client = client_for(Role.MANAGER)
    assert client.get(reverse("compliance:test_detail", args=[test.pk])).status_code == 403
    assert record(client, test, files=[SimpleUploadedFile("r.pdf", PDF)]).status_code == 403
    assert client.get(reverse("compliance:test_list")).context["tests"] == []
    assert state(media) == before


# --- downloads and versions ----------------------------------------------------------------------------------


def test_evidence_downloads_as_an_attachment_that_never_renders(test, client_for):
    record(client_for(Role.MANAGER), test, files=[SimpleUploadedFile("log export.csv", b"a,b\n1,2\n")])
    evidence = Evidence.objects.get()

    for url in (reverse("compliance:evidence_download", args=[evidence.pk]),
                f"/api/v1/evidence/{evidence.pk}/download/"):
        response = client_for(Role.AUDITOR).get(url)
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="log export.csv"'
        assert response["Content-Type"] == "text/csv"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert b"".join(response.streaming_content) == b"a,b\n1,2\n"
    assert AuditEvent.objects.filter(action="compliance.evidence_downloaded").count() == 2


def test_a_new_upload_of_a_name_is_a_new_version_and_the_old_file_stays(test, client_for):
    client = client_for(Role.MANAGER)
    record(client, test, files=[SimpleUploadedFile("restore.txt", b"first run")])

    response = client.post(reverse("compliance:test_detail", args=[test.pk]), {
        "files": [SimpleUploadedFile("restore.txt", b"second run")], "expires_on": in_days(60).isoformat()})

    assert response.status_code == 302
    first, second = Evidence.objects.order_by("version")
    assert (first.version, second.version) == (1, 2)
    assert first.file.name != second.file.name
    assert first.file.read() == b"first run" and second.file.read() == b"second run"
    assert first.sha256 == hashlib.sha256(b"first run").hexdigest()


def test_expired_evidence_makes_the_control_not_tested_and_asks_for_a_new_test(test, client_for, owner):
    record(client_for(Role.MANAGER), test, files=[SimpleUploadedFile("r.pdf", PDF)],
           expires_on=in_days(10).isoformat())
    day_after = in_days(11)

    assert evidence_expire(today=in_days(10)) == 0
    assert evidence_expire(today=day_after) == 1
    assert evidence_expire(today=day_after) == 0

    latest = ControlEvaluation.objects.filter(control=test.control).order_by("-id").first()
    assert latest.status == EvaluationStatus.NOT_EVALUATED and latest.summary.startswith("Not tested")
    assert ControlTest.objects.filter(control=test.control, due_on=day_after,
                                      status=ControlTestStatus.SCHEDULED).count() == 1
    assert Notification.objects.filter(person=owner, kind=NotificationKind.EVIDENCE_EXPIRED).count() == 1


# --- lists and API ---------------------------------------------------------------------------------------------


def test_the_calendar_lists_in_bounded_queries_and_exports(control, client_for, django_assert_max_num_queries):
    for days in range(-3, 40, 3):
        ControlTest.objects.create(control=control, due_on=in_days(days), created_at=timezone.now())
    client = client_for(Role.AUDITOR)

    with django_assert_max_num_queries(12):
        overdue = client.get(reverse("compliance:test_list"), {"window": "overdue"})
    to_do = client.get(reverse("compliance:test_list"))
    exported = client.get(reverse("compliance:test_export_csv"), {"window": "next_30"})

    assert [t.due_on for t in overdue.context["tests"]] == [in_days(-3)]
    assert [t.due_on for t in to_do.context["tests"]] == [in_days(d) for d in range(-3, 31, 3)]
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:5] == ["Control", "Title", "Owner", "Due on", "Status"]
    assert [row[3] for row in rows[1:]] == [in_days(d).isoformat() for d in range(0, 31, 3)]
    assert client.get(reverse("compliance:test_export_xlsx")).status_code == 200
    assert client.get(reverse("compliance:evidence_export_xlsx")).status_code == 200


def test_the_api_lists_tests_and_evidence_scoped_to_the_caller(test, client_for):
    record(client_for(Role.MANAGER), test, files=[SimpleUploadedFile("r.pdf", PDF)])

    mine = client_for(Role.MANAGER).get("/api/v1/control-tests/", {"control": "VMC-90"}).json()
    evidence = client_for(Role.AUDITOR).get("/api/v1/evidence/").json()["results"]

    assert [(row["control"], row["status"], row["evidence_count"]) for row in mine["results"]] == [
        ("VMC-90", "passed", 1)]
    assert evidence[0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert client_for(Role.AUDITOR).post("/api/v1/evidence/", {}).status_code == 403


def test_each_allowed_type_is_kept_by_its_content():
    workbook = openpyxl.Workbook()
    workbook.active.append(["host", "patched"])
    stream = io.BytesIO()
    workbook.save(stream)
    files = {"scan.xlsx": stream.getvalue(), "shot.png": PNG, "photo.jpeg": b"\xff\xd8\xff\xe0" + b"\x00" * 16,
             "report.pdf": PDF, "hosts.csv": "host,état\nesx1,ok\n".encode(), "notes.txt": b"Checked."}

    types = {name: evidence_file_checked(name=name, content=content).content_type for name, content in files.items()}

    assert types == {"scan.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     "shot.png": "image/png", "photo.jpeg": "image/jpeg", "report.pdf": "application/pdf",
                     "hosts.csv": "text/csv", "notes.txt": "text/plain"}


def test_the_api_lists_read_in_a_fixed_number_of_queries(control, client_for, django_assert_max_num_queries):
    for days in range(12):
        ControlTest.objects.create(control=control, due_on=in_days(days), created_at=timezone.now())
    client = client_for(Role.AUDITOR)

    with django_assert_max_num_queries(8):
        tests = client.get("/api/v1/control-tests/")
    with django_assert_max_num_queries(8):
        client.get("/api/v1/evidence/")

    assert tests.json()["count"] == 12
