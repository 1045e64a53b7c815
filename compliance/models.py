"""Compliance catalogs: frameworks, their versions loaded from ``compliance/data/``, requirements and mappings.

A catalog file becomes a ``CatalogVersion``; a changed file becomes a new version and the old ones stay, so
anything evaluated against version 1 still points at version 1's requirements. NIST SP 800-53 is the hub:
other frameworks' requirements map to its controls (``Mapping``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from compliance.choices import (
    ControlFrequency,
    EvaluationBasis,
    EvaluationStatus,
    EvaluationTrigger,
    EvidenceRequestState,
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
