"""Choices of the questionnaires app."""

from django.db import models

# Data categories belong to the VM (inventory); the questionnaires ask people to declare them.
from inventory.choices import DataCategory  # noqa: F401


class QuestionKind(models.TextChoices):
    TEXT = "text", "Short text"
    LONG_TEXT = "long_text", "Long text"
    YES_NO = "yes_no", "Yes / no"
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    DATE = "date", "Date"
    NUMBER = "number", "Number"
    VM_LIST = "vm_list", "List of VMs"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class AssignmentStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    RETURNED = "returned", "Returned"
    ACCEPTED = "accepted", "Accepted"


# Statuses in which an assignment still waits for its assignee (editable, reminded, escalated, may be submitted).
OPEN_STATUSES = frozenset({AssignmentStatus.NOT_STARTED, AssignmentStatus.IN_PROGRESS, AssignmentStatus.RETURNED})


class VMPurpose(models.TextChoices):
    PRODUCTION = "production", "Production"
    DEVELOPMENT = "development", "Development"
    TEST = "test", "Test"
    DEPARTMENTAL = "departmental", "Departmental"
    RESEARCH = "research", "Research"
    OTHER = "other", "Other"


class DeclaredVMStatus(models.TextChoices):
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    DECOMMISSIONED = "decommissioned", "Decommissioned"


class Disposition(models.TextChoices):
    """What a person said about a row: a pre-filled VM to check, confirmed, corrected or disowned, or one they added.

    Rows pre-filled from inventory start ``PENDING``; a disowned row stays in the list (the officer sees it)
    but does not count as declared.
    """

    PENDING = "pending", "To check"
    CONFIRMED = "confirmed", "Confirmed"
    CORRECTED = "corrected", "Corrected"
    DISOWNED = "disowned", "Not mine"
    ADDED = "added", "Added"


# Rows that count as declared: what a person says exists in their area. Pending rows (pre-filled, not checked yet)
# and disowned rows do not; reconciliation, the submit checks and the list's counts all use this one rule.
DECLARED_DISPOSITIONS = frozenset({Disposition.CONFIRMED, Disposition.CORRECTED, Disposition.ADDED})


class ReconciliationState(models.TextChoices):
    """Where a declared VM, or an inventory VM in a campaign's scope, stands against the other side."""

    MATCHED = "matched", "Matched"
    UNDECLARED = "undeclared", "Undeclared"
    NOT_FOUND = "not_found", "Not found (platform we scan)"
    NOT_FOUND_UNSCANNED = "not_found_unscanned", "Not found (platform we do not scan)"
    CONFLICT = "conflict", "Conflict"
    MISMATCH = "mismatch", "Mismatch"


class MatchKey(models.TextChoices):
    """How a declared VM was matched to an inventory VM, in order of trust."""

    CONFIRMED = "confirmed", "Confirmed from inventory by the person"
    LINKED = "linked", "Linked by hand"
    INSTANCE_UUID = "instance_uuid", "Instance UUID"
    BIOS_UUID = "bios_uuid", "BIOS UUID"
    MOREF = "moref", "VM ID (moref)"
    MAC = "mac", "MAC address"
    DNS_NAME = "dns_name", "Host name"
    IP = "ip", "IP address"
    NAME_AREA = "name_area", "Name, unique in the person's area"
    NAME_ESTATE = "name_estate", "Name, unique in the estate"


class Resolution(models.TextChoices):
    """How a person closed a gap; the item keeps who and when."""

    LINKED = "linked", "Linked to an inventory VM by hand"
    CLAIMED = "claimed", "Claimed: it is mine"
    DISOWNED = "disowned", "Not mine"
    RETIRED = "retired", "Confirmed retired"
    NOT_SCANNED = "not_scanned", "Runs on a platform not scanned"
    ACCEPTED = "accepted", "Difference accepted"


class ReconciliationTrigger(models.TextChoices):
    SCAN = "scan", "After a scan"
    SUBMISSION = "submission", "After an accepted submission"
    CLOSE = "close", "When the campaign closed"
    COMMAND = "command", "Command line"
    PAGE = "page", "Button in the portal"
