"""Findings: opened and resolved by evaluating the policies, acknowledged, excepted and assigned by people.

An evaluation compares what the evaluators find with the unresolved findings: a new breach opens a finding, a
cleared one is resolved with the evidence that it cleared, an exception past its date reopens. Nothing else is
written, so a second evaluation of an unchanged estate changes nothing. Every change is a timeline entry of the
VM and an audit event, written in bulk.
"""

import datetime
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.fields.json import KT
from django.utils import timezone

from inventory.choices import ChangeKind, FindingState, PolicyKind, Sanction, SourceKind, VMStatus
from inventory.models import Finding, Policy, Source, VMChange
from inventory.services.approvals import vm_sanction_refresh
from inventory.services.policies import EstateFacts, estate_facts, policy_evaluate, vm_in_scope
from inventory.signals import policies_evaluated
from portal.db import chunked, rows_insert, rows_update
from portal.models import Person, User
from portal.services.audit import AuditEntry, audit_log_many

# Timeline rows per INSERT when people act on findings in bulk.
CHANGE_WRITE_BATCH_SIZE = 1000
UNRESOLVED = (FindingState.OPEN, FindingState.ACKNOWLEDGED, FindingState.EXCEPTED)
EVALUATION_ACTOR = "system: policy evaluation"
# Any fixed 64-bit number: the advisory lock that lets one evaluation at a time compare and write findings.
EVALUATION_LOCK_KEY = 727_012
# Findings one audit event of an evaluation lists: events stay a readable size, and 10,000 findings opened at once
# make 20 events.
AUDIT_FINDINGS_PER_EVENT = 500


@dataclass
class EvaluationResult:
    """What one evaluation did, per kind, and the findings it opened (for the actions that follow)."""

    opened: Counter = field(default_factory=Counter)
    resolved: Counter = field(default_factory=Counter)
    reopened: Counter = field(default_factory=Counter)
    open_by_kind: dict[str, int] = field(default_factory=dict)
    opened_ids: list[int] = field(default_factory=list)
    vms: int = 0
    sanctions_changed: int = 0

    @property
    def changed(self) -> int:
        return sum(self.opened.values()) + sum(self.resolved.values()) + sum(self.reopened.values())


def _audit_entries(action: str, changed: list[tuple[int, int, int, dict]],
                   policies: dict[int, Policy]) -> list[AuditEntry]:
    """The trail of what an evaluation changed: per policy, one event per ``AUDIT_FINDINGS_PER_EVENT`` findings,
    each listed with its VM and what was seen ((policy, finding, VM, details) in). The findings hold their
    evidence; one event per finding made a first evaluation of a large estate spend most of its time here."""
    by_policy: dict[int, list[dict]] = {}
    for policy_id, finding_id, vm_id, details in changed:
        by_policy.setdefault(policy_id, []).append({"finding": finding_id, "vm": vm_id, **details})
    return [AuditEntry(action, policies[policy_id], {"kind": policies[policy_id].kind, "findings": chunk})
            for policy_id, items in by_policy.items() for chunk in chunked(items, AUDIT_FINDINGS_PER_EVENT)]


# The timeline columns an evaluation writes, with ``rows_insert``.
TIMELINE_COLUMNS = ("vm_id", "kind", "at", "actor", "old", "new")


def _timeline(vm_id: int, kind: str, at: datetime.datetime, old, new) -> tuple:
    """One timeline row of an evaluation (see ``TIMELINE_COLUMNS``), its time as the database stores it."""
    return (vm_id, kind, connection.ops.adapt_datetimefield_value(at), EVALUATION_ACTOR, old, new)


def _resolution(previous: str | None, why: str, now: datetime.datetime) -> dict[str, Any]:
    return {"summary": why, "at": now.isoformat(), "was": previous or ""}


def _vm_gone_reason(status: str) -> str:
    if status == VMStatus.PRESENT:
        return "the VM became a template"
    return f"the VM is {status}: its last scans did not see it"


@transaction.atomic
def findings_evaluate(*, source: Source | None = None, now: datetime.datetime | None = None,
                      facts: EstateFacts | None = None) -> EvaluationResult:
    """Evaluate every enabled policy over the live VMs of ``source`` (all sources when None) and bring the
    findings in line: open, resolve, reopen. Idempotent: an unchanged estate changes nothing."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EVALUATION_LOCK_KEY])
    policies = list(Policy.objects.filter(enabled=True).order_by("id"))
    facts = facts or estate_facts(source=source, now=now, kinds=frozenset(p.kind for p in policies))
    result = EvaluationResult(vms=len(facts.vms))
    live = {vm["id"]: vm for vm in facts.vms}
    unresolved = Finding.objects.filter(policy__in=policies, state__in=UNRESOLVED)
    if source is not None:
        unresolved = unresolved.filter(vm__source=source)
    existing: dict[tuple[int, int], dict] = {
        (row["policy_id"], row["vm_id"]): row for row in unresolved.values(
            "id", "policy_id", "vm_id", "state", "excepted_until", "vm__status", "kind",
            summary=KT("evidence__summary"))
    }
    new: list[tuple[Policy, int, dict]] = []
    resolve: list[tuple[dict, dict]] = []
    reopen: list[dict] = []
    evidence_updates: list[tuple[int, dict]] = []
    for policy in policies:
        found = policy_evaluate(policy, facts)
        for vm_id, evidence in found.items():
            row = existing.get((policy.pk, vm_id))
            if row is None:
                new.append((policy, vm_id, evidence))
                continue
            if row["state"] == FindingState.EXCEPTED and row["excepted_until"] and row["excepted_until"] < today:
                reopen.append(row)
            if row["summary"] != evidence.get("summary"):  # what was seen changed: the evidence follows
                evidence_updates.append((row["id"], evidence))
        for (policy_id, vm_id), row in existing.items():
            if policy_id != policy.pk or vm_id in found:
                continue
            if vm_id not in live:
                why = _vm_gone_reason(row["vm__status"])
            elif not vm_in_scope(policy.scope, live[vm_id]):
                why = "the VM is outside the policy's scope now"
            else:
                why = "the condition cleared at this evaluation"
            resolve.append((row, _resolution(row["summary"], why, now)))
    changes: list[tuple] = []
    audited: dict[str, list[tuple[int, int, int, dict]]] = {"opened": [], "resolved": [], "reopened": []}
    if new:
        for (policy, vm_id, evidence), finding_id in zip(new, _insert_findings(new, now), strict=True):
            result.opened[policy.kind] += 1
            result.opened_ids.append(finding_id)
            changes.append(_timeline(vm_id, ChangeKind.FINDING_OPENED, now, None, {
                "finding": finding_id, "kind": policy.kind, "summary": evidence.get("summary", "")}))
            audited["opened"].append((policy.pk, finding_id, vm_id, {"summary": evidence.get("summary", "")}))
    if resolve:
        rows_update(Finding, ["state", "resolution"], [(row["id"], FindingState.RESOLVED, resolution)
                                                       for row, resolution in resolve])
        for ids in chunked([row["id"] for row, _resolution in resolve]):
            Finding.objects.filter(id__in=ids).update(resolved_at=now, state_changed_at=now)
        for row, resolution in resolve:
            result.resolved[row["kind"]] += 1
            changes.append(_timeline(row["vm_id"], ChangeKind.FINDING_CHANGED, now, {"state": row["state"]}, {
                "finding": row["id"], "kind": row["kind"], "state": FindingState.RESOLVED,
                "summary": resolution["summary"]}))
            audited["resolved"].append((row["policy_id"], row["id"], row["vm_id"], {"summary": resolution["summary"]}))
    if reopen:
        for ids in chunked([row["id"] for row in reopen]):
            Finding.objects.filter(id__in=ids).update(
                state=FindingState.OPEN, state_changed_at=now, excepted_until=None, exception_reason="",
                exception_approver=None)
        for row in reopen:
            result.reopened[row["kind"]] += 1
            changes.append(_timeline(row["vm_id"], ChangeKind.FINDING_CHANGED, now, {"state": FindingState.EXCEPTED}, {
                "finding": row["id"], "kind": row["kind"], "state": FindingState.OPEN,
                "summary": f"exception expired on {row['excepted_until']:%Y-%m-%d}"}))
            audited["reopened"].append((row["policy_id"], row["id"], row["vm_id"],
                                        {"exception_expired": row["excepted_until"].isoformat()}))
    if evidence_updates:
        rows_update(Finding, ["evidence"], evidence_updates)
    rows_insert(VMChange, TIMELINE_COLUMNS, changes)
    by_id = {policy.pk: policy for policy in policies}
    audit = [entry for action, changed in audited.items()
             for entry in _audit_entries(f"findings.{action}", changed, by_id)]
    if audit:
        audit_log_many(entries=audit, actor_label=EVALUATION_ACTOR)
    result.sanctions_changed = _sanctions_refresh(policies, facts, {
        vm_id for action in audited.values() for policy_id, _finding, vm_id, _details in action
        if policy_id in {p.pk for p in policies if p.kind == PolicyKind.OFF_BASELINE}})
    result.open_by_kind = open_counts_by_kind()
    return result


def policies_evaluate(*, source: Source | None = None) -> EvaluationResult:
    """What a scan, the command and the task run: an evaluation, and a second one when the baseline evidence
    changed sanctions (a VM that lost its approval is rogue now). The second finds the first's changes in place.
    Once committed, ``policies_evaluated`` tells the apps that read findings (compliance evaluates its controls)."""
    result = findings_evaluate(source=source)
    if result.sanctions_changed:
        again = findings_evaluate(source=source)
        result.opened += again.opened
        result.resolved += again.resolved
        result.reopened += again.reopened
        result.opened_ids += again.opened_ids
        result.open_by_kind = again.open_by_kind
    transaction.on_commit(lambda: policies_evaluated.send(sender=Finding, result=result))
    return result


def _sanctions_refresh(policies: list[Policy], facts: EstateFacts, changed: set[int]) -> int:
    """Hand the baseline evidence to the VMs' sanction ("not live until securely configured"): of the VMs the
    off-baseline policies judged, those whose evidence can change a sanction (pending ones, waiting for a good
    baseline, and those whose off-baseline finding opened, resolved or reopened now), and which of them have an
    open or acknowledged off-baseline finding. A steady estate refreshes nothing."""
    judging = [policy for policy in policies if policy.kind == PolicyKind.OFF_BASELINE]
    judged = [vm["id"] for vm in facts.vms if vm["source__kind"] == SourceKind.VCENTER
              and (vm["sanction"] == Sanction.PENDING or vm["id"] in changed)
              and any(vm_in_scope(policy.scope, vm) for policy in judging)]
    if not judged:
        return 0
    failing = set(Finding.objects.filter(kind=PolicyKind.OFF_BASELINE, state__in=(
        FindingState.OPEN, FindingState.ACKNOWLEDGED)).values_list("vm_id", flat=True))
    return vm_sanction_refresh(vms=judged, baseline_failing_vm_ids=failing & set(judged))


def _insert_findings(new: list[tuple[Policy, int, dict]], now: datetime.datetime) -> list[int]:
    """Insert the findings an evaluation opens in bulk (COPY on PostgreSQL) and return their ids, in order: a
    first evaluation of a large estate opens tens of thousands."""
    at = connection.ops.adapt_datetimefield_value(now)
    rows_insert(Finding, ("policy_id", "vm_id", "kind", "state", "evidence", "opened_at", "state_changed_at",
                          "exception_reason", "resolution"),
                ((policy.pk, vm_id, policy.kind, FindingState.OPEN, evidence, at, at, "", {})
                 for policy, vm_id, evidence in new))
    ids = dict(((policy_id, vm_id), pk) for pk, policy_id, vm_id in Finding.objects.filter(
        state=FindingState.OPEN, opened_at=now).values_list("pk", "policy_id", "vm_id"))
    return [ids[(policy.pk, vm_id)] for policy, vm_id, _evidence in new]


def open_counts_by_kind() -> dict[str, int]:
    """Unresolved findings per kind, every kind listed (0 when none)."""
    counts = dict(Finding.objects.filter(state__in=UNRESOLVED).order_by().values("kind")
                  .annotate(n=Count("id")).values_list("kind", "n"))
    return {kind: counts.get(kind, 0) for kind in PolicyKind.values}


# -- what people do with findings ------------------------------------------------------------------------------

def _people_change(findings: list[Finding], *, user: User, action: str, state: str | None,
                   details: dict[str, Any], **fields: Any) -> int:
    """Apply ``fields`` (and ``state``) to ``findings``; one timeline entry and one audit event per finding."""
    now = timezone.now()
    ids = [finding.pk for finding in findings]
    update = dict(fields)
    if state is not None:
        update.update(state=state, state_changed_at=now)
    for chunk in chunked(ids):
        Finding.objects.filter(id__in=chunk).update(**update)
    VMChange.objects.bulk_create([
        VMChange(vm_id=finding.vm_id, kind=ChangeKind.FINDING_CHANGED, at=now, user=user, old={"state": finding.state},
                 new={"finding": finding.pk, "kind": finding.kind, "state": state or finding.state,
                      "summary": details.get("summary", "")})
        for finding in findings
    ], batch_size=CHANGE_WRITE_BATCH_SIZE)
    audit_log_many(entries=[AuditEntry(action, finding, {**details, "from": finding.state}) for finding in findings],
                   actor=user)
    return len(findings)


def _unresolved(ids: list[int]) -> list[Finding]:
    return list(Finding.objects.filter(id__in=ids, state__in=UNRESOLVED).select_related("vm").order_by("id"))


@transaction.atomic
def findings_acknowledge(*, ids: list[int], user: User) -> int:
    """Open findings become acknowledged: someone is on it. Others of ``ids`` are left as they are."""
    findings = [f for f in _unresolved(ids) if f.state == FindingState.OPEN]
    return _people_change(findings, user=user, action="finding.acknowledged", state=FindingState.ACKNOWLEDGED,
                          details={"summary": f"acknowledged by {user}"}, acknowledged_by=user)


@transaction.atomic
def findings_except(*, ids: list[int], user: User, until: datetime.date, reason: str) -> int:
    """Unresolved findings are excepted until ``until`` (a future date) for ``reason``, approved by ``user``;
    the evaluation after that date reopens them if the condition still holds."""
    errors = {}
    if until <= timezone.localdate():
        errors["until"] = "must be a date after today"
    if not reason.strip():
        errors["reason"] = "say why the exception is granted"
    if errors:
        raise ValidationError(errors)
    findings = _unresolved(ids)
    return _people_change(
        findings, user=user, action="finding.excepted", state=FindingState.EXCEPTED,
        details={"summary": f"excepted until {until:%Y-%m-%d}: {reason.strip()}", "until": until.isoformat(),
                 "reason": reason.strip()},
        excepted_until=until, exception_reason=reason.strip(), exception_approver=user,
    )


@transaction.atomic
def findings_assign(*, ids: list[int], user: User, person: Person | None) -> int:
    """Unresolved findings are assigned to ``person`` (or unassigned)."""
    findings = [f for f in _unresolved(ids) if f.assigned_to_id != (person.pk if person else None)]
    return _people_change(findings, user=user, action="finding.assigned", state=None,
                          details={"summary": f"assigned to {person.name if person else 'nobody'}",
                                   "person": person.pk if person else None}, assigned_to=person)
