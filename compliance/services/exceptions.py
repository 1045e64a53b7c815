"""Risk acceptance: an exception on a requirement (or a control) asked for by one person and approved by a
compliance officer who is someone else, until an expiry date; the daily task expires it, which reopens the
requirement or control, and tells the requester and the approver. Every step writes an audit event."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from compliance.choices import ExceptionStatus
from compliance.models import Control, Requirement, RiskException
from compliance.services.texts import text_checked
from portal.choices import NotificationKind, Role
from portal.models import Person, User
from portal.services.audit import AuditEntry, audit_log, audit_log_many
from portal.services.notifications import notification_new, notifications_notify

# Who may ask for an exception; auditors read only.
EXCEPTION_REQUEST_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.ADMIN})
# Who approves: a compliance officer, never the requester.
EXCEPTION_APPROVE_ROLES = frozenset({Role.COMPLIANCE_OFFICER})
# A risk is accepted for a year at most; a longer acceptance is asked for again.
EXCEPTION_MAX_DAYS = 366


@transaction.atomic
def exception_request(
    *, user: User, reason: str, expires_on: datetime.date, requirement: Requirement | None = None,
    control: Control | None = None, today: datetime.date | None = None,
) -> RiskException:
    """Ask for a risk acceptance on ``requirement`` or ``control`` (exactly one) until ``expires_on`` (after
    today, within a year)."""
    if not user.has_role(*EXCEPTION_REQUEST_ROLES):
        raise PermissionDenied("Your role does not ask for exceptions.")
    today = today or timezone.localdate()
    errors = {}
    if (requirement is None) == (control is None):
        errors["control"] = ["An exception covers one control or one requirement: choose one of the two."]
    try:
        reason = text_checked(reason, field="reason", required=True,
                              required_message="Say which risk is accepted and why.")
    except ValidationError as error:
        errors.update(error.message_dict)
    if not today < expires_on <= today + datetime.timedelta(days=EXCEPTION_MAX_DAYS):
        errors["expires_on"] = [f"A date after today and at most {EXCEPTION_MAX_DAYS} days away."]
    if errors:
        raise ValidationError(errors)
    exception = RiskException.objects.create(
        requirement=requirement, control=control, reason=reason, expires_on=expires_on, requested_by=user,
        requested_at=timezone.now(),
    )
    audit_log(action="compliance.exception_requested", actor=user, obj=exception,
              details={"subject": exception.subject_label, "reason": reason, "expires_on": expires_on})
    return exception


@transaction.atomic
def exception_decide(*, exception: RiskException, user: User, approve: bool, note: str = "") -> RiskException:
    """Approve or reject a requested exception: a compliance officer who did not ask for it; a rejection says
    why."""
    exception = RiskException.objects.select_for_update().get(pk=exception.pk)
    if not user.has_role(*EXCEPTION_APPROVE_ROLES):
        raise PermissionDenied("Only a compliance officer approves an exception.")
    if exception.requested_by_id == user.pk:
        raise PermissionDenied("You asked for this exception: another compliance officer decides it.")
    if exception.status != ExceptionStatus.REQUESTED:
        raise ValidationError(f"This exception is {exception.get_status_display().lower()} already.")
    note = text_checked(note, field="note", required=not approve, required_message="Say why it is rejected.")
    exception.status = ExceptionStatus.APPROVED if approve else ExceptionStatus.REJECTED
    exception.decided_by, exception.decided_at, exception.decision_note = user, timezone.now(), note
    exception.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_log(action=f"compliance.exception_{exception.status}", actor=user, obj=exception,
              details={"subject": exception.subject_label, "note": note, "expires_on": exception.expires_on})
    return exception


@transaction.atomic
def exceptions_expire(*, today: datetime.date | None = None) -> int:
    """Expire every approved exception past its expiry date, reopening what it covered, and tell the requester
    and the approver. Runs twice, acts once: an expired exception is no longer approved."""
    today = today or timezone.localdate()
    due = list(
        RiskException.objects.select_for_update(of=("self",))
        .filter(status=ExceptionStatus.APPROVED, expires_on__lt=today)
        .select_related("requirement__version__framework", "control")
    )
    if not due:
        return 0
    RiskException.objects.filter(pk__in=[e.pk for e in due]).update(status=ExceptionStatus.EXPIRED)
    audit_log_many(
        entries=[AuditEntry("compliance.exception_expired", e,
                            {"subject": e.subject_label, "expires_on": e.expires_on}) for e in due],
        actor_label="system: exceptions_expire",
    )
    people = dict(Person.objects.filter(
        user_id__in={e.requested_by_id for e in due} | {e.decided_by_id for e in due}
    ).values_list("user_id", "pk"))
    notifications_notify(
        notification_new(
            person_id=people[user_id], kind=NotificationKind.EXCEPTION_EXPIRED, about=e,
            link=reverse("compliance:exception_detail", args=[e.pk]),
            subject=f"Exception expired: {e.subject_label}",
            body=f"The exception on {e.subject_label} expired on {e.expires_on:%d %B %Y}; it is open again. "
                 "Meet it, or ask for a new exception.",
            dedupe_key=f"exception-expired:{e.pk}:{user_id}",
        )
        for e in due for user_id in {e.requested_by_id, e.decided_by_id} if user_id in people
    )
    return len(due)
