"""Read queries on sources, scan runs and VMs, shared by pages, the API and later evidence.

Every list here carries the ``select_related`` / annotations its pages need, so
a page or an API list costs the same number of queries for 3 VMs or 10,000.
"""

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, When
from django.urls import reverse
from django.utils import timezone

from inventory.choices import (
    ChangeKind,
    Decision,
    FindingState,
    PolicyKind,
    RequestState,
    Sanction,
    ScanStatus,
    VMStatus,
)
from inventory.models import (
    ActionBatch,
    AreaMapping,
    Baseline,
    Cluster,
    Datacenter,
    DeploymentApproval,
    DeploymentRequest,
    Finding,
    Host,
    Policy,
    PolicyVersion,
    ScanRun,
    Source,
    VirtualMachine,
    VMChange,
)
from portal.choices import Role
from portal.models import AuditEvent, Person, User
from portal.selectors import person_for_user, person_subtree

# Lineage lists are capped: a template may have deployed thousands of VMs, and the
# VM page shows the first ones with a link to the filtered list for the rest.
LINEAGE_LIMIT = 50
# Above this many hosts the VM list's host select only offers the chosen cluster's
# hosts: a select of thousands of options is slow to render and useless to scroll.
HOST_SELECT_LIMIT = 500


# Roles that see the whole estate; anybody else sees the VMs of their part of the organisation.
ESTATE_WIDE_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.AUDITOR, Role.ADMIN})
# How a mapping's pattern selects VMs, in any case: a cluster or resource pool name, or the start of a folder path.
AREA_LOOKUPS = {
    AreaMapping.Scope.CLUSTER: "cluster__name__istartswith",
    AreaMapping.Scope.FOLDER: "folder__istartswith",
    AreaMapping.Scope.RESOURCE_POOL: "resource_pool__istartswith",
}
NOTHING = Q(pk__in=[])


def area_mapping_list() -> QuerySet[AreaMapping]:
    return AreaMapping.objects.select_related("person").order_by("scope", "pattern")


def vm_in_areas_q(mappings: Iterable[AreaMapping]) -> Q:
    """VMs under any of ``mappings``; none when there is no mapping."""
    condition = NOTHING
    for mapping in mappings:
        condition |= Q(**{AREA_LOOKUPS[mapping.scope]: mapping.pattern})
    return condition


def vm_attributed_q(person: Person) -> Q:
    """The VMs inventory attributes to one person's own area: they own it, or it is unowned under their mappings."""
    return Q(owner=person) | (Q(owner__isnull=True) & vm_in_areas_q(AreaMapping.objects.filter(person=person)))


def vm_scope_q(user: User) -> Q | None:
    """What of the estate ``user`` may read: None (all of it) for ``ESTATE_WIDE_ROLES``; for anybody else the VMs
    of their subtree, owned by somebody in it or under an area mapped to somebody in it; nothing for a login
    with no person."""
    if user.has_role(*ESTATE_WIDE_ROLES):
        return None
    person = person_for_user(user=user)
    if person is None:
        return NOTHING
    subtree = person_subtree(person=person).values("pk")
    return Q(owner__in=subtree) | vm_in_areas_q(AreaMapping.objects.filter(person__in=subtree))


def vm_scoped(queryset: QuerySet, user: User, *, prefix: str = "") -> QuerySet:
    """``queryset`` cut to what ``user`` may read; ``prefix`` is the path to the VM (``"vm__"`` for changes)."""
    condition = vm_scope_q(user)
    if condition is None:
        return queryset
    if prefix:
        return queryset.filter(**{f"{prefix}in": VirtualMachine.objects.filter(condition)})
    return queryset.filter(condition)


def vm_list(*, user: User | None = None) -> QuerySet[VirtualMachine]:
    """VMs (those ``user`` may read, when given) with the names a list shows (source, datacenter, cluster, host)."""
    vms = VirtualMachine.objects.select_related("source", "datacenter", "cluster", "host").order_by("name", "id")
    return vm_scoped(vms, user) if user is not None else vms


def vm_detail(*, user: User | None = None) -> QuerySet[VirtualMachine]:
    """The VM page's queryset: the list's joins plus its owner, last scan and lineage parents."""
    return vm_list(user=user).select_related("owner", "last_scan", "cloned_from", "template")


def vm_history(*, vm: VirtualMachine) -> QuerySet[VMChange]:
    """The VM's timeline, newest first, with the scan run and user each entry links to."""
    return VMChange.objects.filter(vm=vm).select_related("scan_run", "user").order_by("-at", "-id")


@dataclass
class Lineage:
    """Where a VM comes from and what came from it. Lists hold at most ``LINEAGE_LIMIT`` VMs; ``*_count`` all."""

    parent: VirtualMachine | None = None
    template: VirtualMachine | None = None
    siblings: list[VirtualMachine] = field(default_factory=list)
    siblings_count: int = 0
    children: list[VirtualMachine] = field(default_factory=list)
    children_count: int = 0
    deployed: list[VirtualMachine] = field(default_factory=list)
    deployed_count: int = 0

    @property
    def empty(self) -> bool:
        return not (self.parent or self.template or self.children or self.deployed)


def _capped(queryset: QuerySet[VirtualMachine], user: User | None) -> tuple[list[VirtualMachine], int]:
    """The first ``LINEAGE_LIMIT`` VMs ``user`` may read and how many there are; counts only on overflow."""
    if user is not None:
        queryset = vm_scoped(queryset, user)
    rows = list(queryset.select_related("host").order_by("name", "id")[: LINEAGE_LIMIT + 1])
    if len(rows) <= LINEAGE_LIMIT:
        return rows, len(rows)
    return rows[:LINEAGE_LIMIT], queryset.count()


def vm_lineage(*, vm: VirtualMachine, user: User | None = None) -> Lineage:
    """Parent (the VM it was cloned from), siblings (other clones of that parent), children (its clones),
    the template it was deployed from and, for a template, the VMs deployed from it; of those, only the ones
    ``user`` may read. At most 4 queries."""
    lineage = Lineage(parent=vm.cloned_from, template=vm.template)
    parents = [pk for pk in (vm.cloned_from_id, vm.template_id) if pk]
    if user is not None and parents:
        readable = set(vm_scoped(VirtualMachine.objects.filter(pk__in=parents), user).values_list("pk", flat=True))
        lineage.parent = vm.cloned_from if vm.cloned_from_id in readable else None
        lineage.template = vm.template if vm.template_id in readable else None
    if vm.cloned_from_id:
        lineage.siblings, lineage.siblings_count = _capped(
            VirtualMachine.objects.filter(cloned_from_id=vm.cloned_from_id).exclude(pk=vm.pk), user
        )
    lineage.children, lineage.children_count = _capped(VirtualMachine.objects.filter(cloned_from=vm), user)
    if vm.is_template:
        lineage.deployed, lineage.deployed_count = _capped(VirtualMachine.objects.filter(template=vm), user)
    return lineage


def vm_filter_choices(*, cluster_id: int | None = None) -> dict:
    """What the VM list's selects offer. Hosts are all listed up to ``HOST_SELECT_LIMIT``, above it only
    the chosen cluster's (``hosts_capped`` tells the page to say so). Five queries whatever the estate."""
    hosts = Host.objects.select_related("source").order_by("name", "id")
    host_count = hosts.count()
    hosts_capped = host_count > HOST_SELECT_LIMIT
    if hosts_capped:
        hosts = hosts.filter(cluster_id=cluster_id) if cluster_id else hosts.none()
    return {
        "sources": source_names(),
        "datacenters": list(Datacenter.objects.select_related("source").order_by("name", "id")),
        "clusters": list(Cluster.objects.select_related("source").order_by("name", "id")),
        "hosts": list(hosts[:HOST_SELECT_LIMIT]),
        "hosts_capped": hosts_capped,
        "tools_statuses": list(
            VirtualMachine.objects.exclude(tools_status="").order_by("tools_status")
            .values_list("tools_status", flat=True).distinct()
        ),
    }


def _latest_scan(column: str) -> Subquery:
    runs = ScanRun.objects.filter(source=OuterRef("pk")).order_by("-started_at", "-id")
    return Subquery(runs.values(column)[:1])


def source_names() -> list[str]:
    return list(Source.objects.order_by("name").values_list("name", flat=True))


def source_list() -> QuerySet[Source]:
    """Sources with their VM counts by status and their latest scan run, in one query."""
    return Source.objects.annotate(
        vm_count=Count("vms"),
        vms_present=Count("vms", filter=Q(vms__status=VMStatus.PRESENT)),
        vms_missing=Count("vms", filter=Q(vms__status=VMStatus.MISSING)),
        vms_removed=Count("vms", filter=Q(vms__status=VMStatus.REMOVED)),
        latest_scan_id=_latest_scan("id"),
        latest_scan_status=_latest_scan("status"),
        latest_scan_started_at=_latest_scan("started_at"),
        latest_scan_finished_at=_latest_scan("finished_at"),
    ).order_by("name")


def scan_run_list() -> QuerySet[ScanRun]:
    """Scan runs, newest first, with their source and the user who asked for them."""
    return ScanRun.objects.select_related("source", "requested_by").order_by("-started_at", "-id")


def scan_run_changes(*, run: ScanRun, user: User | None = None) -> QuerySet[VMChange]:
    """The history entries a scan run recorded (of the VMs ``user`` may read, when given), with their VM."""
    changes = VMChange.objects.filter(scan_run=run).select_related("vm", "user").order_by("vm__name", "vm_id", "id")
    return vm_scoped(changes, user, prefix="vm__") if user is not None else changes


def source_running_scan(*, source: Source) -> ScanRun | None:
    return ScanRun.objects.filter(source=source, status=ScanStatus.RUNNING).order_by("-started_at").first()


def source_latest_scan(*, source: Source) -> ScanRun | None:
    """The run the progress block shows: the one running, else the last one."""
    return source_running_scan(source=source) or scan_run_list().filter(source=source).first()


def dashboard_cards(*, user) -> list[dict]:
    """The inventory's figures on the dashboard, of the VMs the user may read: VMs by status, copies, scans."""
    counts = vm_scoped(VirtualMachine.objects.all(), user).aggregate(
        present=Count("id", filter=Q(status=VMStatus.PRESENT)),
        missing=Count("id", filter=Q(status=VMStatus.MISSING)),
        copied=Count("id", filter=Q(copied=True)),
        unapproved=Count("id", filter=Q(status=VMStatus.PRESENT, sanction=Sanction.UNAPPROVED)),
    )
    last = ScanRun.objects.select_related("source").order_by("-started_at").first()
    failing = ScanRun.objects.filter(
        pk__in=Subquery(
            ScanRun.objects.filter(source=OuterRef("source")).order_by("-started_at").values("pk")[:1]
        ),
        status__in=[ScanStatus.FAILED, ScanStatus.PARTIAL],
    ).count()
    vm_url = reverse("inventory:vm_list")
    cards = []
    if user.has_role(Role.SECURITY_ADMIN):
        waiting = deployment_requests_to_review_count(user)
        cards.append({"label": "Requests to review", "value": waiting, "url": reverse("inventory:request_review"),
                      "note": "deployment requests waiting for your vote", "priority": 0 if waiting else 1})
    return cards + [
        {"label": "VMs present", "value": counts["present"], "url": vm_url + "?status=missing",
         "note": f"{counts['missing']} missing from their last scan"},
        {"label": "Unapproved VMs", "value": counts["unapproved"],
         "url": vm_url + "?status=present&sanction=unapproved",
         "note": "running without a recorded approval"},
        {"label": "Copied VMs", "value": counts["copied"], "url": vm_url + "?copied=true",
         "note": "share a BIOS UUID with another live VM"},
        {"label": "Last scan", "value": last.get_status_display() if last else "never",
         "url": reverse("inventory:scan_list"),
         "note": (f"{last.source} · {last.started_at:%Y-%m-%d %H:%M}" if last else "add a source to start")
         + (f" · {failing} source(s) failing" if failing else "")},
    ]


# -- policies and findings -------------------------------------------------------------------------------------

# Days a finding of each kind may stay open or acknowledged before it is overdue: what the security team
# commits to (a rogue or copied VM is a possible breach; a dormant one a cleanup).
FINDING_SLA_DAYS = {
    PolicyKind.ROGUE: 7, PolicyKind.COPIED: 7, PolicyKind.EXPORTED: 3, PolicyKind.EXPIRED: 14,
    PolicyKind.RUNNING_BUT_DECOMMISSIONED: 14, PolicyKind.OFF_BASELINE: 30, PolicyKind.UNPATCHED: 30,
    PolicyKind.DORMANT: 30, PolicyKind.UNDECLARED: 30,
}
UNRESOLVED_STATES = (FindingState.OPEN, FindingState.ACKNOWLEDGED, FindingState.EXCEPTED)
# Weeks of opened / resolved counts the dashboard's trend shows.
TREND_WEEKS = 8


def finding_list(*, user: User) -> QuerySet[Finding]:
    """Findings ``user`` may read (managers: of their subtree's VMs), with what the queue shows."""
    findings = Finding.objects.select_related("vm", "vm__source", "policy", "assigned_to").order_by("-opened_at", "-id")
    return vm_scoped(findings, user, prefix="vm__")


def finding_sla_overdue(finding: Finding, now: datetime.datetime) -> bool:
    return (finding.state in (FindingState.OPEN, FindingState.ACKNOWLEDGED)
            and (now - finding.opened_at).days > FINDING_SLA_DAYS[finding.kind])


def finding_history(*, finding: Finding) -> QuerySet[VMChange]:
    """The VM's timeline entries about this finding (opened, changed, vCenter actions on it)."""
    return (VMChange.objects.filter(vm_id=finding.vm_id, kind__in=(
        ChangeKind.FINDING_OPENED, ChangeKind.FINDING_CHANGED, ChangeKind.VCENTER_ACTION))
        .filter(new__finding=finding.pk).select_related("user").order_by("-at", "-id"))


def policy_list() -> QuerySet[Policy]:
    return Policy.objects.select_related("updated_by").annotate(
        unresolved=Count("findings", filter=Q(findings__state__in=UNRESOLVED_STATES)),
    ).order_by("kind", "name")


def policy_versions(*, policy: Policy) -> QuerySet[PolicyVersion]:
    return policy.versions.select_related("changed_by").order_by("-version")


def baseline_list() -> QuerySet[Baseline]:
    return Baseline.objects.select_related("updated_by").annotate(rule_count=Count("rules")).order_by("name")


def action_batch_list() -> QuerySet[ActionBatch]:
    return ActionBatch.objects.select_related("policy", "proposed_by", "confirmed_by").annotate(
        vm_count=Count("attempts")).order_by("-proposed_at", "-id")


def findings_dashboard(*, user: User, now: datetime.datetime | None = None) -> dict:
    """Counts by kind and state, overdue ones, and opened / resolved per week: four queries."""
    now = now or timezone.now()
    findings = vm_scoped(Finding.objects.all(), user, prefix="vm__")
    counts = {(kind, state): n for kind, state, n in findings.order_by().values("kind", "state").annotate(
        n=Count("id")).values_list("kind", "state", "n")}
    overdue_q = Q()
    for kind, days in FINDING_SLA_DAYS.items():
        overdue_q |= Q(kind=kind, opened_at__lt=now - datetime.timedelta(days=days))
    overdue = dict(findings.filter(overdue_q, state__in=(FindingState.OPEN, FindingState.ACKNOWLEDGED))
                   .order_by().values("kind").annotate(n=Count("id")).values_list("kind", "n"))
    start = (now - datetime.timedelta(weeks=TREND_WEEKS - 1)).date()
    start -= datetime.timedelta(days=start.weekday())
    opened = Counter(timezone.localdate(at).isocalendar()[:2] for at in findings.filter(
        opened_at__date__gte=start).values_list("opened_at", flat=True))
    resolved = Counter(timezone.localdate(at).isocalendar()[:2] for at in findings.filter(
        resolved_at__date__gte=start).values_list("resolved_at", flat=True))
    weeks = [start + datetime.timedelta(weeks=n) for n in range(TREND_WEEKS)]
    rows = [{"kind": kind, "label": label, "sla": FINDING_SLA_DAYS[kind], "overdue": overdue.get(kind, 0),
             **{state: counts.get((kind, state), 0) for state in FindingState.values}}
            for kind, label in PolicyKind.choices]
    trend = [{"week": week, "opened": opened.get(week.isocalendar()[:2], 0),
              "resolved": resolved.get(week.isocalendar()[:2], 0)} for week in weeks]
    peak = max([1, *(max(row["opened"], row["resolved"]) for row in trend)])
    return {"rows": rows, "trend": trend, "peak": peak,
            "totals": {state: sum(row[state] for row in rows) for state in FindingState.values},
            "overdue": sum(overdue.values())}


def vm_panels(*, vm, user: User) -> list[dict]:
    """The VM page's "Findings" panel (see ``portal.selectors.app_vm_panels``): its unresolved findings as badges,
    and how many were resolved."""
    findings = list(Finding.objects.filter(vm=vm).select_related("policy").order_by("state", "-opened_at"))
    return [{
        "title": "Findings",
        "template": "inventory/findings/_vm_panel.html",
        "unresolved": [f for f in findings if f.state != FindingState.RESOLVED],
        "resolved": sum(1 for f in findings if f.state == FindingState.RESOLVED),
    }]


# --- deployment requests ------------------------------------------------------------------------------------------

# Roles that read every deployment request; anybody else reads those filed by, or for, their part of the organisation.
REQUEST_WIDE_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.AUDITOR, Role.ADMIN})


def deployment_request_scope_q(user: User) -> Q | None:
    """None (all of them) for ``REQUEST_WIDE_ROLES``; otherwise the requests the user filed, and those whose
    requester or owner is in their subtree."""
    if user.has_role(*REQUEST_WIDE_ROLES):
        return None
    person = person_for_user(user=user)
    if person is None:
        return Q(requested_by=user)
    subtree = person_subtree(person=person).values("pk")
    return Q(requested_by=user) | Q(requester__in=subtree) | Q(owner__in=subtree)


def deployment_request_list(*, user: User | None = None) -> QuerySet[DeploymentRequest]:
    """Requests (those ``user`` may read, when given), newest first, with the people, the VM and the approvals
    count a list shows: one query whatever the number of rows."""
    requests = DeploymentRequest.objects.select_related("requester", "owner", "vm", "requested_by").annotate(
        approvals_count=Count("approvals", filter=Q(approvals__decision=Decision.APPROVE)),
    ).order_by("-created_at", "-id")
    if user is None:
        return requests
    condition = deployment_request_scope_q(user)
    return requests if condition is None else requests.filter(condition)


def deployment_request_review_queue(*, user: User) -> QuerySet[DeploymentRequest]:
    """Submitted requests waiting for security admins, oldest first, marked with whether ``user`` voted already."""
    return (
        deployment_request_list(user=user).filter(state=RequestState.SUBMITTED)
        .annotate(voted=Exists(DeploymentApproval.objects.filter(request=OuterRef("pk"), approver=user)))
        .order_by("submitted_at", "id")
    )


def deployment_request_approvals(*, request: DeploymentRequest) -> QuerySet[DeploymentApproval]:
    return request.approvals.select_related("approver").order_by("at", "id")


def deployment_request_history(*, request: DeploymentRequest) -> QuerySet[AuditEvent]:
    """The request's audit events, oldest first: what happened to it, who did it, when."""
    return AuditEvent.objects.filter(
        object_type=DeploymentRequest._meta.label_lower, object_id=str(request.pk)
    ).select_related("actor").order_by("sequence")


def vm_deployment_requests(*, vm: VirtualMachine) -> list[DeploymentRequest]:
    """The requests linked to a VM, the one that holds it first."""
    return list(
        DeploymentRequest.objects.filter(vm=vm).select_related("owner").order_by(
            Case(When(state__in=[RequestState.APPROVED, RequestState.FULFILLED], then=0), default=1), "-id"
        )
    )


def deployment_request_counts(*, user: User) -> dict[str, int]:
    """Requests the user may read, by state."""
    requests = DeploymentRequest.objects.all()
    condition = deployment_request_scope_q(user)
    if condition is not None:
        requests = requests.filter(condition)
    return dict(requests.order_by().values_list("state").annotate(n=Count("id")))


def deployment_requests_to_review_count(user: User) -> int:
    """Submitted requests waiting for this security admin's vote (not their own, not voted yet)."""
    if not user.has_role(Role.SECURITY_ADMIN):
        return 0
    return (
        DeploymentRequest.objects.filter(state=RequestState.SUBMITTED)
        .exclude(requested_by=user).exclude(requester__user=user).exclude(approvals__approver=user).count()
    )


def navigation_badges(*, user: User) -> dict:
    """The counts beside "Requests" and, for security admins, "Findings" (their queue: open findings) in the
    navigation (see ``portal.selectors.app_navigation_badges``)."""
    badges = {"inventory:request_list": lambda: deployment_requests_to_review_count(user)}
    if user.has_role(Role.SECURITY_ADMIN):
        badges["inventory:finding_list"] = lambda: Finding.objects.filter(state=FindingState.OPEN).count()
    return badges
