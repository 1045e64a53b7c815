"""Questionnaires that travel down the chain of command: templates, campaigns, assignments and answers."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models

from inventory.choices import Platform
from questionnaires.choices import (
    AssignmentStatus,
    CampaignStatus,
    DataCategory,
    DeclaredVMStatus,
    Disposition,
    MatchKey,
    QuestionKind,
    ReconciliationState,
    ReconciliationTrigger,
    Resolution,
    VMPurpose,
)


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
    # Messages about this part; deleted with it, and queried as ``Notification.objects.filter(assignment=...)``.
    notifications = GenericRelation(
        "portal.Notification", content_type_field="about_type", object_id_field="about_id",
        related_query_name="assignment",
    )

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
    uuid = models.CharField(
        max_length=64, blank=True, help_text="Instance or BIOS UUID, as vSphere or RVTools shows it (optional)."
    )
    vm_id = models.CharField(max_length=100, blank=True, help_text="vCenter VM ID (moref), e.g. vm-1042 (optional).")
    mac_address = models.CharField(max_length=17, blank=True, help_text="A MAC address of the VM (optional).")
    disposition = models.CharField(max_length=20, choices=Disposition.choices, default=Disposition.ADDED)
    inventory_vm = models.ForeignKey(
        "inventory.VirtualMachine", null=True, blank=True, on_delete=models.SET_NULL, related_name="declarations"
    )

    class Meta:
        ordering = ["assignment", "row"]
        constraints = [models.UniqueConstraint(fields=["assignment", "question", "row"], name="declared_vm_unique_row")]

    def __str__(self) -> str:
        return self.name


class ReconciliationRun(models.Model):
    """One reconciliation of a campaign against the inventory: why it ran, the counts per state, what changed."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reconciliation_runs")
    trigger = models.CharField(max_length=20, choices=ReconciliationTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="Items per state at the end of the run.")
    changed = models.PositiveIntegerField(default=0, help_text="Items created, changed or removed by the run.")
    written_back = models.PositiveIntegerField(default=0, help_text="VMs whose owner, purpose or data changed.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["campaign", "-started_at"], name="recon_run_campaign_idx")]

    def __str__(self) -> str:
        return f"Reconciliation #{self.pk} of {self.campaign}"


class ReconciliationItem(models.Model):
    """One declared VM of a campaign against the inventory, or one inventory VM in its scope nobody declared.

    ``key`` is ``d<declared VM id>`` or ``u<VM id>`` (undeclared): a rerun finds its item again and changes only
    what changed. ``routed_to`` is who can close the gap; a ``resolution`` holds while the state stays as it was
    when resolved, and is cleared when the state changes (a new situation needs a new answer).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reconciliation_items")
    key = models.CharField(max_length=40)
    state = models.CharField(max_length=20, choices=ReconciliationState.choices)
    declared_vm = models.ForeignKey(
        DeclaredVM, null=True, blank=True, on_delete=models.CASCADE, related_name="reconciliation_items"
    )
    declarer = models.ForeignKey(
        "portal.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Who declared the VM (empty for an undeclared VM).",
    )
    vm = models.ForeignKey(
        "inventory.VirtualMachine", null=True, blank=True, on_delete=models.CASCADE, related_name="reconciliation_items"
    )
    match_key = models.CharField(max_length=20, choices=MatchKey.choices, blank=True)
    match_value = models.CharField(max_length=255, blank=True, help_text="The value that matched, as declared.")
    reasons = models.JSONField(default=list, blank=True, help_text='[{"code": ..., "message": ...}]: why, in words.')
    candidates = models.JSONField(default=list, blank=True, help_text="Ids of VMs it might be: a person picks one.")
    routed_to = models.ForeignKey(
        "portal.Person", null=True, blank=True, on_delete=models.PROTECT, related_name="reconciliation_items"
    )
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    linked_vm = models.ForeignKey(
        "inventory.VirtualMachine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The VM a person linked the declaration to by hand.",
    )
    changed_run = models.ForeignKey(
        ReconciliationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The run that last changed the state.",
    )

    class Meta:
        ordering = ["campaign", "state", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "key"], name="recon_item_unique_key")]
        indexes = [
            models.Index(fields=["campaign", "state"], name="recon_item_state_idx"),
            models.Index(fields=["routed_to", "resolution"], name="recon_item_routed_idx"),
        ]

    def __str__(self) -> str:
        what = self.declared_vm.name if self.declared_vm_id else (self.vm.name if self.vm_id else self.key)
        return f"{what}: {self.get_state_display()}"


class ReconciliationChange(models.Model):
    """What a run changed: an item appeared, changed state, or went (its declaration or VM is gone)."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="changes")
    key = models.CharField(max_length=40)
    item = models.ForeignKey(ReconciliationItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    old_state = models.CharField(max_length=20, choices=ReconciliationState.choices, blank=True)
    new_state = models.CharField(max_length=20, choices=ReconciliationState.choices, blank=True)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.key}: {self.old_state or 'new'} → {self.new_state or 'gone'}"
