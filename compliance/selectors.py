"""Read queries of the compliance catalogs: frameworks with their latest version, a version's requirement tree.

Every list here is a fixed number of queries whatever its length: counts are aggregated in the database and
mappings come by prefetch.
"""

import datetime

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from compliance.choices import FrameworkKind, Implementation, PackState, RequirementKind
from compliance.models import (
    CatalogVersion,
    EvidencePack,
    EvidenceRequest,
    Framework,
    FrameworkGrant,
    Mapping,
    Requirement,
)
from portal.choices import Role
from portal.models import User


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


# --- evidence packs ---------------------------------------------------------------------------------------------


def granted_frameworks(user: User) -> QuerySet[Framework]:
    """The frameworks an auditor holds a live grant of, while their access lasts; none for anyone else."""
    if not user.has_role(Role.AUDITOR) or user.access_expired():
        return Framework.objects.none()
    return Framework.objects.filter(grants__auditor=user, grants__revoked_at__isnull=True).distinct()


def packs_visible_to(user: User) -> QuerySet[EvidencePack]:
    """Compliance officers and admins read every pack; an auditor the ready packs of granted frameworks; nobody
    else any. Without the PDF's bytes: lists never load them."""
    packs = EvidencePack.objects.select_related("framework", "built_by").defer("pdf", "manifest")
    if user.has_role(Role.COMPLIANCE_OFFICER, Role.ADMIN):
        return packs
    if user.has_role(Role.AUDITOR):
        return packs.filter(state=PackState.READY, framework__in=granted_frameworks(user))
    return packs.none()


def pack_visible(*, user: User, pk: int, with_pdf: bool = False) -> EvidencePack:
    """A pack the user may read (404 otherwise, so an auditor learns nothing of others' frameworks)."""
    packs = packs_visible_to(user)
    if with_pdf:
        packs = packs.defer(None).select_related("framework", "built_by")
    return get_object_or_404(packs, pk=pk)


def grants_list() -> QuerySet[FrameworkGrant]:
    return FrameworkGrant.objects.select_related("auditor", "framework", "granted_by").order_by(
        "revoked_at", "framework__name", "auditor__username")


def auditors_grantable() -> QuerySet[User]:
    """Logins with the auditor role whose access has an end date still ahead."""
    return User.objects.filter(groups__name=Role.AUDITOR, access_expires_on__gte=datetime.date.today()).order_by(
        "username").distinct()


def evidence_requests_visible_to(user: User) -> QuerySet[EvidenceRequest]:
    """Auditors read the requests of their granted frameworks; compliance officers, security admins and admins
    (who answer them) read all."""
    requests = EvidenceRequest.objects.select_related("framework", "requirement", "vm", "requested_by").annotate(
        response_count=Count("responses"))
    if user.has_role(Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.ADMIN):
        return requests
    if user.has_role(Role.AUDITOR):
        return requests.filter(framework__in=granted_frameworks(user))
    return requests.none()
