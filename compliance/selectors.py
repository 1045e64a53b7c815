"""Read queries of the compliance catalogs: frameworks with their latest version, a version's requirement tree.

Every list here is a fixed number of queries whatever its length: counts are aggregated in the database and
mappings come by prefetch.
"""

import difflib

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from compliance.choices import FrameworkKind, Implementation, RequirementKind
from compliance.models import (
    CatalogVersion,
    Control,
    Framework,
    Mapping,
    PlanSignoff,
    PlanVersion,
    Requirement,
    RiskException,
)


def latest_versions() -> QuerySet[CatalogVersion]:
    """The newest version of each framework: what controls and pages read unless asked for another."""
    newest = CatalogVersion.objects.filter(framework=OuterRef("framework")).order_by("-number").values("number")[:1]
    return CatalogVersion.objects.filter(number=Subquery(newest))


def _with_counts(versions: QuerySet[CatalogVersion]) -> QuerySet[CatalogVersion]:
    spec = Q(requirements__kind=RequirementKind.IMPLEMENTATION_SPECIFICATION)
    return versions.annotate(
        requirement_count=Count("requirements", distinct=True),
        standard_count=Count("requirements", filter=Q(requirements__kind=RequirementKind.STANDARD), distinct=True),
        specification_count=Count("requirements", filter=spec, distinct=True),
        required_count=Count(
            "requirements", filter=spec & Q(requirements__implementation=Implementation.REQUIRED), distinct=True
        ),
        addressable_count=Count(
            "requirements", filter=spec & Q(requirements__implementation=Implementation.ADDRESSABLE), distinct=True
        ),
    )


def framework_list() -> list[Framework]:
    """Every framework, each with ``latest`` (its newest version with its counts, or None): the regulations by
    name, then the control catalogs."""
    frameworks = sorted(Framework.objects.all(), key=lambda f: (f.kind != FrameworkKind.REGULATION, f.name))
    latest = _with_counts(latest_versions()).annotate(mapping_count=Count("requirements__mappings", distinct=True))
    versions = {version.framework_id: version for version in latest}
    for framework in frameworks:
        framework.latest = versions.get(framework.pk)
    return frameworks


def framework_version(*, slug: str, number: int | None = None) -> CatalogVersion | None:
    """A framework's version by number (404 when it has none of that number), or its newest (None when the
    framework has no version yet)."""
    versions = _with_counts(CatalogVersion.objects.filter(framework__slug=slug)).select_related(
        "framework", "hub_version__framework"
    )
    if number is None:
        return versions.order_by("-number").first()
    return get_object_or_404(versions, number=number)


def framework_names() -> list[tuple[str, str]]:
    """(slug, name) of every framework by name, for pickers and filters."""
    return list(Framework.objects.order_by("name").values_list("slug", "name"))


def control_names() -> list[tuple[str, str]]:
    """(code, title) of every control in use, by code, for pickers."""
    return list(Control.objects.filter(retired_at__isnull=True).order_by("code").values_list("code", "title"))


def framework_get(*, slug: str) -> Framework:
    """A framework by slug; 404 when there is none."""
    return get_object_or_404(Framework, slug=slug)


def framework_versions(*, framework: Framework) -> QuerySet[CatalogVersion]:
    """All versions of a framework, newest first, for the version picker."""
    return framework.versions.order_by("-number").only("id", "number", "loaded_at", "content_hash", "framework_id")


def requirement_tree(*, version: CatalogVersion) -> list[Requirement]:
    """The version's requirements in tree order (``depth`` gives the level), each with ``mapped_controls``
    (the 800-53 controls it maps to) and ``mapped_requirements`` (the latest catalogs' requirements that map to
    it, for 800-53 itself)."""
    mappings = Mapping.objects.select_related("target").order_by("target__order")
    mapped_from = Mapping.objects.filter(requirement__version__in=latest_versions()).select_related(
        "requirement__version__framework"
    ).order_by(
        "requirement__version__framework__name", "requirement__order"
    )
    return list(
        version.requirements.order_by("order").prefetch_related(
            Prefetch("mappings", queryset=mappings, to_attr="mapped_controls"),
            Prefetch("mapped_from", queryset=mapped_from, to_attr="mapped_requirements"),
        )
    )


def requirement_list(*, latest_only: bool = True) -> QuerySet[Requirement]:
    """Requirements for the API, with their framework, parent and mapped 800-53 controls loaded."""
    requirements = Requirement.objects.select_related("version__framework", "parent").prefetch_related(
        Prefetch("mappings", queryset=Mapping.objects.select_related("target").order_by("target__order"),
                 to_attr="mapped_controls")
    )
    if latest_only:
        requirements = requirements.filter(version__in=latest_versions())
    return requirements.order_by("version__framework__slug", "version__number", "order")


# --- statement of applicability and addressable decisions ---------------------------------------------------------

APPLICABILITY_STATES = {"applicable": "Applicable", "not_applicable": "Not applicable", "undecided": "Undecided"}


def applicability_rows(*, version: CatalogVersion, state: str = "", q: str = "") -> QuerySet[Requirement]:
    """The version's requirements in tree order with their applicability (``requirement.applicability`` or none
    yet), narrowed to one state (applicable, not_applicable, undecided) and a text in citation or title."""
    rows = version.requirements.select_related("applicability__decided_by").order_by("order")
    if state == "applicable":
        rows = rows.filter(applicability__applicable=True)
    elif state == "not_applicable":
        rows = rows.filter(applicability__applicable=False)
    elif state == "undecided":
        rows = rows.filter(applicability__isnull=True)
    if q:
        rows = rows.filter(Q(citation__icontains=q) | Q(title__icontains=q))
    return rows


def applicability_counts(*, version: CatalogVersion) -> dict[str, int]:
    """How many of the version's requirements are applicable, not applicable and undecided."""
    counts = version.requirements.aggregate(
        applicable=Count("id", filter=Q(applicability__applicable=True)),
        not_applicable=Count("id", filter=Q(applicability__applicable=False)),
        undecided=Count("id", filter=Q(applicability__isnull=True)),
    )
    return counts


def addressable_specifications(*, outcome: str = "", q: str = "") -> QuerySet[Requirement]:
    """The newest HIPAA catalog's addressable implementation specifications with their decision (or none yet),
    narrowed to one outcome (or ``undecided``) and a text in citation or title."""
    rows = Requirement.objects.filter(
        version__in=latest_versions().filter(framework__slug="hipaa"),
        kind=RequirementKind.IMPLEMENTATION_SPECIFICATION, implementation=Implementation.ADDRESSABLE,
    ).select_related("addressable_decision__decided_by", "parent", "version__framework").order_by("order")
    if outcome == "undecided":
        rows = rows.filter(addressable_decision__isnull=True)
    elif outcome:
        rows = rows.filter(addressable_decision__outcome=outcome)
    if q:
        rows = rows.filter(Q(citation__icontains=q) | Q(title__icontains=q))
    return rows


# --- the security plan ----------------------------------------------------------------------------------------


def plan_versions() -> QuerySet[PlanVersion]:
    """Every version, newest first, with its stakeholders and sign-offs loaded and counted."""
    return PlanVersion.objects.select_related("created_by").prefetch_related(
        "stakeholders", Prefetch("signoffs", queryset=PlanSignoff.objects.select_related("person", "signed_by")),
    ).annotate(
        stakeholder_count=Count("stakeholders", distinct=True), signoff_count=Count("signoffs", distinct=True)
    ).order_by("-number")


def plan_in_force() -> PlanVersion | None:
    """The newest version every one of its stakeholders signed off."""
    return plan_versions().filter(stakeholder_count__gt=0, signoff_count=F("stakeholder_count")).first()


def plan_version_get(*, number: int) -> PlanVersion:
    """A version by number, with what ``plan_versions`` loads; 404 when there is none."""
    return get_object_or_404(plan_versions(), number=number)


def plan_diff(*, old: PlanVersion | None, new: PlanVersion, sections) -> list[dict]:
    """Each section of ``new`` against ``old``: ``{"section", "changed", "lines": [(op, text)]}`` where op is
    "same", "added" or "removed", line by line, so a reader sees exactly what a sign-off now covers."""
    out = []
    for section in sections:
        before = getattr(old, section.field).splitlines() if old is not None else []
        after = getattr(new, section.field).splitlines()
        lines: list[tuple[str, str]] = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
            if op == "equal":
                lines.extend(("same", text) for text in before[i1:i2])
                continue
            lines.extend(("removed", text) for text in before[i1:i2])
            lines.extend(("added", text) for text in after[j1:j2])
        out.append({"section": section, "changed": before != after, "lines": lines})
    return out


# --- exceptions ---------------------------------------------------------------------------------------------------


def exception_list(*, status: str = "", framework: str = "") -> QuerySet[RiskException]:
    """Exceptions, newest first, with what they cover and who asked and decided; narrowed by status and the
    framework of their requirement."""
    rows = RiskException.objects.select_related(
        "requirement__version__framework", "control", "requested_by", "decided_by"
    ).order_by("-requested_at", "-id")
    if status:
        rows = rows.filter(status=status)
    if framework:
        rows = rows.filter(requirement__version__framework__slug=framework)
    return rows

