"""Choices of the questionnaires app."""

from django.db import models


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


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", "New assignment"
    DELEGATED = "delegated", "Delegated to you"
    REMINDER = "reminder", "Reminder"
    ESCALATION = "escalation", "Overdue in your area"
    SUBMITTED = "submitted", "Submitted for your review"
    RETURNED = "returned", "Returned to you"
    ACCEPTED = "accepted", "Accepted"
    CLOSED = "closed", "Campaign closed"
    REOPENED = "reopened", "Campaign re-opened"


class Platform(models.TextChoices):
    VMWARE_ESXI = "vmware-esxi", "VMware ESXi / vSphere"
    VMWARE_WORKSTATION = "vmware-workstation", "VMware Workstation / Fusion"
    HYPERV = "hyperv", "Microsoft Hyper-V"
    KVM = "kvm", "KVM"
    XEN = "xen", "Xen"
    VIRTUALBOX = "virtualbox", "VirtualBox"
    CLOUD = "cloud", "Cloud (AWS, Azure, GCP...)"
    OTHER = "other", "Other"


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


class DataCategory(models.TextChoices):
    """Data a VM handles; scopes HIPAA (ePHI), SOX (financial reporting) and GLBA (customer financial data)."""

    EPHI = "ephi", "Electronic protected health information (ePHI)"
    FINANCIAL_REPORTING = "financial_reporting", "Financial reporting"
    CUSTOMER_FINANCIAL = "customer_financial", "Customer financial data"
    PERSONAL = "personal", "Other personal data"
    NONE = "none", "None of these"


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
