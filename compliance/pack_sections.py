"""The reads of an evidence pack: one selector per section, each returning the tables it prints.

Every table carries what an auditor needs to rely on it (AS 1105.10, information produced by the entity): the
data source, the parameters, when and by whom it was produced, the row count and the SHA-256 of its rows. A
table longer than ``PRINTED_ROWS_MAX`` prints its first rows and goes whole into a spreadsheet attached to the
PDF: WeasyPrint is slow on tables spanning hundreds of pages, and an auditor filters a spreadsheet anyway.

Cells are plain JSON values (text, whole numbers, None) from the start, so the hash of the rows printed, the
hash in the manifest and the hash ``verify_pack`` recomputes from the attached ``evidence.json`` are one hash.
"""

import datetime
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from compliance.charts import evaluation_print_svg, svg_data_uri
from compliance.choices import EvaluationStatus, RollUpStatus, Scope
from compliance.models import (
    Applicability,
    CatalogVersion,
    Control,
    ControlEvaluation,
    ControlTest,
    Evidence,
    Framework,
    RiskException,
)
from compliance.selectors import STRUCTURAL_KINDS, framework_rollup, framework_scope, requirement_tree
from inventory.choices import (
    ChangeKind,
    FindingState,
    PolicyKind,
    PowerState,
    RequestState,
    Sanction,
    ScanStatus,
    VMStatus,
)
from inventory.models import DeploymentApproval, DeploymentRequest, Finding, Source, VirtualMachine, VMChange
from portal.exports import Export, ExportColumn, export_xlsx_bytes
from portal.models import AuditEvent
from portal.pdf import PdfAttachment
from portal.services.audit import audit_anchor_points, audit_chain_verify
from questionnaires.choices import AssignmentStatus, CampaignStatus, DataCategory, ReconciliationState
from questionnaires.models import Assignment, Campaign, ReconciliationItem

# Rows a table prints in the PDF before the rest goes only to its attachment: a few pages at most.
PRINTED_ROWS_MAX = 40
# Timeline entries shown per sampled VM: the latest of the period, enough to see what happened to it.
TIMELINE_EXCERPT = 5
# The data each regulation is about: a VM handling it is in the framework's scope (45 CFR 164.306, SOX 404, GLBA
# 314.4(c)(2)).
FRAMEWORK_DATA_CATEGORY = {
    "hipaa": DataCategory.EPHI,
    "sox": DataCategory.FINANCIAL_REPORTING,
    "glba": DataCategory.CUSTOMER_FINANCIAL,
}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that every hash of the pack is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _cell(value: Any) -> Any:
    """A cell as a plain JSON value: dates and times as ISO text (UTC), choices and the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class PackContext:
    """What every section is read for: the framework and its catalog version, the period, the as-of date, the
    population in scope and the sample, who produced the pack and when."""

    pack_id: int
    framework: Framework
    version: CatalogVersion | None
    period_start: datetime.date
    period_end: datetime.date
    as_of: datetime.date
    produced_at: datetime.datetime
    produced_by: str
    sample_seed: int
    sample_ids: tuple[int, ...] = ()
    population_ids: tuple[int, ...] = ()

    @property
    def starts(self) -> datetime.datetime:
        return _day_start(self.period_start)

    @property
    def ends(self) -> datetime.datetime:
        """The first moment after the period."""
        return _day_start(self.period_end + datetime.timedelta(days=1))

    @property
    def as_of_end(self) -> datetime.datetime:
        return _day_start(self.as_of + datetime.timedelta(days=1))

    @property
    def category(self) -> str | None:
        return FRAMEWORK_DATA_CATEGORY.get(self.framework.slug)

    def parameters(self, **extra: Any) -> dict[str, str]:
        base = {"framework": self.framework.slug, "period": f"{self.period_start} to {self.period_end}",
                "as of": str(self.as_of)}
        return {**base, **{key: str(value) for key, value in extra.items()}}


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@dataclass
class EvidenceTable:
    """One table of the pack with its provenance; ``attachment`` names the spreadsheet holding every row when
    the PDF prints only the first ``PRINTED_ROWS_MAX``."""

    key: str
    title: str
    source: str
    columns: list[str]
    rows: list[list[Any]]
    parameters: dict[str, str]
    produced_at: datetime.datetime
    produced_by: str
    attachment: str = ""
    printed: bool = True  # False: only in the attachment (the population)

    def __post_init__(self) -> None:
        self.rows = [[_cell(value) for value in row] for row in self.rows]

    @property
    def sha256(self) -> str:
        return sha256_hex(canonical_json(self.rows))

    @property
    def printed_rows(self) -> list[list[Any]]:
        return self.rows if not self.attachment else self.rows[:PRINTED_ROWS_MAX]

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "key": self.key, "title": self.title, "source": self.source, "parameters": self.parameters,
            "produced_at": _cell(self.produced_at), "produced_by": self.produced_by, "rows": len(self.rows),
            "sha256": self.sha256, "attachment": self.attachment,
        }


@dataclass
class PackSection:
    """A chapter of the pack: its heading (a PDF bookmark and a line of the contents), its template, tables,
    attachments and whatever else its template shows."""

    key: str
    title: str
    template: str
    tables: list[EvidenceTable] = field(default_factory=list)
    attachments: list[PdfAttachment] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def table(self, key: str) -> EvidenceTable:
        return next(table for table in self.tables if table.key == key)


def _table(ctx: PackContext, key: str, title: str, source: str, columns: list[str], rows: list[list[Any]],
           section: PackSection | None = None, **parameters: Any) -> EvidenceTable:
    """A table; a long one also becomes an xlsx attachment of ``section`` (through ``portal.exports``)."""
    table = EvidenceTable(key=key, title=title, source=source, columns=columns, rows=rows,
                          parameters=ctx.parameters(**parameters), produced_at=ctx.produced_at,
                          produced_by=ctx.produced_by)
    if section is not None and len(table.rows) > PRINTED_ROWS_MAX:
        table.attachment = f"{key}.xlsx"
        section.attachments.append(_xlsx_attachment(table))
    return table


def _attached(section: PackSection, table: EvidenceTable) -> EvidenceTable:
    """A table printed nowhere but attached whole as ``<key>.xlsx``, however short."""
    table.attachment, table.printed = f"{table.key}.xlsx", False
    section.attachments.append(_xlsx_attachment(table))
    return table


def _xlsx_attachment(table: EvidenceTable) -> PdfAttachment:
    export = Export(
        title=table.title, filename=table.key, columns=[ExportColumn(label, 22) for label in table.columns],
        rows=table.rows, user=table.produced_by, count=len(table.rows), filters=table.parameters,
        sheet=table.title[:31],
    )
    return PdfAttachment(name=table.attachment, content=export_xlsx_bytes(export),
                         description=f"{table.title}: all {len(table.rows)} rows")


# --- population -------------------------------------------------------------------------------------------------

POPULATION_FIELDS = (
    "id", "name", "source__name", "cluster__name", "power_state", "status", "sanction", "owner__name", "purpose",
    "data_categories", "guest_os", "tools_status", "tools_version", "first_seen", "last_seen", "is_template",
)


def population_scope(*, framework: Framework, period_start: datetime.date, as_of: datetime.date) -> tuple[
        list[dict], Counter]:
    """The VMs in the framework's scope on the period, and the reasons the others are out of it, counted.

    In scope: a VM (not a template) seen by the as-of date, not removed before the period, whose owner declared
    it handles the framework's data category. Data categories are lists in JSON; read once and sorted in Python,
    which also keeps this the same on SQLite and PostgreSQL.
    """
    category = FRAMEWORK_DATA_CATEGORY.get(framework.slug)
    starts, as_of_end = _day_start(period_start), _day_start(as_of + datetime.timedelta(days=1))
    in_scope, out = [], Counter()
    for row in VirtualMachine.objects.order_by("id").values(*POPULATION_FIELDS).iterator(chunk_size=2000):
        if row["is_template"]:
            out["a template, not a running VM"] += 1
        elif row["first_seen"] >= as_of_end:
            out["first seen after the as-of date"] += 1
        elif row["status"] == VMStatus.REMOVED and row["last_seen"] < starts:
            out["removed before the period"] += 1
        elif not row["data_categories"]:
            out["no data category declared by an owner"] += 1
        elif category not in row["data_categories"]:
            out[f"handles no {DataCategory(category).label}" if category else "framework scopes no data"] += 1
        else:
            in_scope.append(row)
    return in_scope, out


def _category_labels(values: list[str]) -> str:
    labels = dict(DataCategory.choices)
    return ", ".join(labels.get(value, value) for value in values)


# --- sections ---------------------------------------------------------------------------------------------------


def section_scope(ctx: PackContext, population: list[dict], out_of_scope: Counter) -> PackSection:
    """Scope: the sources and their last complete scans, the campaigns of the period, the VM population in scope
    by data category, and what is out of scope and why."""
    section = PackSection("scope", "Scope", "compliance/pdf/_tables.html")
    sources = Source.objects.order_by("name").annotate(
        last_complete=Max("scan_runs__finished_at", filter=Q(scan_runs__status=ScanStatus.COMPLETE,
                                                             scan_runs__finished_at__lt=ctx.as_of_end)),
        live_vms=Count("vms", filter=~Q(vms__status=VMStatus.REMOVED), distinct=True),
    )
    section.tables.append(_table(
        ctx, "sources", "Sources and their last complete scans", "inventory.Source, inventory.ScanRun",
        ["Source", "Kind", "Enabled", "Last complete scan", "VMs not removed"],
        [[s.name, s.get_kind_display(), "yes" if s.enabled else "no", s.last_complete or "never", s.live_vms]
         for s in sources], section,
    ))
    campaigns = _period_campaigns(ctx)
    section.tables.append(_table(
        ctx, "campaigns", "Questionnaire campaigns of the period", "questionnaires.Campaign",
        ["Campaign", "Status", "Launched", "Closed", "Due", "Assignments"],
        [[c.name, c.get_status_display(), c.launched_at, c.closed_at, c.due_date, c.assignment_count]
         for c in campaigns], section,
    ))
    by_category = Counter(value for row in population for value in row["data_categories"])
    section.tables.append(_table(
        ctx, "population_by_category", "VMs in scope by data category", "inventory.VirtualMachine.data_categories",
        ["Data category", "VMs in scope"],
        [[label, by_category.get(value, 0)] for value, label in DataCategory.choices if by_category.get(value)],
        section, in_scope=f"VMs handling {DataCategory(ctx.category).label}" if ctx.category else "none",
    ))
    section.tables.append(_table(
        ctx, "out_of_scope", "Out of scope, and why", "inventory.VirtualMachine",
        ["Reason", "VMs"], [[reason, count] for reason, count in sorted(out_of_scope.items())], section,
    ))
    not_applicable = Applicability.objects.filter(requirement__version=ctx.version, applicable=False).select_related(
        "requirement", "decided_by").order_by("requirement__order") if ctx.version else []
    section.tables.append(_table(
        ctx, "not_applicable", "Requirements that do not apply, and why", "compliance.Applicability",
        ["Citation", "Title", "Why not", "Decided by", "Decided"],
        [[a.requirement.citation, a.requirement.title, a.justification, str(a.decided_by), a.decided_at]
         for a in not_applicable], section,
    ))
    section.context["in_scope"] = len(population)
    return section


def _period_campaigns(ctx: PackContext) -> list[Campaign]:
    return list(
        Campaign.objects.filter(launched_at__lt=ctx.ends)
        .exclude(status=CampaignStatus.DRAFT)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=ctx.starts))
        .annotate(assignment_count=Count("assignments"))
        .order_by("launched_at", "id")
    )


def section_requirements(ctx: PackContext, population: list[dict], out_of_scope: Counter) -> PackSection:
    """Summary of requirements: every requirement of the framework's catalog version with the 800-53 controls it
    maps to, the library's controls that reach it and its status from their evaluations at the period's end."""
    section = PackSection("requirements", "Summary of requirements", "compliance/pdf/_tables.html")
    rows = []
    if ctx.version is not None:
        requirements = requirement_tree(version=ctx.version)
        rollup = framework_rollup(version=ctx.version, requirements=requirements, at=ctx.ends)
        statuses = dict(RollUpStatus.choices)
        for requirement in requirements:
            rows.append([
                requirement.citation, requirement.title, requirement.get_implementation_display() or "",
                ", ".join(mapping.target.citation for mapping in requirement.mapped_controls),
                ", ".join(control.code for control, _ in requirement.controls),
                statuses.get(requirement.status, "no control") if requirement.kind not in STRUCTURAL_KINDS else "",
            ])
        section.context["rollup"] = rollup
        section.context["controls"] = sorted({control.pk: control for requirement in requirements
                                              for control, _ in requirement.controls}.values(),
                                             key=lambda control: control.code)
    section.tables.append(_table(
        ctx, "requirements", f"{ctx.framework.name} requirements, controls and status",
        "compliance.Requirement, compliance.Mapping, compliance.ControlMapping, compliance.ControlEvaluation",
        ["Citation", "Title", "R/A", "NIST 800-53", "Controls", "Status"], rows,
        catalog_version=ctx.version.number if ctx.version else "none loaded",
        status_at=f"newest evaluation up to the end of {ctx.period_end}, scope {framework_scope(ctx.framework.slug)}",
    ))
    controls = section.context.get("controls", [])
    exceptions = RiskException.objects.filter(
        Q(requirement__version=ctx.version) | Q(control__in=controls), requested_at__lt=ctx.ends,
        expires_on__gte=ctx.period_start).select_related("requirement", "control", "requested_by", "decided_by")
    section.tables.append(_table(
        ctx, "exceptions", "Exceptions (risk acceptances) in force in the period", "compliance.RiskException",
        ["On", "Reason", "Status", "Expires", "Requested by", "Decided by", "Decided"],
        [[e.requirement.citation if e.requirement_id else e.control.code, e.reason, e.get_status_display(),
          e.expires_on, str(e.requested_by), str(e.decided_by) if e.decided_by else "", e.decided_at]
         for e in exceptions.order_by("expires_on", "id")], section,
    ))
    section.context["catalog"] = ctx.version
    return section


# Evaluations of a control printed on its page, newest first; all of the period's are in the attachment.
CONTROL_EVALUATIONS_PRINTED = 5


def section_controls(ctx: PackContext, population: list[dict], out_of_scope: Counter) -> PackSection:
    """A page per control of the library reaching the framework: description, test procedure, its evaluations
    in the period (chart and the latest ones, all of them attached) and the hashed inputs of the latest."""
    section = PackSection("controls", "Controls", "compliance/pdf/_controls.html")
    controls = _framework_controls(ctx)
    scope = framework_scope(ctx.framework.slug)
    evaluations = defaultdict(list)
    for evaluation in ControlEvaluation.objects.filter(
            control__in=controls, evaluated_at__gte=ctx.starts, evaluated_at__lt=ctx.ends,
            scope__in={scope, Scope.ESTATE}).order_by("evaluated_at", "id"):
        evaluations[(evaluation.control_id, evaluation.scope)].append(evaluation)
    tests = defaultdict(list)
    for test in ControlTest.objects.filter(control__in=controls, due_on__gte=ctx.period_start,
                                           due_on__lte=ctx.period_end).select_related("performed_by").order_by(
                                               "due_on", "id"):
        tests[test.control_id].append(test)
    files = defaultdict(list)
    for evidence in Evidence.objects.filter(test__in=[t for ts in tests.values() for t in ts]).select_related(
            "uploaded_by").order_by("uploaded_at", "id"):
        files[evidence.control_id].append(evidence)
    statuses = dict(EvaluationStatus.choices)
    every = []
    pages = []
    for control in controls:
        history = evaluations.get((control.pk, scope)) or evaluations.get((control.pk, Scope.ESTATE), [])
        every += [[control.code, e.evaluated_at, e.get_scope_display(), statuses[e.status], _number(e.value),
                   _number(e.threshold), e.summary] for e in history]
        latest = history[-1] if history else None
        table = _table(
            ctx, f"control-{control.code}", f"{control.code} evaluations", "compliance.ControlEvaluation",
            ["Evaluated", "Scope", "Status", "Value", "Threshold", "Result"],
            [[e.evaluated_at, e.get_scope_display(), statuses[e.status], _number(e.value), _number(e.threshold),
              e.summary] for e in reversed(history[-CONTROL_EVALUATIONS_PRINTED:])],
            control=control.code, shown=f"the latest {CONTROL_EVALUATIONS_PRINTED} of {len(history)} in the period",
        )
        inputs = _table(
            ctx, f"control-{control.code}-inputs", f"{control.code} evidence items of the latest evaluation",
            "compliance.ControlEvaluation.inputs", ["Input", "Rows", "SHA-256 of the rows"],
            [[item.get("name", ""), item.get("row_count"), item.get("sha256", "")]
             for item in (latest.inputs if latest else [])],
            control=control.code, evaluation=latest.pk if latest else "none",
        )
        attested = _table(
            ctx, f"control-{control.code}-tests", f"{control.code} attested tests due in the period",
            "compliance.ControlTest, compliance.Evidence", ["Due", "Status", "Performed by", "Performed", "Note",
                                                            "Evidence files (SHA-256)"],
            [[t.due_on, t.get_status_display(), str(t.performed_by) if t.performed_by else "", t.performed_at,
              t.note, "; ".join(f"{f.name} v{f.version} {f.sha256}" for f in files[control.pk] if f.test_id == t.pk)]
             for t in tests[control.pk]], control=control.code,
        )
        section.tables += [table, inputs, attested]
        chart = svg_data_uri(evaluation_print_svg(history, metric=control.metric)) if control.metric and history else ""
        pages.append({"control": control, "latest": latest, "count": len(history), "chart": chart,
                      "tables": [table, inputs, attested]})
    section.tables.insert(0, _attached(section, _table(
        ctx, "control_evaluations", "Every evaluation of the period", "compliance.ControlEvaluation",
        ["Control", "Evaluated", "Scope", "Status", "Value", "Threshold", "Result"], every, scope=scope,
    )))
    section.context["pages"] = pages
    return section


def _number(value) -> str | None:
    return None if value is None else f"{value.normalize():f}"


def _framework_controls(ctx: PackContext) -> list[Control]:
    """The library's controls reaching the framework's requirements, as the summary of requirements finds them."""
    if ctx.version is None:
        return []
    requirements = requirement_tree(version=ctx.version)
    framework_rollup(version=ctx.version, requirements=requirements, at=ctx.ends)
    ids = {control.pk for requirement in requirements for control, _ in requirement.controls}
    return list(Control.objects.filter(pk__in=ids).select_related("owner").order_by("code"))


def section_inventory(ctx: PackContext, population: list[dict], out_of_scope: Counter) -> PackSection:
    """Inventory and reconciliation: the population's counts, the reconciliation states of the period's
    campaigns, and the timeline of the population in the period by kind of change."""
    section = PackSection("inventory", "Inventory and reconciliation", "compliance/pdf/_tables.html")
    count = Counter()
    for row in population:
        count[("Status", VMStatus(row["status"]).label)] += 1
        count[("Approval", Sanction(row["sanction"]).label)] += 1
        count[("Power state", PowerState(row["power_state"]).label)] += 1
    section.tables.append(_table(
        ctx, "population_counts", "Population counts", "inventory.VirtualMachine",
        ["Measure", "Value", "VMs"], [[measure, value, n] for (measure, value), n in sorted(count.items())],
        section,
    ))
    ids = [row["id"] for row in population]
    campaign_ids = [campaign.pk for campaign in _period_campaigns(ctx)]
    states = Counter()
    items = ReconciliationItem.objects.filter(campaign_id__in=campaign_ids).values_list(
        "campaign__name", "state", "vm_id")
    population_set = set(ids)
    for campaign_name, state, vm_id in items:
        if vm_id is None or vm_id in population_set:
            states[(campaign_name, ReconciliationState(state).label)] += 1
    section.tables.append(_table(
        ctx, "reconciliation_states", "Reconciliation of declared VMs against the inventory",
        "questionnaires.ReconciliationItem", ["Campaign", "State", "Items"],
        [[campaign, state, n] for (campaign, state), n in sorted(states.items())], section,
        scope="items of the population in scope, and declared VMs found nowhere",
    ))
    changes = Counter()
    for kind, vm_id in VMChange.objects.filter(at__gte=ctx.starts, at__lt=ctx.ends).values_list("kind", "vm_id"):
        if vm_id in population_set:
            changes[kind] += 1
    requests = Counter(DeploymentRequest.objects.filter(submitted_at__gte=ctx.starts, submitted_at__lt=ctx.ends)
                       .values_list("state", "retroactive"))
    section.tables.append(_table(
        ctx, "deployment_requests", "Deployment requests submitted in the period", "inventory.DeploymentRequest",
        ["State", "Filed", "Requests"],
        [[RequestState(state).label, "after the VM ran (retroactive)" if retroactive else "before deployment", n]
         for (state, retroactive), n in sorted(requests.items())], section,
    ))
    ages = defaultdict(list)
    for kind, state, vm_id, opened, resolved in Finding.objects.filter(opened_at__lt=ctx.ends).filter(
            Q(resolved_at__isnull=True) | Q(resolved_at__gte=ctx.starts)).values_list(
                "kind", "state", "vm_id", "opened_at", "resolved_at").iterator(chunk_size=5000):
        if vm_id in population_set:
            ages[(kind, state)].append((min(resolved or ctx.ends, ctx.ends) - opened).days)
    section.tables.append(_table(
        ctx, "findings", "Findings on the population in the period, by kind, with age", "inventory.Finding",
        ["Kind", "State now", "Findings", "Oldest (days)", "Average age (days)"],
        [[PolicyKind(kind).label, FindingState(state).label, len(days), max(days), round(sum(days) / len(days))]
         for (kind, state), days in sorted(ages.items())], section,
        age="days from opened to resolved, or to the period's end",
    ))
    section.tables.append(_table(
        ctx, "changes_by_kind", "Changes to the population in the period", "inventory.VMChange",
        ["Kind of change", "Changes"], [[ChangeKind(kind).label, n] for kind, n in sorted(changes.items())], section,
    ))
    return section


def population_rows(population: list[dict]) -> list[list[Any]]:
    return [[row["id"], row["name"], row["source__name"], row["cluster__name"], PowerState(row["power_state"]).label,
             VMStatus(row["status"]).label, Sanction(row["sanction"]).label, row["owner__name"], row["purpose"],
             _category_labels(row["data_categories"]), row["guest_os"], row["tools_status"], row["tools_version"],
             row["first_seen"], row["last_seen"]]
            for row in population]


POPULATION_COLUMNS = ["VM id", "Name", "Source", "Cluster", "Power state", "Status", "Approval", "Owner", "Purpose",
                      "Data categories", "Guest OS", "Tools status", "Tools version", "First seen", "Last seen"]


def sample_evidence(*, vm_ids: list[int], starts: datetime.datetime, ends: datetime.datetime) -> list[dict]:
    """Per sampled VM: approval (its deployment requests and their votes), patch facts, declarations and
    reconciliation, its findings (baseline, patch and the others), and a timeline excerpt of the period; seven
    queries whatever the sample's size."""
    vms = {vm.pk: vm for vm in VirtualMachine.objects.filter(pk__in=vm_ids).select_related("owner", "source")}
    items = defaultdict(list)
    for item in ReconciliationItem.objects.filter(vm_id__in=vm_ids).select_related(
            "campaign", "declarer", "declared_vm").order_by("campaign_id", "id"):
        items[item.vm_id].append(item)
    approvals = defaultdict(list)
    for approval in DeploymentApproval.objects.filter(request__vm_id__in=vm_ids).select_related("approver"):
        approvals[approval.request_id].append(approval)
    requests = defaultdict(list)
    for request in DeploymentRequest.objects.filter(vm_id__in=vm_ids).order_by("created_at", "id"):
        request.approval_list = approvals[request.pk]
        requests[request.vm_id].append(request)
    findings = defaultdict(list)
    for finding in Finding.objects.filter(vm_id__in=vm_ids, opened_at__lt=ends).order_by("opened_at", "id"):
        findings[finding.vm_id].append(finding)
    timeline = defaultdict(list)
    for change in VMChange.objects.filter(vm_id__in=vm_ids, at__gte=starts, at__lt=ends).order_by("-at", "-id"):
        if len(timeline[change.vm_id]) < TIMELINE_EXCERPT:
            timeline[change.vm_id].append(change)
    return [{"vm": vms[pk], "items": items[pk], "timeline": timeline[pk], "requests": requests[pk],
             "findings": findings[pk]}
            for pk in vm_ids if pk in vms]


def section_sampling(ctx: PackContext, population: list[dict], out_of_scope: Counter) -> PackSection:
    """Audit sampling: the whole population as an attached spreadsheet (with its hash in the manifest), and the
    VMs drawn with the recorded seed, each with its evidence."""
    section = PackSection("sampling", "Audit sampling", "compliance/pdf/_sampling.html")
    section.tables.append(_attached(section, _table(
        ctx, "population", "The population in scope", "inventory.VirtualMachine", POPULATION_COLUMNS,
        population_rows(population), in_scope_rule="see Scope")))
    evidence = sample_evidence(vm_ids=list(ctx.sample_ids), starts=ctx.starts, ends=ctx.ends)
    rows = []
    for entry in evidence:
        vm = entry["vm"]
        states = "; ".join(f"{item.campaign.name}: {item.get_state_display()}" for item in entry["items"])
        rows.append([vm.pk, vm.name, vm.get_sanction_display(), vm.owner.name if vm.owner else "",
                     f"{vm.tools_status or 'unknown'} {vm.tools_version}".strip(),
                     states or "in no campaign's reconciliation"])
    section.tables.append(_table(
        ctx, "sample", "The sample", "inventory.VirtualMachine, questionnaires.ReconciliationItem",
        ["VM id", "Name", "Approval", "Owner", "VMware Tools (patch facts)", "Reconciliation"], rows,
        seed=ctx.sample_seed, size=len(ctx.sample_ids), drawn_from=f"{len(population)} VMs in scope, by id",
    ))
    section.context.update(evidence=evidence, seed=ctx.sample_seed, population_count=len(population))
    return section


def section_questionnaires(ctx: PackContext, population: list[dict], out_of_scope: Counter) -> PackSection:
    """Questionnaire completion by org unit (the respondent's department), with every respondent and dates."""
    section = PackSection("questionnaires", "Questionnaire completion", "compliance/pdf/_tables.html")
    campaign_ids = [campaign.pk for campaign in _period_campaigns(ctx)]
    assignments = list(Assignment.objects.filter(campaign_id__in=campaign_ids).select_related(
        "campaign", "person", "reviewed_by").order_by("campaign_id", "person__department", "person__name", "id"))
    done = {AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED}
    units = defaultdict(lambda: [0, 0, 0])
    for assignment in assignments:
        unit = units[(assignment.campaign.name, assignment.person.department or "(no department)")]
        unit[0] += 1
        unit[1] += assignment.status in done
        unit[2] += assignment.status == AssignmentStatus.ACCEPTED
    section.tables.append(_table(
        ctx, "completion_by_unit", "Completion by org unit", "questionnaires.Assignment",
        ["Campaign", "Org unit", "Assignments", "Answered", "Accepted", "Answered %"],
        [[campaign, unit, total, answered, accepted, f"{100 * answered // total} %"]
         for (campaign, unit), (total, answered, accepted) in sorted(units.items())], section,
    ))
    section.tables.append(_table(
        ctx, "respondents", "Respondents", "questionnaires.Assignment",
        ["Campaign", "Org unit", "Respondent", "Status", "Submitted", "Reviewed", "Reviewed by"],
        [[a.campaign.name, a.person.department, a.person.name, a.get_status_display(), a.submitted_at,
          a.reviewed_at, str(a.reviewed_by) if a.reviewed_by else ""] for a in assignments], section,
    ))
    return section


def section_audit_trail(ctx: PackContext, population: list[dict], out_of_scope: Counter) -> PackSection:
    """The audit trail of the period: events by action, the events themselves (attached when long), and the
    result of verifying the whole chain against its anchors."""
    section = PackSection("audit", "Audit trail", "compliance/pdf/_audit.html")
    events = AuditEvent.objects.filter(at__gte=ctx.starts, at__lt=ctx.ends).order_by("sequence")
    by_action = Counter(events.values_list("action", flat=True))
    section.tables.append(_table(
        ctx, "audit_by_action", "Events of the period by action", "portal.AuditEvent", ["Action", "Events"],
        sorted(map(list, by_action.items())), section,
    ))
    section.tables.append(_table(
        ctx, "audit_events", "Events of the period", "portal.AuditEvent",
        ["Sequence", "At", "Actor", "Action", "Object", "Hash"],
        [list(row) for row in events.values_list("sequence", "at", "actor_label", "action", "object_repr", "hash")
         .iterator(chunk_size=5000)], section,
    ))
    anchors = audit_anchor_points()
    verified, chain_break = audit_chain_verify(anchors=anchors)
    section.context.update(
        verified=verified, chain_break=chain_break, anchor=anchors[-1].text if anchors else "",
    )
    return section


# The sections between the contents and the manifest, in the order they print.
SECTIONS = (section_scope, section_requirements, section_controls, section_inventory, section_sampling,
            section_questionnaires, section_audit_trail)
