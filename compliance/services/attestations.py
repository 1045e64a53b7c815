"""Attestation: the test calendar of the controls without a metric, recorded tests with evidence files, and the
daily checks that remind, flag missed tests and expire evidence.

A control without a metric is tested by its owner on its frequency. The calendar is written ahead
(``control_tests_schedule``); the owner is reminded before a test is due and told when it was missed
(``control_tests_remind``); a recorded test writes an attestation evaluation of the control (passed: effective,
failed: deficient, not applicable: not evaluated) with its evidence hashes. Evidence has an expiry date: past it,
the control is "not tested" again and a new test is asked for (``evidence_expire``). Every step writes an audit
event; every notification has a key, so a second run of the day writes nothing.
"""

import calendar
import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from compliance.choices import ControlFrequency, ControlTestStatus, EvaluationBasis, EvaluationStatus, Scope
from compliance.evidence_files import CheckedFile, evidence_file_checked
from compliance.models import Control, ControlEvaluation, ControlTest, Evidence
from compliance.services.texts import text_checked
from portal.choices import NotificationKind, Role
from portal.models import User
from portal.services.audit import AuditEntry, audit_log, audit_log_many
from portal.services.notifications import notification_new, notifications_notify

# Months between two tests of each frequency; weekly and daily controls count in days.
PERIOD_MONTHS = {ControlFrequency.MONTHLY: 1, ControlFrequency.QUARTERLY: 3, ControlFrequency.SEMIANNUAL: 6,
                 ControlFrequency.ANNUAL: 12}
PERIOD_DAYS = {ControlFrequency.DAILY: 1, ControlFrequency.WEEKLY: 7}
# Tests are written this far ahead (and each control's next one, however far): the coming month's calendar.
SCHEDULE_AHEAD_DAYS = 31
# The owner is told a test is due this many days before its due date.
REMIND_BEFORE_DAYS = 7
# Evidence supports a control for at most this long; a test's evidence usually lasts until the next test.
EVIDENCE_MAX_DAYS = 2 * 366
# Files one test may attach at once.
EVIDENCE_FILES_PER_UPLOAD = 10
RESULT_STATUS = {ControlTestStatus.PASSED: EvaluationStatus.EFFECTIVE,
                 ControlTestStatus.FAILED: EvaluationStatus.DEFICIENT,
                 ControlTestStatus.NOT_APPLICABLE: EvaluationStatus.NOT_EVALUATED}
RESULTS = tuple(RESULT_STATUS)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` moved by whole months, on the same day of the month or the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def next_due(day: datetime.date, frequency: str) -> datetime.date:
    if frequency in PERIOD_DAYS:
        return day + datetime.timedelta(days=PERIOD_DAYS[frequency])
    return add_months(day, PERIOD_MONTHS[frequency])


def attested_controls():
    """Controls tested by attestation: no metric, not retired, on a calendar frequency (a continuous control
    operates all the time and is measured, not attested)."""
    return Control.objects.filter(metric="", retired_at__isnull=True).exclude(
        frequency=ControlFrequency.CONTINUOUS
    )


def may_record(*, user: User, control: Control) -> bool:
    """The control's owner (through their login) or a compliance officer records its tests; auditors never."""
    if user.has_role(Role.AUDITOR):
        return False
    return user.has_role(Role.COMPLIANCE_OFFICER) or (control.owner is not None and control.owner.user_id == user.pk)


@transaction.atomic
def control_tests_schedule(*, today: datetime.date | None = None) -> int:
    """Write each attested control's tests a period apart, from its last test (or today) until the first one
    due past ``SCHEDULE_AHEAD_DAYS`` ahead, so every control always has its next test. Returns how many were
    written; a rerun the same day writes none (the last test is already past the horizon)."""
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=SCHEDULE_AHEAD_DAYS)
    now = timezone.now()
    tests = []
    for control in attested_controls().annotate(last_due=Max("tests__due_on")):
        due = control.last_due or today
        while due <= horizon:
            due = next_due(due, control.frequency)
            tests.append(ControlTest(control=control, due_on=due, created_at=now))
    ControlTest.objects.bulk_create(tests, ignore_conflicts=True)
    return len(tests)


def _evaluation(*, control: Control, status: str, summary: str, details: dict) -> ControlEvaluation:
    """An attestation evaluation of the whole estate: what the roll-up and the control's history read."""
    return ControlEvaluation(
        control=control, basis=EvaluationBasis.ATTESTATION, scope=Scope.ESTATE, evaluated_at=timezone.now(),
        status=status, control_version=control.version, summary=summary[:500], details=details,
    )


def _owner_notification(test: ControlTest, *, kind: str, subject: str, body: str, key: str):
    return notification_new(
        person_id=test.control.owner_id, kind=kind, about=test, subject=subject, body=body,
        link=reverse("compliance:test_detail", args=[test.pk]), dedupe_key=key,
    )


@transaction.atomic
def control_tests_remind(*, today: datetime.date | None = None) -> dict[str, int]:
    """Tell owners of the tests due within ``REMIND_BEFORE_DAYS`` (once each), and flag the tests past their due
    date as missed: the owner is told, the control is "not tested" and the trail records it. Runs twice, acts
    once: a reminded test has ``reminded_at``, a missed one is no longer scheduled."""
    today = today or timezone.localdate()
    now = timezone.now()
    scheduled = ControlTest.objects.select_for_update(of=("self",)).filter(
        status=ControlTestStatus.SCHEDULED
    ).select_related("control")
    due = list(scheduled.filter(due_on__gte=today, due_on__lte=today + datetime.timedelta(days=REMIND_BEFORE_DAYS),
                                reminded_at__isnull=True))
    missed = list(scheduled.filter(due_on__lt=today))
    notifications_notify(
        _owner_notification(
            test, kind=NotificationKind.CONTROL_TEST_DUE, key=f"control-test-due:{test.pk}",
            subject=f"Control test due {test.due_on:%d %b}: {test.control.code} {test.control.title}",
            body=f"Test {test.control.code} ({test.control.title}) by {test.due_on:%d %B %Y}: "
                 f"{test.control.test_procedure}\n\nEvidence to keep: {test.control.evidence}",
        )
        for test in due if test.control.owner_id
    )
    ControlTest.objects.filter(pk__in=[test.pk for test in due]).update(reminded_at=now)
    if missed:
        ControlTest.objects.filter(pk__in=[test.pk for test in missed]).update(status=ControlTestStatus.MISSED,
                                                                                 missed_at=now)
        ControlEvaluation.objects.bulk_create([
            _evaluation(control=test.control, status=EvaluationStatus.NOT_EVALUATED,
                        summary=f"Not tested: the test due {test.due_on:%Y-%m-%d} was missed.",
                        details={"test": test.pk, "due_on": test.due_on.isoformat(), "reason": "missed"})
            for test in missed
        ])
        audit_log_many(entries=[AuditEntry("compliance.control_test_missed", test,
                                           {"control": test.control.code, "due_on": test.due_on})
                                for test in missed], actor_label="system: control_tests_remind")
        notifications_notify(
            _owner_notification(
                test, kind=NotificationKind.CONTROL_TEST_MISSED, key=f"control-test-missed:{test.pk}",
                subject=f"Control test missed: {test.control.code} {test.control.title}",
                body=f"The test of {test.control.code} due on {test.due_on:%d %B %Y} was not recorded: the "
                     "control counts as not tested until it is. Record it now.",
            )
            for test in missed if test.control.owner_id
        )
    return {"reminded": len(due), "missed": len(missed)}


@transaction.atomic
def evidence_expire(*, today: datetime.date | None = None) -> int:
    """Evidence past its expiry date: where a control has no evidence still valid, it becomes "not tested", its
    owner is told and a test due today is asked for (unless one is open). Each expired file is handled once.
    Returns how many controls became not tested."""
    today = today or timezone.localdate()
    now = timezone.now()
    expired = list(Evidence.objects.select_for_update(of=("self",))
                   .filter(expires_on__lt=today, expiry_handled_at__isnull=True).select_related("control", "test"))
    if not expired:
        return 0
    Evidence.objects.filter(pk__in=[e.pk for e in expired]).update(expiry_handled_at=now)
    controls = {e.control_id: e.control for e in expired}
    still_valid = set(Evidence.objects.filter(control_id__in=controls, expires_on__gte=today)
                      .values_list("control_id", flat=True))
    open_tests = set(ControlTest.objects.filter(control_id__in=controls, status__in=[ControlTestStatus.SCHEDULED,
                                                                                     ControlTestStatus.MISSED],
                                                due_on__lte=today).values_list("control_id", flat=True))
    lapsed = [control for pk, control in controls.items() if pk not in still_valid]
    if not lapsed:
        return 0
    by_control = {}
    for evidence in expired:
        by_control.setdefault(evidence.control_id, evidence)
    ControlTest.objects.bulk_create([ControlTest(control=c, due_on=today, created_at=now) for c in lapsed
                                     if c.pk not in open_tests], ignore_conflicts=True)
    ControlEvaluation.objects.bulk_create([
        _evaluation(control=control, status=EvaluationStatus.NOT_EVALUATED,
                    summary=f"Not tested: its evidence expired on {by_control[control.pk].expires_on:%Y-%m-%d}.",
                    details={"reason": "evidence_expired",
                             "evidence": [e.sha256 for e in expired if e.control_id == control.pk]})
        for control in lapsed
    ])
    audit_log_many(entries=[AuditEntry("compliance.evidence_expired", by_control[c.pk],
                                       {"control": c.code, "expires_on": by_control[c.pk].expires_on})
                            for c in lapsed], actor_label="system: evidence_expire")
    tests = {test.control_id: test for test in ControlTest.objects.filter(
        control__in=lapsed, due_on__lte=today, status__in=[ControlTestStatus.SCHEDULED, ControlTestStatus.MISSED]
    ).select_related("control").order_by("due_on")}
    notifications_notify(
        notification_new(
            person_id=control.owner_id, kind=NotificationKind.EVIDENCE_EXPIRED, about=by_control[control.pk],
            subject=f"Evidence expired: {control.code} {control.title}",
            body=f"The evidence of {control.code} expired on {by_control[control.pk].expires_on:%d %B %Y}: the "
                 "control counts as not tested until a new test is recorded.",
            link=reverse("compliance:test_detail", args=[tests[control.pk].pk]) if control.pk in tests else "",
            dedupe_key=f"evidence-expired:{by_control[control.pk].pk}",
        )
        for control in lapsed if control.owner_id
    )
    return len(lapsed)


def _store(*, control: Control, test: ControlTest, files: Iterable[CheckedFile], user: User,
           expires_on: datetime.date) -> list[Evidence]:
    """Save each file under a fresh storage name and its row, numbered after the control's versions of that
    name; a file is never written over another."""
    now = timezone.now()
    saved = []
    for checked in files:
        last = Evidence.objects.filter(control=control, name=checked.name).aggregate(v=Max("version"))["v"] or 0
        evidence = Evidence(control=control, test=test, name=checked.name, version=last + 1,
                            content_type=checked.content_type, size=checked.size, sha256=checked.sha256,
                            uploaded_by=user, uploaded_at=now, expires_on=expires_on)
        evidence.file.save(checked.name, ContentFile(checked.content), save=False)
        saved.append(evidence)
        try:
            evidence.save()
        except Exception:
            _discard(saved)
            raise
    return saved


def _evidence_details(evidence: list[Evidence]) -> list[dict]:
    return [{"name": e.name, "version": e.version, "sha256": e.sha256} for e in evidence]


def _discard(evidence: list[Evidence]) -> None:
    """Remove the stored files of a write that did not commit: no row points at them."""
    for stored in evidence:
        stored.file.delete(save=False)


def _files_checked(files: Iterable[tuple[str, bytes]]) -> list[CheckedFile]:
    files = list(files)
    if len(files) > EVIDENCE_FILES_PER_UPLOAD:
        raise ValidationError({"files": f"At most {EVIDENCE_FILES_PER_UPLOAD} files at once."})
    return [evidence_file_checked(name=name, content=content) for name, content in files]


def _expiry_checked(expires_on: datetime.date | None, today: datetime.date) -> datetime.date:
    if expires_on is None:
        raise ValidationError({"expires_on": "Say until when the evidence supports the control."})
    if not today < expires_on <= today + datetime.timedelta(days=EVIDENCE_MAX_DAYS):
        raise ValidationError({"expires_on": f"A date after today and at most {EVIDENCE_MAX_DAYS} days away."})
    return expires_on


def control_test_record(
    *, test: ControlTest, user: User, result: str, note: str, files: Iterable[tuple[str, bytes]] = (),
    expires_on: datetime.date | None = None, today: datetime.date | None = None,
) -> ControlTest:
    """Record a scheduled (or missed) test: its result, a note, and evidence files (``(name, bytes)``, checked
    by content). A pass needs evidence; a fail or not applicable needs a note. The control gets an attestation
    evaluation with the evidence hashes. A refusal stores no file and changes nothing."""
    today = today or timezone.localdate()
    test = ControlTest.objects.select_related("control__owner").get(pk=test.pk)
    if not may_record(user=user, control=test.control):
        raise PermissionDenied("Only the control's owner or a compliance officer records its tests.")
    if result not in RESULTS:
        raise ValidationError({"result": f"{result!r} is not a result: pick one of {', '.join(RESULTS)}."})
    if test.status not in (ControlTestStatus.SCHEDULED, ControlTestStatus.MISSED):
        raise ValidationError(f"This test was recorded already ({test.get_status_display().lower()}).")
    errors = {}
    checks = (
        ("note", lambda: text_checked(note, field="note", required=result != ControlTestStatus.PASSED,
                                      required_message="Say what failed, or why the test does not apply.")),
        ("files", lambda: _files_checked(files)),
    )
    values = {}
    for field, check in checks:
        try:
            values[field] = check()
        except ValidationError as error:
            errors.update(error.message_dict)
    if "files" in values and not values["files"] and result == ControlTestStatus.PASSED:
        errors["files"] = ["A passed test keeps its evidence: attach at least one file."]
    if values.get("files"):
        try:
            expires_on = _expiry_checked(expires_on, today)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    stored: list[Evidence] = []
    try:
        with transaction.atomic():
            test = ControlTest.objects.select_for_update(of=("self",)).select_related("control__owner").get(pk=test.pk)
            if test.status not in (ControlTestStatus.SCHEDULED, ControlTestStatus.MISSED):
                raise ValidationError(f"This test was recorded already ({test.get_status_display().lower()}).")
            test.status, test.note = result, values["note"]
            test.performed_by, test.performed_at = user, timezone.now()
            test.save(update_fields=["status", "note", "performed_by", "performed_at"])
            stored = _store(control=test.control, test=test, files=values["files"], user=user, expires_on=expires_on)
            files_text = f", {len(stored)} evidence file" + "s" * (len(stored) != 1) if stored else ""
            _evaluation(
                control=test.control, status=RESULT_STATUS[result],
                summary=f"Tested by {user} on {timezone.localdate():%Y-%m-%d}: "
                        f"{test.get_status_display().lower()}{files_text}.",
                details={"test": test.pk, "due_on": test.due_on.isoformat(), "evidence": [e.sha256 for e in stored]},
            ).save()
            audit_log(action="compliance.control_test_recorded", actor=user, obj=test,
                      details={"control": test.control.code, "result": result, "note": values["note"],
                               "evidence": _evidence_details(stored)})
    except Exception:
        _discard(stored)
        raise
    return test


def evidence_add(*, test: ControlTest, user: User, files: Iterable[tuple[str, bytes]],
                 expires_on: datetime.date | None, today: datetime.date | None = None) -> list[Evidence]:
    """More evidence for a recorded test: each file a new version of its name, never over an old one."""
    today = today or timezone.localdate()
    test = ControlTest.objects.select_related("control__owner").get(pk=test.pk)
    if not may_record(user=user, control=test.control):
        raise PermissionDenied("Only the control's owner or a compliance officer adds its evidence.")
    checked = _files_checked(files)
    if not checked:
        raise ValidationError({"files": "Choose a file to upload."})
    expires_on = _expiry_checked(expires_on, today)
    stored: list[Evidence] = []
    try:
        with transaction.atomic():
            stored = _store(control=test.control, test=test, files=checked, user=user, expires_on=expires_on)
            audit_log(action="compliance.evidence_added", actor=user, obj=test,
                      details={"control": test.control.code, "evidence": _evidence_details(stored)})
    except Exception:
        _discard(stored)
        raise
    return stored


def evidence_download_record(*, evidence: Evidence, user: User) -> None:
    """The trail records who downloaded which evidence file."""
    audit_log(action="compliance.evidence_downloaded", actor=user, obj=evidence,
              details={"control": evidence.control.code, "name": evidence.name, "version": evidence.version,
                       "sha256": evidence.sha256})
