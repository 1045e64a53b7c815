"""Compliance catalogs: frameworks, their versions loaded from ``compliance/data/``, requirements and mappings.

A catalog file becomes a ``CatalogVersion``; a changed file becomes a new version and the old ones stay, so
anything evaluated against version 1 still points at version 1's requirements. NIST SP 800-53 is the hub:
other frameworks' requirements map to its controls (``Mapping``).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from compliance.choices import (
    ControlFrequency,
    ControlTestStatus,
    DecisionOutcome,
    EvaluationBasis,
    EvaluationStatus,
    EvaluationTrigger,
    EvidenceRequestState,
    ExceptionStatus,
    FrameworkKind,
    Implementation,
    MappingRelationship,
    Metric,
    PackState,
    RequirementKind,
    Scope,
)
from portal.choices import Role


class Framework(models.Model):
    """A regulation (HIPAA, GLBA, SOX) or a control catalog (NIST SP 800-53), known by a stable slug."""

    slug = models.SlugField(max_length=50, unique=True, help_text="Stable key, e.g. hipaa or nist-800-53.")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=FrameworkKind.choices)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class CatalogVersion(models.Model):
    """One load of a framework's catalog file; never edited once written.

    ``content_hash`` is the SHA-256 of the file. ``hub_version`` is the 800-53 version this version's
    mappings point into, so a new 800-53 version gives the mapping frameworks a new version too.
    """

    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    file_name = models.CharField(max_length=200)
    loaded_at = models.DateTimeField()
    source_documents = models.JSONField(
        default=list, blank=True, help_text='The documents the rows cite: [{"key": "S1", "title": "..."}].'
    )
    notes = models.JSONField(default=list, blank=True, help_text="What the file says about its sources and gaps.")
    mapping_source = models.CharField(max_length=300, blank=True)
    hub_version = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="mapped_versions"
    )

    class Meta:
        ordering = ["framework", "-number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(fields=["framework", "number"], name="catalog_version_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="catalog_version_number_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.framework.slug} v{self.number}"


class Requirement(models.Model):
    """A row of a catalog: a section, standard, implementation specification, element, objective or control.

    ``parent`` makes the tree; ``order`` is the row's place in a depth-first walk of it and ``depth`` its
    level, so one query ordered by ``order`` reads the whole tree. ``implementation`` is HIPAA's Required or
    Addressable, set on implementation specifications and on nothing else.
    """

    version = models.ForeignKey(CatalogVersion, on_delete=models.CASCADE, related_name="requirements")
    citation = models.CharField(max_length=64, help_text="As the source writes it, e.g. 164.308(a)(1)(ii)(A).")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    kind = models.CharField(max_length=30, choices=RequirementKind.choices)
    implementation = models.CharField(max_length=12, choices=Implementation.choices, null=True, blank=True)
    title = models.CharField(max_length=300, help_text="The official title where the source has one.")
    text = models.TextField(blank=True, help_text="The source's text or, where the file says so, a summary.")
    references = models.TextField(blank=True, help_text="Other authorities the row relies on (e.g. COSO, PCAOB).")
    source_document = models.CharField(max_length=300)
    order = models.PositiveIntegerField()
    depth = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["version", "order"]
        constraints = [
            models.UniqueConstraint(fields=["version", "citation"], name="requirement_unique_citation"),
            models.UniqueConstraint(fields=["version", "order"], name="requirement_unique_order"),
            models.CheckConstraint(
                condition=(
                    Q(kind=RequirementKind.IMPLEMENTATION_SPECIFICATION, implementation__isnull=False)
                    | (~Q(kind=RequirementKind.IMPLEMENTATION_SPECIFICATION) & Q(implementation__isnull=True))
                ),
                name="requirement_implementation_on_specifications_only",
            ),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="requirement_not_own_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.citation} {self.title}"


class Mapping(models.Model):
    """A link from a requirement to a ``target`` requirement (an 800-53 control), with who publishes it.

    The portal's own control library maps through ``ControlMapping``, whose 800-53 targets lead on through these
    rows to HIPAA, GLBA and SOX requirements.
    """

    requirement = models.ForeignKey(Requirement, on_delete=models.CASCADE, related_name="mappings")
    target = models.ForeignKey(Requirement, on_delete=models.CASCADE, related_name="mapped_from")
    relationship = models.CharField(max_length=30, choices=MappingRelationship.choices)
    source = models.CharField(max_length=300, help_text="Who publishes the link, e.g. NIST OLIR.")

    class Meta:
        ordering = ["requirement", "target"]
        constraints = [
            models.UniqueConstraint(fields=["requirement", "target"], name="mapping_unique_pair"),
            models.CheckConstraint(condition=~Q(requirement=models.F("target")), name="mapping_not_to_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.requirement.citation} → {self.target.citation}"


class Control(models.Model):
    """A control of the virtualization library (``compliance/data/controls/``), e.g. VMC-01 Inventory completeness.

    The file defines it; ``manage.py load_controls`` writes it and bumps ``version`` when its row changes.
    A control with a ``metric`` is evaluated from the portal's data against ``threshold`` (the metric says
    whether the value must be at least or at most it); one without is tested by attestation. Compliance
    officers assign the ``owner`` and may change the threshold in the portal; a reload keeps those unless the
    file's row itself changed. A control dropped from the file is retired, never deleted (evaluations point
    at it).
    """

    code = models.CharField(max_length=20, unique=True, help_text="Stable key, e.g. VMC-01.")
    title = models.CharField(max_length=200)
    description = models.TextField()
    owner_role = models.CharField(max_length=30, choices=Role.choices, help_text="Who answers for it.")
    owner = models.ForeignKey(
        "portal.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="controls",
        help_text="The person who operates and tests it, assigned in the portal.",
    )
    frequency = models.CharField(max_length=20, choices=ControlFrequency.choices)
    test_procedure = models.TextField()
    evidence = models.TextField(help_text="What the test keeps as evidence.")
    metric = models.CharField(
        max_length=40, choices=Metric.choices, blank=True, help_text="Blank: tested by attestation."
    )
    threshold = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    parameters = models.JSONField(
        default=dict, blank=True, help_text='The metric\'s settings, e.g. {"grace_days": 7}.'
    )
    version = models.PositiveIntegerField(default=1, help_text="Bumped when the file's row changes.")
    definition_hash = models.CharField(max_length=64, help_text="SHA-256 of the file's row as last loaded.")
    loaded_at = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True, help_text="When the file stopped listing it.")

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(metric="", threshold__isnull=True) | (~Q(metric="") & Q(threshold__isnull=False)),
                name="control_threshold_with_metric_only",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="control_version_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def automated(self) -> bool:
        return bool(self.metric)


class ControlMapping(models.Model):
    """A control of the library linked to a requirement: an 800-53 control (the usual way, leading on to HIPAA,
    GLBA and SOX through ``Mapping``) or, with ``relationship`` direct, a HIPAA, GLBA or SOX requirement itself.

    ``target`` is in the newest catalog version at load time; ``citation`` and ``framework`` keep what the file
    named, so a roll-up on another catalog version matches by citation.
    """

    control = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="mappings")
    target = models.ForeignKey(Requirement, on_delete=models.CASCADE, related_name="control_mappings")
    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="+")
    citation = models.CharField(max_length=64)
    relationship = models.CharField(max_length=30, choices=MappingRelationship.choices)

    class Meta:
        ordering = ["control", "framework", "citation"]
        constraints = [
            models.UniqueConstraint(fields=["control", "target"], name="control_mapping_unique_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.control.code} → {self.citation}"


class EvaluationRun(models.Model):
    """One pass of evaluating every automated control, after a scan, a reconciliation, a campaign close, the
    daily schedule or a command."""

    trigger = models.CharField(max_length=20, choices=EvaluationTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="Evaluations per status.")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Evaluation run #{self.pk} ({self.get_trigger_display()}, {self.started_at:%Y-%m-%d %H:%M})"


class ControlEvaluation(models.Model):
    """A control's status at a moment, for one scope, with what it was computed from; never edited.

    ``inputs`` lists each query the evaluator ran: ``{"name", "query", "parameters", "row_count", "sha256"}``
    (SHA-256 of the rows in a canonical order), so the status can be re-checked by running them again.
    ``threshold`` and ``parameters`` are the control's at the time. An attested test writes one too, with
    ``basis`` attestation.
    """

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="evaluations")
    run = models.ForeignKey(EvaluationRun, null=True, blank=True, on_delete=models.PROTECT, related_name="evaluations")
    basis = models.CharField(max_length=20, choices=EvaluationBasis.choices, default=EvaluationBasis.METRIC)
    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.ESTATE)
    evaluated_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=20, choices=EvaluationStatus.choices)
    metric = models.CharField(max_length=40, choices=Metric.choices, blank=True)
    value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    threshold = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    control_version = models.PositiveIntegerField()
    numerator = models.PositiveIntegerField(null=True, blank=True)
    denominator = models.PositiveIntegerField(null=True, blank=True)
    summary = models.CharField(max_length=500, help_text="The result in words, e.g. 95 of 100 VMs approved.")
    details = models.JSONField(default=dict, blank=True, help_text="Breakdown, e.g. per source, and sample ids.")
    inputs = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        indexes = [
            models.Index(fields=["control", "scope", "-evaluated_at"], name="evaluation_control_scope_idx"),
        ]

    def __str__(self) -> str:
        at = f"{self.evaluated_at:%Y-%m-%d %H:%M}"
        return f"{self.control.code} {self.get_scope_display()}: {self.get_status_display()} at {at}"


class Applicability(models.Model):
    """A row of a framework's statement of applicability: whether one requirement applies to the organisation.

    A requirement without a row is undecided. One row per requirement, rewritten by each decision; the audit
    trail keeps every earlier decision with who made it. Not applicable needs a justification.
    """

    requirement = models.OneToOneField(Requirement, on_delete=models.CASCADE, related_name="applicability")
    applicable = models.BooleanField()
    justification = models.TextField(blank=True, help_text="Why; required when the requirement does not apply.")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "applicability"
        constraints = [
            models.CheckConstraint(
                condition=Q(applicable=True) | ~Q(justification=""), name="applicability_justified_when_not"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requirement.citation}: {'applicable' if self.applicable else 'not applicable'}"


class AddressableDecision(models.Model):
    """The documented decision 45 CFR 164.306(d)(3) asks for on a HIPAA addressable implementation specification.

    ``alternative_measure`` says which measure replaces the specification (required for an alternative);
    ``rationale`` says why it is not reasonable and appropriate (required for that outcome). One row per
    specification, rewritten by each decision; the audit trail keeps the earlier ones.
    """

    requirement = models.OneToOneField(Requirement, on_delete=models.CASCADE, related_name="addressable_decision")
    outcome = models.CharField(max_length=20, choices=DecisionOutcome.choices)
    alternative_measure = models.TextField(blank=True)
    rationale = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome=DecisionOutcome.ALTERNATIVE) | ~Q(alternative_measure=""),
                name="decision_alternative_names_the_measure",
            ),
            models.CheckConstraint(
                condition=~Q(outcome=DecisionOutcome.NOT_REASONABLE) | ~Q(rationale=""),
                name="decision_not_reasonable_says_why",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requirement.citation}: {self.get_outcome_display()}"


class PlanVersion(models.Model):
    """One version of the virtualization security plan. Written once: a change is a new version (change
    control), which its named stakeholders sign off again. ``review_due_on`` is when the plan is next reviewed.

    The sections are the plan's checklist: deployment controls, monitoring and tracking, patch management,
    tools, disaster recovery, training, and the policies specific to virtualization (which data a VM may hold,
    what happens to unauthorized, unpatched and unused VMs).
    """

    number = models.PositiveIntegerField(unique=True)
    deployment_controls = models.TextField()
    monitoring = models.TextField()
    patch_management = models.TextField()
    tools = models.TextField()
    disaster_recovery = models.TextField()
    training = models.TextField()
    vm_data = models.TextField(help_text="Which data a VM may hold, by data category.")
    vm_unauthorized = models.TextField(help_text="What happens to a VM deployed without approval.")
    vm_unpatched = models.TextField(help_text="What happens to a VM behind on patches.")
    vm_unused = models.TextField(help_text="What happens to a VM unused for 90 days.")
    change_summary = models.TextField(help_text="What changed from the version before, and why.")
    review_due_on = models.DateField()
    stakeholders = models.ManyToManyField("portal.Person", related_name="plan_versions")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-number"]
        get_latest_by = "number"
        constraints = [models.CheckConstraint(condition=Q(number__gte=1), name="plan_version_number_from_one")]

    def __str__(self) -> str:
        return f"Security plan v{self.number}"


class PlanSignoff(models.Model):
    """A stakeholder's sign-off of one plan version: management buy-in, by name and date."""

    version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="signoffs")
    person = models.ForeignKey("portal.Person", on_delete=models.PROTECT, related_name="plan_signoffs")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["version", "signed_at"]
        constraints = [models.UniqueConstraint(fields=["version", "person"], name="plan_signoff_once_per_person")]

    def __str__(self) -> str:
        return f"{self.version} signed by {self.person.name}"


class RiskException(models.Model):
    """A risk acceptance: a requirement (or a control) knowingly not met, for a reason, until ``expires_on``.

    Approved by a compliance officer who is not the requester; past its expiry date it expires and the
    requirement or control is open again.
    """

    requirement = models.ForeignKey(
        Requirement, null=True, blank=True, on_delete=models.PROTECT, related_name="exceptions"
    )
    control = models.ForeignKey(Control, null=True, blank=True, on_delete=models.PROTECT, related_name="exceptions")
    reason = models.TextField()
    expires_on = models.DateField()
    status = models.CharField(max_length=20, choices=ExceptionStatus.choices, default=ExceptionStatus.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
                name="exception_not_approved_by_requester",
            ),
            models.CheckConstraint(
                condition=Q(requirement__isnull=True, control__isnull=False)
                | Q(requirement__isnull=False, control__isnull=True),
                name="exception_on_a_requirement_or_a_control",
            ),
        ]

    def __str__(self) -> str:
        return f"Exception #{self.pk} on {self.subject_label}"

    @property
    def subject_label(self) -> str:
        """What the exception covers, as a person reads it: a control's code or a requirement's citation."""
        if self.control_id:
            return f"control {self.control.code}"
        return f"{self.requirement.version.framework.name} {self.requirement.citation}"


class ControlTest(models.Model):
    """One test of an attested control (one without a metric) on its calendar: due on a date, recorded by the
    control's owner or a compliance officer with a result, a note and evidence files.

    The calendar is written ahead by the daily task, one test per period of the control's frequency. A test
    still scheduled after its due date is flagged missed (``missed_at``); it may still be recorded late.
    """

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="tests")
    due_on = models.DateField()
    status = models.CharField(max_length=20, choices=ControlTestStatus.choices, default=ControlTestStatus.SCHEDULED)
    note = models.TextField(blank=True)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    performed_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, help_text="When the owner was told it is due.")
    missed_at = models.DateTimeField(null=True, blank=True, help_text="When it was flagged missed.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_on", "control"]
        constraints = [
            models.UniqueConstraint(fields=["control", "due_on"], name="control_test_once_per_due_date"),
            models.CheckConstraint(
                condition=Q(status__in=[ControlTestStatus.SCHEDULED, ControlTestStatus.MISSED])
                | Q(performed_at__isnull=False),
                name="control_test_result_has_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.control.code} test due {self.due_on:%Y-%m-%d}"


def evidence_path(evidence: "Evidence", filename: str) -> str:
    """Where an evidence file is stored: a name of its hash and a random part, never the uploader's name, so no
    upload can overwrite another or choose where it lands."""
    return f"evidence/{evidence.sha256[:2]}/{evidence.sha256}-{uuid.uuid4().hex}"


class Evidence(models.Model):
    """A file kept as evidence of a control test, with its SHA-256; never overwritten or edited.

    A new upload of the same name for the same control is a new ``version``. Past ``expires_on`` the evidence no
    longer supports the control: the daily task makes the control "not tested" and asks for a new test
    (``expiry_handled_at`` records that it did, once).
    """

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="evidence_files")
    test = models.ForeignKey(ControlTest, on_delete=models.PROTECT, related_name="evidence_files")
    name = models.CharField(max_length=200, help_text="The uploaded file's name, for the download only.")
    version = models.PositiveIntegerField()
    file = models.FileField(upload_to=evidence_path, max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()
    expires_on = models.DateField()
    expiry_handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["control", "name", "-version"]
        verbose_name_plural = "evidence"
        constraints = [
            models.UniqueConstraint(fields=["control", "name", "version"], name="evidence_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="evidence_version_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.control.code})"


class EvidencePack(models.Model):
    """One PDF for a framework and a period, with the manifest of every table and attachment it holds.

    Built once by ``pack_build`` (a Celery task on the ``pdf`` queue); once ``ready`` it never changes, and a
    rebuild is a new pack. ``pdf_sha256`` is the hash of ``pdf`` (a PDF cannot hold its own hash) and
    ``manifest_sha256`` that of the manifest's canonical JSON; ``verify_pack`` recomputes both and every hash the
    manifest lists. A failed build keeps no PDF and says why in ``failure_reason``.
    """

    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="packs")
    period_start = models.DateField()
    period_end = models.DateField()
    as_of = models.DateField(help_text="The date the pack's figures are read as of.")
    built_by = models.ForeignKey("portal.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    built_by_label = models.CharField(max_length=200, help_text="Who asked for it (user or command).")
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=PackState.choices, default=PackState.QUEUED)
    failure_reason = models.TextField(blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Per cent done, for the page that waits.")
    progress_step = models.CharField(max_length=200, blank=True)
    sample_seed = models.BigIntegerField(help_text="Seed of the audit sample: the same seed draws the same VMs.")
    sample_size = models.PositiveIntegerField()
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(period_start__lte=models.F("period_end")), name="pack_period_order"),
            models.CheckConstraint(
                condition=~Q(state=PackState.READY) | (Q(pdf__isnull=False) & ~Q(pdf_sha256="")),
                name="pack_ready_has_pdf",
            ),
            models.CheckConstraint(
                condition=~Q(state=PackState.FAILED) | Q(pdf__isnull=True), name="pack_failed_has_no_pdf"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="pack_progress_percent"),
        ]

    def __str__(self) -> str:
        return f"Pack {self.pk} {self.framework.slug} {self.period_start}..{self.period_end}"


class PackSample(models.Model):
    """A sample an auditor drew again from a pack's population: a new seed, recorded, so it can be redrawn.

    ``vm_ids`` are the VMs drawn from the pack's recorded population (``manifest["population_ids"]``), so the
    sample depends on the pack and the seed only, never on today's inventory.
    """

    pack = models.ForeignKey(EvidencePack, on_delete=models.PROTECT, related_name="samples")
    seed = models.BigIntegerField()
    size = models.PositiveIntegerField()
    vm_ids = models.JSONField(default=list)
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the drawn ids, in order, as JSON.")
    drawn_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    drawn_at = models.DateTimeField()

    class Meta:
        ordering = ["-drawn_at", "-id"]

    def __str__(self) -> str:
        return f"Sample of {self.size} from pack {self.pack_id} (seed {self.seed})"


class FrameworkGrant(models.Model):
    """A framework an auditor may read the packs of, granted by a compliance officer.

    The auditor's access still ends with their login's ``access_expires_on``; a revoked grant keeps its row.
    """

    auditor = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="framework_grants")
    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="grants")
    granted_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["framework", "auditor"]
        constraints = [
            models.UniqueConstraint(
                fields=["auditor", "framework"], condition=Q(revoked_at__isnull=True), name="grant_one_live_per_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.framework.slug} for {self.auditor}"


class EvidenceRequest(models.Model):
    """An auditor's request for evidence on a control (a catalog requirement) or a VM, due on a date.

    The client answers with files or a note (``EvidenceResponse``); the auditor accepts or asks again.
    """

    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="evidence_requests")
    requirement = models.ForeignKey(
        Requirement, null=True, blank=True, on_delete=models.PROTECT, related_name="evidence_requests"
    )
    vm = models.ForeignKey(
        "inventory.VirtualMachine", null=True, blank=True, on_delete=models.PROTECT, related_name="evidence_requests"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    due_date = models.DateField()
    state = models.CharField(max_length=20, choices=EvidenceRequestState.choices, default=EvidenceRequestState.OPEN)
    requested_by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="evidence_requests")
    requested_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(requirement__isnull=False) & Q(vm__isnull=True))
                | (Q(requirement__isnull=True) & Q(vm__isnull=False)),
                name="evidence_request_names_control_or_vm",
            ),
        ]

    def __str__(self) -> str:
        return f"Request {self.pk}: {self.title}"


class EvidenceResponse(models.Model):
    """One turn of an evidence request: the client's answer (a note and maybe a file) or the auditor's review."""

    request = models.ForeignKey(EvidenceRequest, on_delete=models.CASCADE, related_name="responses")
    by = models.ForeignKey("portal.User", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    note = models.TextField(blank=True)
    state_after = models.CharField(max_length=20, choices=EvidenceRequestState.choices)
    file_name = models.CharField(max_length=200, blank=True)
    file_content = models.BinaryField(null=True, blank=True, editable=False)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_state_after_display()} by {self.by} on request {self.request_id}"
