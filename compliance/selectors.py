"""Read queries of the compliance catalogs: frameworks with their latest version, a version's requirement tree.

Every list here is a fixed number of queries whatever its length: counts are aggregated in the database and
mappings come by prefetch.
"""

import datetime
import difflib
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from compliance.choices import (
    ControlTestStatus,
    EvaluationBasis,
    EvaluationStatus,
    ExceptionStatus,
    FrameworkKind,
    Implementation,
    PackState,
    RequirementKind,
    RollUpStatus,
    Scope,
)
from compliance.evaluators.specs import SCOPE_CATEGORIES
from compliance.models import (
    CatalogVersion,
    Control,
    ControlEvaluation,
    ControlMapping,
    ControlTest,
    EvaluationRun,
    Evidence,
    EvidencePack,
    EvidenceRequest,
    Framework,
    FrameworkGrant,
    Mapping,
    PlanSignoff,
    PlanVersion,
    Requirement,
    RiskException,
)
from compliance.services.catalogs import HUB_SLUG
from inventory.selectors import policy_list
from portal.choices import COMPLIANCE_ROLES, Role
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


# --- The control library and its evaluations -------------------------------------------------------------------

# A requirement's status from the controls mapped to it: the worst of theirs (deficient, then not evaluated, then
# excepted: a risk knowingly accepted is not a deficiency, but it is not met either).
STATUS_ORDER = (RollUpStatus.DEFICIENT, RollUpStatus.NOT_EVALUATED, RollUpStatus.EXCEPTED, RollUpStatus.EFFECTIVE)
# Rows that only group others (a CFR section, an 800-53 family, an ITGC domain): not counted in roll-ups.
STRUCTURAL_KINDS = frozenset({RequirementKind.SECTION, RequirementKind.FAMILY, RequirementKind.DOMAIN})
# Points a control page's chart and table show: a year of daily runs.
HISTORY_LIMIT = 400


def framework_scope(slug: str) -> str:
    """The scope a framework's statuses count: its VMs by data category (HIPAA, SOX, GLBA), else the estate."""
    return slug if slug in SCOPE_CATEGORIES else Scope.ESTATE


def day_end(day: datetime.date) -> datetime.datetime:
    """The last moment of a day in the portal's time zone: "status on 3 March" counts evaluations up to then."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.max))


def latest_evaluations(*, at: datetime.datetime | None = None, control: Control | None = None) -> QuerySet:
    """The newest evaluation of each control and scope (at or before ``at``), in one query."""
    evaluations = ControlEvaluation.objects.all()
    if at is not None:
        evaluations = evaluations.filter(evaluated_at__lte=at)
    if control is not None:
        evaluations = evaluations.filter(control=control)
    ranked = evaluations.annotate(
        rank=Window(RowNumber(), partition_by=[F("control_id"), F("scope")],
                    order_by=[F("evaluated_at").desc(), F("id").desc()])
    )
    return ranked.filter(rank=1)


def _status_for(by_scope: dict[str, ControlEvaluation], scope: str) -> ControlEvaluation | None:
    """A control's evaluation for a scope, falling back on the estate's for metrics that are not per scope."""
    return by_scope.get(scope) or by_scope.get(Scope.ESTATE)


def control_list(*, at: datetime.datetime | None = None, include_retired: bool = False) -> list[Control]:
    """The library in code order, each control with ``latest`` (scope → its newest evaluation at ``at``),
    ``estate`` (the whole estate's) and ``mapping_list``. Three queries whatever its size."""
    controls = Control.objects.select_related("owner").prefetch_related(
        Prefetch("mappings", queryset=ControlMapping.objects.select_related("framework").order_by("framework__name",
                 "citation"), to_attr="mapping_list")
    ).order_by("code")
    if not include_retired:
        controls = controls.filter(retired_at__isnull=True)
    controls = list(controls)
    by_control: dict[int, dict[str, ControlEvaluation]] = defaultdict(dict)
    for evaluation in latest_evaluations(at=at).only(
        "id", "control_id", "scope", "status", "value", "threshold", "summary", "evaluated_at", "basis", "metric"
    ):
        by_control[evaluation.control_id][evaluation.scope] = evaluation
    for control in controls:
        control.latest = by_control.get(control.pk, {})
        control.estate = _status_for(control.latest, Scope.ESTATE)
        control.scoped = [(scope, _status_for(control.latest, scope)) for scope in SCOPE_CATEGORIES]
    return controls


def control_get(*, code: str) -> Control:
    """A control by code with its owner and mappings (with their catalogs); 404 when there is none."""
    mappings = ControlMapping.objects.select_related("framework", "target__version").order_by(
        "framework__name", "citation"
    )
    return get_object_or_404(
        Control.objects.select_related("owner").prefetch_related(
            Prefetch("mappings", queryset=mappings, to_attr="mapping_list")
        ),
        code=code,
    )


def control_reached_requirements(*, control: Control) -> list[Requirement]:
    """The HIPAA, GLBA and SOX requirements (newest versions) a control reaches through its 800-53 controls or
    directly, in framework and tree order."""
    hub = [m.citation for m in control.mapping_list if m.framework.slug == HUB_SLUG]
    direct = [m.target_id for m in control.mapping_list if m.framework.slug != HUB_SLUG]
    through = Mapping.objects.filter(target__citation__in=hub, requirement__version__in=latest_versions())
    return list(
        Requirement.objects.filter(Q(pk__in=through.values("requirement_id")) | Q(pk__in=direct))
        .select_related("version__framework").order_by("version__framework__name", "order")
    )


def control_history(*, control: Control, scope: str | None = None, limit: int = HISTORY_LIMIT) -> list:
    """The control's evaluations, newest first (of one scope, when given), at most ``limit``."""
    evaluations = control.evaluations.select_related("run").order_by("-evaluated_at", "-id")
    if scope:
        evaluations = evaluations.filter(scope=scope)
    return list(evaluations[:limit])


def evaluation_list() -> QuerySet[ControlEvaluation]:
    """Every evaluation, newest first, with its control: the API's and the export's list."""
    return ControlEvaluation.objects.select_related("control", "run").order_by("-evaluated_at", "-id")


def control_mapping_list() -> QuerySet[ControlMapping]:
    return ControlMapping.objects.select_related("control", "framework", "target__version").order_by(
        "control__code", "framework__name", "citation"
    )


def worst_status(statuses) -> str | None:
    """The status a set of control statuses rolls up to: any deficient one, else any not evaluated, else any
    excepted, else effective; None for an empty set."""
    present = set(statuses)
    return next((status for status in STATUS_ORDER if status in present), None)


@dataclass
class RollUp:
    """A framework's requirements judged from its mapped controls: how many of the requirements with a control
    are effective, deficient, not evaluated or excepted, and how many have no control."""

    effective: int = 0
    deficient: int = 0
    not_evaluated: int = 0
    excepted: int = 0
    unmapped: int = 0

    @property
    def mapped(self) -> int:
        return self.effective + self.deficient + self.not_evaluated + self.excepted

    @property
    def percent_effective(self) -> int | None:
        return round(100 * self.effective / self.mapped) if self.mapped else None

    @property
    def percent_excepted(self) -> int | None:
        return round(100 * self.excepted / self.mapped) if self.mapped else None

    def add(self, status: str | None) -> None:
        if status is None:
            self.unmapped += 1
        else:
            setattr(self, status, getattr(self, status) + 1)


def exceptions_in_force(*, version: CatalogVersion, at: datetime.datetime | None = None) -> tuple[dict, dict]:
    """The exceptions approved and in force at ``at`` (now when None) on controls and on ``version``'s
    requirements: ``({control id: exception id}, {requirement id: exception id})``. An exception expired since
    counts for a moment before its expiry; one approved after ``at`` does not. One query."""
    moment = at or timezone.now()
    in_force = RiskException.objects.filter(
        Q(control__isnull=False) | Q(requirement__version=version),
        status__in=[ExceptionStatus.APPROVED, ExceptionStatus.EXPIRED],
        decided_at__lte=moment, expires_on__gte=timezone.localtime(moment).date(),
    ).order_by("expires_on", "id")
    on_controls: dict[int, int] = {}
    on_requirements: dict[int, int] = {}
    for pk, control_id, requirement_id in in_force.values_list("id", "control_id", "requirement_id"):
        if control_id:
            on_controls.setdefault(control_id, pk)
        else:
            on_requirements.setdefault(requirement_id, pk)
    return on_controls, on_requirements


def framework_rollup(*, version: CatalogVersion, requirements: list[Requirement],
                     at: datetime.datetime | None = None) -> RollUp:
    """Give each requirement of ``requirement_tree`` its controls and status, and each row ``rollup`` (its own and
    its descendants' requirements by status); returns the framework's. Statuses are the controls' newest
    evaluations (at ``at``) for the framework's scope; a control or requirement not effective under an approved
    exception in force at ``at`` is excepted instead, its row's ``exception_id`` the exception's (a requirement's
    own first). Four queries whatever the tree's size."""
    slug = version.framework.slug
    scope = framework_scope(slug)
    controls = {control.pk: control for control in Control.objects.filter(retired_at__isnull=True).only(
        "id", "code", "title", "metric")}
    by_scope: dict[int, dict[str, ControlEvaluation]] = defaultdict(dict)
    for evaluation in latest_evaluations(at=at).only("id", "control_id", "scope", "status", "summary"):
        by_scope[evaluation.control_id][evaluation.scope] = evaluation
    via_hub: dict[str, set[int]] = defaultdict(set)
    direct: dict[str, set[int]] = defaultdict(set)
    for control_id, framework_slug, citation in ControlMapping.objects.values_list(
        "control_id", "framework__slug", "citation"
    ):
        if control_id not in controls:
            continue
        if framework_slug == HUB_SLUG:
            via_hub[citation].add(control_id)
        if framework_slug == slug:
            direct[citation].add(control_id)
    on_controls, on_requirements = exceptions_in_force(version=version, at=at)
    total = RollUp()
    for requirement in requirements:
        own = set(direct.get(requirement.citation, ()))
        if slug != HUB_SLUG:
            for mapping in requirement.mapped_controls:
                own |= via_hub.get(mapping.target.citation, set())
        requirement.controls = []
        requirement.exception_id = None
        for control_id in sorted(own, key=lambda pk: controls[pk].code):
            control = controls[control_id]
            evaluation = _status_for(by_scope.get(control_id, {}), scope)
            control.status = evaluation.status if evaluation else RollUpStatus.NOT_EVALUATED
            if control.status != RollUpStatus.EFFECTIVE and control_id in on_controls:
                control.status = RollUpStatus.EXCEPTED
                requirement.exception_id = requirement.exception_id or on_controls[control_id]
            requirement.controls.append((control, control.status))
        requirement.status = worst_status(status for _, status in requirement.controls)
        if requirement.status in (RollUpStatus.DEFICIENT, RollUpStatus.NOT_EVALUATED) and (
            requirement.pk in on_requirements
        ):
            requirement.status = RollUpStatus.EXCEPTED
        if requirement.pk in on_requirements and requirement.status == RollUpStatus.EXCEPTED:
            requirement.exception_id = on_requirements[requirement.pk]
        elif requirement.status != RollUpStatus.EXCEPTED:
            requirement.exception_id = None
        requirement.rollup = RollUp()
    # Depth-first order: a row's descendants follow it until a row at its depth or above.
    stack: list[Requirement] = []
    for requirement in requirements:
        while stack and stack[-1].depth >= requirement.depth:
            stack.pop()
        stack.append(requirement)
        if requirement.kind in STRUCTURAL_KINDS:
            continue
        for ancestor in stack:
            ancestor.rollup.add(requirement.status)
        total.add(requirement.status)
    for requirement in requirements:
        counted = requirement.rollup.mapped + requirement.rollup.unmapped
        requirement.shows_rollup = bool(requirement.rollup.mapped) and (
            counted > 1 or requirement.kind in STRUCTURAL_KINDS
        )
    return total


# Runs the dashboard's trend shows: about three months of daily runs and the scans between them.
TREND_RUNS = 120


def compliance_trend(*, runs: int = TREND_RUNS) -> dict[str, list[tuple]]:
    """Per scope (estate, HIPAA, SOX, GLBA), the share of automated controls effective in each of the last
    ``runs`` evaluation runs: ``[(evaluated at, percent), ...]``. A framework counts a control's evaluation for its
    scope, or the estate's for a metric that is not per scope. Two queries."""
    recent = list(EvaluationRun.objects.filter(finished_at__isnull=False).order_by("-started_at", "-id")
                  .values_list("id", flat=True)[:runs])
    per_run: dict[int, dict[int, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    moments: dict[int, datetime.datetime] = {}
    for run_id, control_id, scope, status, moment in ControlEvaluation.objects.filter(run_id__in=recent).values_list(
        "run_id", "control_id", "scope", "status", "evaluated_at"
    ):
        per_run[run_id][control_id][scope] = status
        moments[run_id] = moment
    trend: dict[str, list[tuple]] = {scope: [] for scope in (Scope.ESTATE, *SCOPE_CATEGORIES)}
    for run_id in sorted(per_run, key=lambda pk: (moments[pk], pk)):
        controls = per_run[run_id]
        for scope, points in trend.items():
            statuses = [by_scope.get(scope) or by_scope.get(Scope.ESTATE) for by_scope in controls.values()]
            effective = sum(1 for status in statuses if status == EvaluationStatus.EFFECTIVE)
            points.append((moments[run_id], round(100 * effective / len(statuses), 1)))
    return trend


def framework_rollups(*, at: datetime.datetime | None = None) -> list[tuple[Framework, CatalogVersion, RollUp]]:
    """Each regulation's newest version with its roll-up, for the dashboard."""
    rows = []
    for framework in Framework.objects.filter(kind=FrameworkKind.REGULATION).order_by("name"):
        version = framework.versions.select_related("framework").order_by("-number").first()
        if version is not None:
            rollup = framework_rollup(version=version, requirements=requirement_tree(version=version), at=at)
            rows.append((framework, version, rollup))
    return rows


def dashboard_cards(*, user) -> list[dict]:
    """The portal dashboard's compliance card, for those who read control status: automated controls deficient
    across the estate and the frameworks' scopes, by their newest evaluations. One query."""
    if not user.has_role(*COMPLIANCE_ROLES):
        return []
    latest = latest_evaluations().filter(basis=EvaluationBasis.METRIC).values_list("control_id", "status")
    deficient = {control_id for control_id, status in latest if status == EvaluationStatus.DEFICIENT}
    return [{
        "label": "Deficient controls", "value": len(deficient), "url": reverse("compliance:dashboard"),
        "note": "automated controls failing their threshold in the estate or a framework's scope",
    }]


def vm_panels(*, vm, user) -> list[dict]:
    """The VM page's "Compliance scope" panel, for those who read control status: the frameworks its declared
    data categories put it in, each with the automated controls deficient in that scope. One query."""
    if not user.has_role(*COMPLIANCE_ROLES):
        return []
    categories = set(vm.data_categories or [])
    scopes = [scope for scope, category in SCOPE_CATEGORIES.items() if category in categories]
    deficient: dict[str, list[str]] = defaultdict(list)
    if scopes:
        for code, scope in latest_evaluations().filter(
            scope__in=scopes, status=EvaluationStatus.DEFICIENT
        ).order_by("control__code").values_list("control__code", "scope"):
            deficient[scope].append(code)
    labels = dict(Scope.choices)
    return [{
        "title": "Compliance scope",
        "template": "compliance/_vm_scope.html",
        "frameworks": [{"slug": scope, "label": labels[scope], "deficient": deficient[scope]} for scope in scopes],
    }]


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


def exception_list(*, status: str = "", framework: str = "", control: str = "") -> QuerySet[RiskException]:
    """Exceptions, newest first, with what they cover and who asked and decided; narrowed by status, the
    framework of their requirement and the code of their control."""
    rows = RiskException.objects.select_related(
        "requirement__version__framework", "control", "requested_by", "decided_by"
    ).order_by("-requested_at", "-id")
    if status:
        rows = rows.filter(status=status)
    if framework:
        rows = rows.filter(requirement__version__framework__slug=framework)
    if control:
        rows = rows.filter(control__code=control)
    return rows



# --- attestation: the test calendar and evidence ----------------------------------------------------------------

TEST_WINDOWS = {"open": "To do: missed, or due within 30 days", "overdue": "Past due, not recorded",
                "next_30": "Due in the next 30 days", "recorded": "Recorded", "all": "Any time"}


def may_read_control(*, user, control: Control) -> bool:
    """The compliance roles read every control's tests and evidence; anybody else those of the controls they
    own."""
    return user.has_role(*COMPLIANCE_ROLES) or (control.owner is not None and control.owner.user_id == user.pk)


def control_tests_for(*, user, status: str = "", control: str = "", window: str = "",
                      today: datetime.date | None = None) -> QuerySet[ControlTest]:
    """The tests ``user`` may read, by due date, with their control, owner and evidence count; narrowed by
    status, control code and a window (to do, overdue, due in the next 30 days, recorded, any time)."""
    today = today or timezone.localdate()
    tests = ControlTest.objects.select_related("control__owner", "performed_by").annotate(
        evidence_count=Count("evidence_files")
    ).order_by("due_on", "control__code")
    if not user.has_role(*COMPLIANCE_ROLES):
        tests = tests.filter(control__owner__user=user)
    if status:
        tests = tests.filter(status=status)
    if control:
        tests = tests.filter(control__code=control)
    if window == "open":
        tests = tests.filter(Q(status=ControlTestStatus.MISSED) | Q(
            status=ControlTestStatus.SCHEDULED, due_on__lte=today + datetime.timedelta(days=30)))
    elif window == "overdue":
        tests = tests.filter(status__in=[ControlTestStatus.SCHEDULED, ControlTestStatus.MISSED], due_on__lt=today)
    elif window == "next_30":
        tests = tests.filter(status=ControlTestStatus.SCHEDULED, due_on__gte=today,
                             due_on__lte=today + datetime.timedelta(days=30))
    elif window == "recorded":
        tests = tests.exclude(status__in=[ControlTestStatus.SCHEDULED, ControlTestStatus.MISSED])
    return tests


def control_test_get(*, pk: int) -> ControlTest:
    """A test with its control, owner and evidence files (newest version first); 404 when there is none."""
    evidence = Evidence.objects.select_related("uploaded_by").order_by("name", "-version")
    return get_object_or_404(
        ControlTest.objects.select_related("control__owner", "performed_by").prefetch_related(
            Prefetch("evidence_files", queryset=evidence, to_attr="evidence_list")
        ),
        pk=pk,
    )


def evidence_for(*, user) -> QuerySet[Evidence]:
    """The evidence files ``user`` may read, newest first, with their control and test."""
    evidence = Evidence.objects.select_related("control__owner", "test", "uploaded_by").order_by("-uploaded_at",
                                                                                                  "-id")
    if not user.has_role(*COMPLIANCE_ROLES):
        evidence = evidence.filter(control__owner__user=user)
    return evidence


def plan_policies(*, kinds) -> dict[str, list]:
    """The governance policies of these kinds as they stand now, by kind, each with ``settings``: its
    configuration and actions in words (``grace days 7``, ``power off: off``), to show beside the plan's
    standards they enforce. One query."""
    by_kind: dict[str, list] = defaultdict(list)
    for policy in policy_list().filter(kind__in=list(kinds)):
        policy.settings = [*(_setting(key, value) for key, value in sorted(policy.config.items())),
                           *(_setting(key, value) for key, value in sorted(policy.actions.items()))]
        by_kind[policy.kind].append(policy)
    return dict(by_kind)


def _setting(key: str, value) -> str:
    label = key.replace("_", " ")
    if isinstance(value, bool):
        return f"{label}: {'on' if value else 'off'}"
    if isinstance(value, dict) and "enabled" in value:
        return f"{label}: {'on' if value['enabled'] else 'off'}"
    if isinstance(value, list):
        return f"{label}: {', '.join(str(item).replace('_', ' ') for item in value) or 'none'}"
    return f"{label} {value}"


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
