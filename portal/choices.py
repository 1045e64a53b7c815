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
