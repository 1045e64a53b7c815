"""Compliance catalogs: frameworks, their versions loaded from ``compliance/data/``, requirements and mappings.

A catalog file becomes a ``CatalogVersion``; a changed file becomes a new version and the old ones stay, so
anything evaluated against version 1 still points at version 1's requirements. NIST SP 800-53 is the hub:
other frameworks' requirements map to its controls (``Mapping``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from compliance.choices import (
    DecisionOutcome,
    ExceptionStatus,
    FrameworkKind,
    Implementation,
    MappingRelationship,
    RequirementKind,
)


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

    ``target`` may be any requirement, so the portal's own control library, when it comes, maps through this
    table too: a ``control`` key beside ``requirement`` (exactly one of the two set), pointing at an 800-53
    control or straight at a HIPAA, GLBA or SOX requirement.
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
        ]

    def __str__(self) -> str:
        return f"Exception #{self.pk} on {self.subject_label}"

    @property
    def subject_label(self) -> str:
        return self.requirement.citation if self.requirement_id else ""
