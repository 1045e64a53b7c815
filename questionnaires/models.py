"""Questionnaires that travel down the chain of command: templates, campaigns, assignments and answers."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from questionnaires.choices import (
    AssignmentStatus,
    CampaignStatus,
    DataCategory,
    DeclaredVMStatus,
    Disposition,
    NotificationKind,
    Platform,
    QuestionKind,
    VMPurpose,
)

# A review comment or an "answered for them" reason is copied into the audit trail, a notification and its
# e-mail: a few paragraphs are plenty.
REVIEW_TEXT_MAX_LENGTH = 5000

class QuestionnaireTemplate(models.Model):
    """A named questionnaire. Its content lives in versions; a launched campaign keeps its version."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def latest_version(self):
        return self.versions.order_by("-number").first()


class TemplateVersion(models.Model):
    """One frozen edition of a template: its sections and questions never change once a campaign uses it."""

    template = models.ForeignKey(QuestionnaireTemplate, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    notes = models.TextField(blank=True)
    content_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the canonical JSON of its sections and questions."
    )

    class Meta:
        ordering = ["template", "-number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="template_version_unique_number")]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class Section(models.Model):
    """A part of a questionnaire; the unit a manager can delegate to a report."""

    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="sections")
    key = models.SlugField(max_length=100)
    order = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["version", "order"]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="section_unique_key")]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    """A typed question. ``show_if`` makes it conditional on an earlier answer's value."""

    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    key = models.SlugField(max_length=100)
    order = models.PositiveIntegerField()
    text = models.CharField(max_length=500)
    help_text = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    required = models.BooleanField(default=False)
    choices = models.JSONField(default=list, blank=True, help_text='[{"value": "...", "label": "..."}]')
    allow_other = models.BooleanField(default=False, help_text="Offer an 'other' option with free text.")
    show_if_question = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="dependents"
    )
    show_if_value = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["section__order", "order"]
        constraints = [models.UniqueConstraint(fields=["section", "key"], name="question_unique_key")]

    def __str__(self) -> str:
        return self.text


class Campaign(models.Model):
    """A questionnaire sent to the head of a subtree of the organisation, with a due date and reminders."""

    name = models.CharField(max_length=200)
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, related_name="campaigns")
    scope = models.ForeignKey(
        "portal.Person", on_delete=models.PROTECT, related_name="+", help_text="Whose subtree is asked."
    )
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    due_date = models.DateField()
    reminder_every_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days between reminders before the due date (0: none)."
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        default=3, help_text="Days overdue before the assignee's manager is told, then again up the chain."
    )
    cascade = models.BooleanField(
        default=True, help_text="Assign the whole subtree at launch, or let each manager choose whom to delegate to."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """One person's part of a campaign: their own area's answers, plus what they delegated down.

    ``parent`` is the assignment it was delegated from (the assignee's manager's);
    ``sections`` empty means all of them.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments")
    person = models.ForeignKey("portal.Person", on_delete=models.PROTECT, related_name="assignments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    sections = models.ManyToManyField(Section, blank=True, related_name="+")
    status = models.CharField(
        max_length=20, choices=AssignmentStatus.choices, default=AssignmentStatus.NOT_STARTED, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_comment = models.TextField(blank=True, help_text="Why it was returned, or a note on acceptance.")
    answered_by_manager_reason = models.TextField(
        blank=True, help_text="Set when the manager answered this part themselves."
    )
    escalation_level = models.PositiveSmallIntegerField(default=0, help_text="Managers up the chain told so far.")

    class Meta:
        ordering = ["campaign", "person__name"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "person"], name="assignment_one_per_person"),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="assignment_campaign_status_idx")]

    def __str__(self) -> str:
        return f"{self.campaign}: {self.person.name}"


class Answer(models.Model):
    """The answer to one question in one assignment, saved as a draft while the person types."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    value = models.JSONField(null=True, blank=True)
    other_text = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "question"], name="answer_one_per_question")]

    def __str__(self) -> str:
        return f"{self.assignment} / {self.question.key}"


class DeclaredVM(models.Model):
    """A VM somebody says exists in their area, optionally confirmed as an inventory VM."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="declared_vms")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    row = models.PositiveIntegerField(help_text="Position in the person's list, from 1.")
    name = models.CharField(max_length=255)
    address = models.CharField(max_length=255, blank=True, help_text="Host name or IP address.")
    platform = models.CharField(max_length=30, choices=Platform.choices, blank=True)
    software = models.CharField(max_length=200, blank=True, help_text="Virtualization software and version.")
    location = models.CharField(max_length=200, blank=True, help_text="Where it runs (site, host, laptop...).")
    created_on = models.DateField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    purpose = models.CharField(max_length=20, choices=VMPurpose.choices, blank=True)
    purpose_other = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=DeclaredVMStatus.choices, blank=True)
    owner = models.CharField(max_length=200, blank=True)
    data_categories = models.JSONField(default=list, blank=True, help_text=f"Values of {DataCategory.__name__}.")
    notes = models.TextField(blank=True)
    disposition = models.CharField(max_length=20, choices=Disposition.choices, default=Disposition.ADDED)
    inventory_vm = models.ForeignKey(
        "inventory.VirtualMachine", null=True, blank=True, on_delete=models.SET_NULL, related_name="declarations"
    )

    class Meta:
        ordering = ["assignment", "row"]
        constraints = [models.UniqueConstraint(fields=["assignment", "question", "row"], name="declared_vm_unique_row")]

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """A message to a person, shown in the portal inbox and sent by e-mail.

    ``dedupe_key`` is unique: a reminder or escalation is sent once even when
    the task runs twice or on two workers at once.
    """

    person = models.ForeignKey("portal.Person", on_delete=models.CASCADE, related_name="notifications")
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["person", "-created_at"], name="notification_person_idx"),
            models.Index(fields=["emailed_at"], condition=Q(emailed_at__isnull=True), name="notification_unsent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.person.name}: {self.subject}"


class AreaMapping(models.Model):
    """Which person's area a part of the estate belongs to, kept by compliance officers for pre-filling.

    A VM whose cluster, folder or resource pool starts with ``pattern`` is
    pre-filled into that person's VM list (unless it has an owner already).
    """

    class Scope(models.TextChoices):
        CLUSTER = "cluster", "Cluster"
        FOLDER = "folder", "Folder"
        RESOURCE_POOL = "resource_pool", "Resource pool"

    person = models.ForeignKey("portal.Person", on_delete=models.CASCADE, related_name="area_mappings")
    scope = models.CharField(max_length=20, choices=Scope.choices)
    pattern = models.CharField(max_length=255, help_text="Name, or the start of a folder path.")

    class Meta:
        ordering = ["scope", "pattern"]
        constraints = [models.UniqueConstraint(fields=["scope", "pattern"], name="area_mapping_unique")]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.pattern} → {self.person.name}"
