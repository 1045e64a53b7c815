"""Compliance catalogs: frameworks, their versions loaded from ``compliance/data/``, requirements and mappings.

A catalog file becomes a ``CatalogVersion``; a changed file becomes a new version and the old ones stay, so
anything evaluated against version 1 still points at version 1's requirements. NIST SP 800-53 is the hub:
other frameworks' requirements map to its controls (``Mapping``).
"""

from django.db import models
from django.db.models import Q

from compliance.choices import FrameworkKind, Implementation, MappingRelationship, RequirementKind


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
