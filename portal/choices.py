"""Choices used across the portal app."""

from django.db import models


class Role(models.TextChoices):
    """A user's role in the portal. Each role is a Django group of the same name."""

    MANAGER = "manager", "Manager"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    SECURITY_ADMIN = "security_admin", "Security admin"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Administrator"


# Shorthands used by views to declare who may use them.
ALL_ROLES = frozenset(Role)
STAFF_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.ADMIN})
OVERSIGHT_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMIN})
# The compliance catalogs and control status: everyone but managers; auditors read and never write.
COMPLIANCE_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.AUDITOR, Role.ADMIN})


class NotificationKind(models.TextChoices):
    """What a notification is about, for every app: the inbox shows the label, tests and filters use the value."""

    # Questionnaires
    ASSIGNED = "assigned", "New assignment"
    DELEGATED = "delegated", "Delegated to you"
    REMINDER = "reminder", "Reminder"
    ESCALATION = "escalation", "Overdue in your area"
    SUBMITTED = "submitted", "Submitted for your review"
    RETURNED = "returned", "Returned to you"
    ACCEPTED = "accepted", "Accepted"
    CLOSED = "closed", "Campaign closed"
    REOPENED = "reopened", "Campaign re-opened"
    RECONCILIATION = "reconciliation", "VM to check after reconciliation"
    # Governance (inventory)
    REQUEST_SUBMITTED = "request_submitted", "Deployment request to review"
    REQUEST_DECIDED = "request_decided", "Deployment request decided"
    DECOMMISSION_DUE = "decommission_due", "VM past its approved end date"
    FINDINGS = "findings", "Findings to act on"
    POWER_OFF_CONFIRM = "power_off_confirm", "vCenter action to confirm"
    # Compliance
    CONTROL_TEST_DUE = "control_test_due", "Control test due"
    CONTROL_TEST_MISSED = "control_test_missed", "Control test missed"
    EVIDENCE_EXPIRED = "evidence_expired", "Evidence expired"
    EXCEPTION_EXPIRED = "exception_expired", "Exception expired"
    PLAN_SIGNOFF = "plan_signoff", "Security plan to sign off"
    PLAN_REVIEW = "plan_review", "Security plan review due"
    EVIDENCE_REQUEST = "evidence_request", "Evidence requested by an auditor"
    EVIDENCE_REQUEST_ANSWERED = "evidence_request_answered", "Evidence request answered"
    PACK_READY = "pack_ready", "Evidence pack ready"
