"""What policies do about their findings: notify (one digest per person per run), tag VMs in vCenter, and the
vCenter actions (power off, upgrade VMware Tools) that one security admin proposes and a second one confirms.

Every vCenter write goes through ``inventory.vsphere.actions``; every attempt is recorded with vCenter's task
result in the VM's timeline and the audit trail. A failed action is retried by its task and never resolves a
finding: only an evaluation does.
"""

import datetime
import hashlib
from collections import defaultdict
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from inventory.choices import (
    ActionBatchState,
    ActionKind,
    AttemptState,
    ChangeKind,
    FindingState,
    PolicyKind,
    SourceKind,
    VMStatus,
)
from inventory.models import ActionAttempt, ActionBatch, Finding, Policy, Source, VirtualMachine, VMChange
from inventory.services.findings import EvaluationResult
from inventory.services.policies import in_window
from inventory.vsphere import actions as vcenter
from portal.choices import NotificationKind, Role
from portal.db import chunked
from portal.models import Person, User
from portal.services.audit import AuditEntry, audit_log, audit_log_many
from portal.services.notifications import notification_new, notifications_notify

ACTIONABLE = (FindingState.OPEN, FindingState.ACKNOWLEDGED)
# A batch is kept to what a person can review before confirming it.
MAX_BATCH_VMS = 500
# New findings a notification lists by name; the rest are counted (the queue has them all).
NOTIFY_LISTED = 20
# Attempts of one VM before its failure is final (the task retries with backoff in between).
MAX_TRIES = 5


def _security_admins() -> list[Person]:
    return list(Person.objects.filter(active=True, user__is_active=True, user__groups__name=Role.SECURITY_ADMIN)
                .distinct().order_by("id"))


def _chains(owner_ids: set[int]) -> dict[int, list[int]]:
    """Each owner's managers up to the top, from one query of the chart."""
    parent = dict(Person.objects.order_by().values_list("id", "parent_id"))
    chains = {}
    for owner in owner_ids:
        chain, current = [], parent.get(owner)
        while current is not None and current not in chain:
            chain.append(current)
            current = parent.get(current)
        chains[owner] = chain
    return chains


def findings_notify(*, finding_ids: list[int], now: datetime.datetime | None = None) -> int:
    """Tell each person the policies name (owner, owner's chain, security admins) about the findings just opened:
    one notification per person and policy, listing that person's new findings (a first evaluation opens
    thousands: an inbox row per VM would bury everything else), and one digest e-mail per person for the run.
    The same findings notified twice make no new row."""
    if not finding_ids:
        return 0
    now = now or timezone.now()
    findings = [finding for chunk in chunked(sorted(finding_ids)) for finding in
                Finding.objects.filter(id__in=chunk).select_related("policy", "vm")
                .only("id", "kind", "evidence", "vm__name", "vm__owner_id", "policy__actions", "policy__name")]
    wanted = {who for f in findings for who in f.policy.actions.get("notify", [])}
    admins = [p.pk for p in _security_admins()] if "security_admins" in wanted else []
    owners = {f.vm.owner_id for f in findings if f.vm.owner_id}
    chains = _chains(owners) if "chain" in wanted else {}
    told: dict[tuple[int, Policy], list[Finding]] = defaultdict(list)
    for finding in findings:
        notify = finding.policy.actions.get("notify", [])
        people = set(admins) if "security_admins" in notify else set()
        if finding.vm.owner_id and "owner" in notify:
            people.add(finding.vm.owner_id)
        if finding.vm.owner_id and "chain" in notify:
            people.update(chains.get(finding.vm.owner_id, []))
        for person_id in people:
            told[(person_id, finding.policy)].append(finding)
    digest = f"vmcensus: findings opened by the policy run of {timezone.localtime(now):%Y-%m-%d %H:%M}"
    rows = []
    for (person_id, policy), mine in sorted(told.items(), key=lambda item: (item[0][0], item[0][1].pk)):
        listed = "\n".join(f"- {f.vm.name}: {f.evidence.get('summary', '')}" for f in mine[:NOTIFY_LISTED])
        more = f"\n... and {len(mine) - NOTIFY_LISTED} more in the findings queue." if len(mine) > NOTIFY_LISTED else ""
        ids = hashlib.sha256(",".join(str(f.pk) for f in mine).encode()).hexdigest()[:16]
        rows.append(notification_new(
            person_id=person_id, kind=NotificationKind.FINDINGS,
            subject=f"{policy.name}: {len(mine)} new finding{'s' * (len(mine) != 1)}",
            body=listed + more, link=f"{reverse('inventory:finding_list')}?kind={policy.kind}&state=open",
            about=Policy(pk=policy.pk), digest=digest, dedupe_key=f"findings:{policy.pk}:person:{person_id}:{ids}",
        ))
    return notifications_notify(rows)


# -- tags ------------------------------------------------------------------------------------------------------

def tag_values(*, source: Source) -> dict[int, tuple[str, str]]:
    """VMs of ``source`` whose ``vmcensus.finding`` attribute should change: id → (moref, value), the value being
    the sorted kinds of their unresolved findings under policies that tag (empty to clear an old tag)."""
    tagging = Finding.objects.filter(vm__source=source, vm__status=VMStatus.PRESENT,
                                     state__in=(*ACTIONABLE, FindingState.EXCEPTED), policy__actions__tag=True)
    wanted: dict[int, set[str]] = defaultdict(set)
    for vm_id, kind in tagging.values_list("vm_id", "kind"):
        wanted[vm_id].add(kind)
    current = {vm_id: (moref, attrs) for vm_id, moref, attrs in
               VirtualMachine.objects.filter(source=source, status=VMStatus.PRESENT)
               .filter(Q(pk__in=tagging.values("vm_id")) | Q(custom_attributes__has_key=vcenter.FINDING_ATTRIBUTE))
               .values_list("id", "moref", "custom_attributes")}
    changes = {}
    for vm_id, (moref, attributes) in current.items():
        value = ",".join(sorted(wanted.get(vm_id, ())))
        if (attributes or {}).get(vcenter.FINDING_ATTRIBUTE, "") != value:
            changes[vm_id] = (moref, value)
    return changes


def policy_tags_apply(*, source: Source) -> dict[str, int]:
    """Bring ``vmcensus.finding`` in vCenter in line with the open findings; records each change. Raises
    ``VSphereError`` when vCenter cannot be reached (the task retries)."""
    changes = tag_values(source=source)
    if not changes:
        return {"done": 0, "failed": 0, "skipped": 0}
    with vcenter.source_session(source) as si:
        outcomes = vcenter.vms_tag(si, {moref: value for moref, value in changes.values()})
    now = timezone.now()
    counts = defaultdict(int)
    vms = VirtualMachine.objects.in_bulk(list(changes))
    timeline, audit = [], []
    with transaction.atomic():
        for vm_id, (moref, value) in changes.items():
            outcome = outcomes[moref]
            counts[outcome.state] += 1
            vm = vms[vm_id]
            if outcome.state == "done":
                vm.custom_attributes = {**vm.custom_attributes, vcenter.FINDING_ATTRIBUTE: value}
                VirtualMachine.objects.filter(pk=vm_id).update(custom_attributes=vm.custom_attributes)
            record = {"action": "tag", "attribute": vcenter.FINDING_ATTRIBUTE, "value": value,
                      "outcome": outcome.state, "result": outcome.result}
            timeline.append(VMChange(vm_id=vm_id, kind=ChangeKind.VCENTER_ACTION, at=now,
                                     actor="system: policy actions", new=record))
            audit.append(AuditEntry("vcenter.tag", vm, record))
        VMChange.objects.bulk_create(timeline)
        audit_log_many(entries=audit, actor_label="system: policy actions")
    return dict(counts)


def policy_actions_after_evaluation(*, result: EvaluationResult) -> None:
    """After an evaluation: notify about what it opened, and queue the tagging of each vCenter source whose tags
    no longer match the open findings."""
    from inventory.tasks import policy_tags_apply_task  # the task module imports this one

    findings_notify(finding_ids=result.opened_ids)
    if not Policy.objects.filter(enabled=True, actions__tag=True).exists() and not VirtualMachine.objects.filter(
            custom_attributes__has_key=vcenter.FINDING_ATTRIBUTE, status=VMStatus.PRESENT).exists():
        return
    for source in Source.objects.filter(kind=SourceKind.VCENTER, enabled=True):
        if tag_values(source=source):
            transaction.on_commit(partial(policy_tags_apply_task.delay, source.pk))


# -- power off and Tools upgrades ------------------------------------------------------------------------------

def _require_security_admin(user: User) -> None:
    if not user.has_role(Role.SECURITY_ADMIN):
        raise PermissionDenied("Only a security admin proposes or confirms vCenter actions.")


def batch_candidates(*, policy: Policy, action: str, now: datetime.datetime | None = None) -> list[Finding]:
    """The findings of ``policy`` an action may take: open or acknowledged (not excepted), on a live VM that is
    not a template, of a vCenter source, opened at least the policy's grace period ago (a rogue VM's grace is
    spent before its finding opens: it is eligible at once); for a Tools upgrade, only VMs whose Tools are out
    of date."""
    now = now or timezone.now()
    grace = datetime.timedelta(days=0 if policy.kind == PolicyKind.ROGUE else policy.config.get("grace_days", 0))
    findings = (Finding.objects.filter(policy=policy, state__in=ACTIONABLE, opened_at__lte=now - grace,
                                       vm__status=VMStatus.PRESENT, vm__is_template=False,
                                       vm__source__kind=SourceKind.VCENTER)
                .select_related("vm").order_by("opened_at", "id"))
    if action == ActionKind.UPGRADE_TOOLS:
        findings = findings.filter(evidence__tools_upgradeable=True)
    return list(findings[:MAX_BATCH_VMS])


@transaction.atomic
def action_batch_propose(*, policy: Policy, action: str, user: User) -> ActionBatch:
    """A security admin proposes the action on the policy's eligible findings. Unless the action is enabled on
    the policy it is a dry run: the batch lists what would be done and nothing is done. An enabled action waits
    for a second security admin."""
    _require_security_admin(user)
    if action not in ActionKind.values or (action == ActionKind.UPGRADE_TOOLS and policy.kind != PolicyKind.UNPATCHED):
        raise ValidationError({"action": f"{action!r} is not an action of a {policy.kind} policy"})
    findings = batch_candidates(policy=policy, action=action)
    if not findings:
        raise ValidationError({"action": "no finding of this policy is eligible (open, past its grace period, "
                                         "on a live vCenter VM that is not a template)"})
    enabled = policy.actions.get(action, {}).get("enabled", False)
    now = timezone.now()
    batch = ActionBatch.objects.create(
        policy=policy, action=action, proposed_by=user, proposed_at=now,
        state=ActionBatchState.AWAITING if enabled else ActionBatchState.DRY_RUN,
        finished_at=None if enabled else now,
    )
    verb = "would be " if not enabled else "to be "
    ActionAttempt.objects.bulk_create(
        ActionAttempt(batch=batch, finding=f, vm=f.vm,
                      state=AttemptState.PENDING if enabled else AttemptState.SKIPPED,
                      result="" if enabled else f"dry run: {verb}{batch.get_action_display().lower()}",
                      finished_at=None if enabled else now)
        for f in findings
    )
    audit_log(action="action_batch.dry_run" if not enabled else "action_batch.proposed", actor=user, obj=batch,
              details={"policy": policy.name, "action": action, "vms": [f.vm.name for f in findings]})
    if enabled:
        rows = [notification_new(
            person_id=admin.pk, kind=NotificationKind.POWER_OFF_CONFIRM,
            subject=f"Confirm: {batch.get_action_display().lower()} of {len(findings)} VM(s) ({policy.name})",
            body=f"{user} proposed it; a second security admin must confirm it.",
            link=reverse("inventory:action_batch_detail", args=[batch.pk]), about=batch,
            dedupe_key=f"action_batch:{batch.pk}:confirm:{admin.pk}",
        ) for admin in _security_admins() if admin.user_id != user.pk]
        notifications_notify(rows)
    return batch


@transaction.atomic
def action_batch_confirm(*, batch: ActionBatch, user: User) -> ActionBatch:
    """A second security admin (not the one who proposed it) confirms; the batch runs once this commits."""
    from inventory.tasks import action_batch_execute_task  # the task module imports this one

    _require_security_admin(user)
    batch = ActionBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != ActionBatchState.AWAITING:
        raise ValidationError(f"This batch is {batch.get_state_display().lower()}: there is nothing to confirm.")
    if batch.proposed_by_id == user.pk:
        raise PermissionDenied("A second security admin must confirm: you proposed this batch.")
    batch.state, batch.confirmed_by, batch.confirmed_at = ActionBatchState.CONFIRMED, user, timezone.now()
    batch.save(update_fields=["state", "confirmed_by", "confirmed_at"])
    audit_log(action="action_batch.confirmed", actor=user, obj=batch, details={"proposed_by": str(batch.proposed_by)})
    transaction.on_commit(partial(action_batch_execute_task.delay, batch.pk))
    return batch


@transaction.atomic
def action_batch_cancel(*, batch: ActionBatch, user: User) -> ActionBatch:
    _require_security_admin(user)
    batch = ActionBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != ActionBatchState.AWAITING:
        raise ValidationError(f"This batch is {batch.get_state_display().lower()}: it cannot be cancelled.")
    batch.state, batch.finished_at = ActionBatchState.CANCELLED, timezone.now()
    batch.save(update_fields=["state", "finished_at"])
    batch.attempts.filter(state=AttemptState.PENDING).update(state=AttemptState.SKIPPED, result="batch cancelled")
    audit_log(action="action_batch.cancelled", actor=user, obj=batch)
    return batch


class OutsideWindow(Exception):
    """A Tools upgrade confirmed outside the policy's maintenance window: the task tries again later."""


class AttemptsFailed(Exception):
    """Some VMs of a batch failed and have tries left: the task retries them with backoff."""


def _claim(attempt_id: int) -> bool:
    """Take one attempt for this run; False when another run took it or it is finished."""
    return bool(ActionAttempt.objects.filter(
        pk=attempt_id, state__in=(AttemptState.PENDING, AttemptState.FAILED), tries__lt=MAX_TRIES,
    ).update(state=AttemptState.RUNNING, tries=F("tries") + 1))


def _record(attempt: ActionAttempt, outcome: vcenter.Outcome, batch: ActionBatch) -> None:
    state = {"done": AttemptState.SUCCEEDED, "skipped": AttemptState.SKIPPED}.get(outcome.state, AttemptState.FAILED)
    now = timezone.now()
    with transaction.atomic():
        ActionAttempt.objects.filter(pk=attempt.pk).update(state=state, result=outcome.result, finished_at=now)
        record = {"action": batch.action, "batch": batch.pk, "finding": attempt.finding_id, "outcome": state,
                  "try": attempt.tries + 1, "result": outcome.result}
        VMChange.objects.create(vm_id=attempt.vm_id, kind=ChangeKind.VCENTER_ACTION, at=now,
                                user=batch.confirmed_by, new=record)
        audit_log(action=f"vcenter.{batch.action}", actor=batch.confirmed_by, obj=attempt.vm, details=record)


def action_batch_execute(*, batch_id: int, now: datetime.datetime | None = None) -> ActionBatch:
    """Carry out a confirmed batch: each VM claimed once, acted on through ``inventory.vsphere.actions`` and
    recorded. A second run does nothing for what is done. Raises ``OutsideWindow`` (a Tools upgrade outside
    the maintenance window) and ``AttemptsFailed`` (retry later); a finding is never resolved here."""
    batch = ActionBatch.objects.select_related("policy", "confirmed_by").get(pk=batch_id)
    if batch.state != ActionBatchState.CONFIRMED:
        return batch
    if batch.action == ActionKind.UPGRADE_TOOLS:
        window = batch.policy.actions.get("upgrade_tools", {}).get("window")
        if not window or not in_window(window, now or timezone.now()):
            raise OutsideWindow(f"outside the maintenance window of {batch.policy.name}")
    perform = vcenter.vm_power_off if batch.action == ActionKind.POWER_OFF else vcenter.vm_upgrade_tools
    attempts = list(batch.attempts.filter(state__in=(AttemptState.PENDING, AttemptState.FAILED),
                                          tries__lt=MAX_TRIES).select_related("vm__source", "finding", "vm"))
    by_source: dict[int, list[ActionAttempt]] = defaultdict(list)
    for attempt in attempts:
        by_source[attempt.vm.source_id].append(attempt)
    for group in by_source.values():
        source = group[0].vm.source
        try:
            with vcenter.source_session(source) as si:
                for attempt in group:
                    if not _claim(attempt.pk):
                        continue
                    if attempt.finding.state not in ACTIONABLE:
                        outcome = vcenter.Outcome("skipped", f"the finding is {attempt.finding.state} now")
                    else:
                        outcome = perform(si, attempt.vm.moref)
                    _record(attempt, outcome, batch)
        except vcenter.VSphereError as error:
            # vCenter could not be reached (or went away): every VM not finished counts a failed try, recorded.
            for attempt in group:
                attempt.refresh_from_db(fields=["state", "tries"])
                if attempt.state == AttemptState.RUNNING or _claim(attempt.pk):
                    attempt.refresh_from_db(fields=["tries"])
                    attempt.tries -= 1
                    _record(attempt, vcenter.Outcome("failed", str(error)), batch)
    retry = batch.attempts.filter(state=AttemptState.FAILED, tries__lt=MAX_TRIES).exists()
    if retry:
        raise AttemptsFailed(f"batch #{batch.pk}: some VMs failed; they are tried again")
    return action_batch_finish(batch=batch)


def action_batch_finish(*, batch: ActionBatch) -> ActionBatch:
    """Close a batch whose attempts are all finished (or out of tries): done, or done with failures."""
    failed = batch.attempts.filter(state=AttemptState.FAILED).count()
    updated = ActionBatch.objects.filter(pk=batch.pk, state=ActionBatchState.CONFIRMED).update(
        state=ActionBatchState.FAILED if failed else ActionBatchState.DONE, finished_at=timezone.now())
    batch.refresh_from_db()
    if updated:
        audit_log(action="action_batch.finished", actor=batch.confirmed_by, obj=batch,
                  details={"state": batch.state, "failed": failed,
                           "succeeded": batch.attempts.filter(state=AttemptState.SUCCEEDED).count()})
    return batch
