"""Deployment requests: filed, submitted, decided by security admins, linked to the VM they produced, expired.

The state machine (``TRANSITIONS``) is the only way a request changes state; every transition writes its audit
event in the same transaction. The VM a request is linked to follows it through ``vm_sanction_refresh``.

How a scan links a VM: the VM carries the request's number (``REQ-000123``) in its ``vmcensus.request`` custom
attribute (``REQUEST_ATTRIBUTE``) or, failing that, anywhere in its annotation (README, "Deployment requests").
"""

import dataclasses
import datetime
import logging
import re
from collections.abc import Collection, Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from inventory.choices import ChangeKind, DataCategory, Decision, Environment, RequestState, Sanction, VMStatus
from inventory.models import (
    REQUEST_NUMBER_PREFIX,
    DeploymentApproval,
    DeploymentRequest,
    ScanRun,
    VirtualMachine,
    VMChange,
)
from portal.choices import NotificationKind, Role
from portal.models import Person, User
from portal.selectors import person_for_user, person_subtree_ids
from portal.services.audit import AuditEntry, audit_log, audit_log_many
from portal.services.notifications import notification_new, notifications_notify

logger = logging.getLogger(__name__)

# The custom attribute a VM carries its request's number in (set by whoever deploys it, in vCenter).
REQUEST_ATTRIBUTE = "vmcensus.request"
# A number as people type it: REQ-123 and req-000123 are the same request.
REQUEST_NUMBER_RE = re.compile(rf"\b{REQUEST_NUMBER_PREFIX}0*([1-9][0-9]{{0,11}})\b", re.IGNORECASE)

# Only security admins decide; the requester never does, whatever their roles.
APPROVER_ROLES = frozenset({Role.SECURITY_ADMIN})
# Who files requests: anybody with a person in the organisation, but auditors, who only read.
REQUESTER_ROLES = frozenset({Role.MANAGER, Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.ADMIN})
# Who links a VM to a request by hand, and files a retroactive request for any VM.
LINKER_ROLES = frozenset({Role.SECURITY_ADMIN})

TRANSITIONS: dict[str, frozenset[str]] = {
    RequestState.DRAFT: frozenset({RequestState.SUBMITTED, RequestState.WITHDRAWN}),
    RequestState.SUBMITTED: frozenset({RequestState.APPROVED, RequestState.REJECTED, RequestState.WITHDRAWN}),
    RequestState.APPROVED: frozenset({RequestState.FULFILLED, RequestState.WITHDRAWN, RequestState.EXPIRED}),
    RequestState.FULFILLED: frozenset({RequestState.EXPIRED}),
    RequestState.REJECTED: frozenset(),
    RequestState.WITHDRAWN: frozenset(),
    RequestState.EXPIRED: frozenset(),
}
# States in which a request still stands for its VM: it sanctions the VM once approved.
SANCTIONING_STATES = frozenset({RequestState.APPROVED, RequestState.FULFILLED})
# States in which a VM may be linked (a retroactive request starts linked, a scan links a submitted one early).
LINKABLE_STATES = frozenset({RequestState.DRAFT, RequestState.SUBMITTED, RequestState.APPROVED})
# States a scan links in: a draft nobody submitted does not claim a VM.
SCAN_LINKABLE_STATES = frozenset({RequestState.SUBMITTED, RequestState.APPROVED})
# States holding a VM: a VM is linked to at most one of these at a time.
HOLDING_STATES = frozenset({RequestState.DRAFT, RequestState.SUBMITTED, RequestState.APPROVED, RequestState.FULFILLED})

# Fields a requester fills in, with the longest text each may hold.
TEXT_LIMITS = {
    "purpose": 200, "description": 4000, "target_datacenter": 200, "target_cluster": 200, "os": 200,
    "backup_contact": 200, "monitoring_contact": 200, "patching_contact": 200, "security_contact": 200,
}
SUPPORT_TEAMS = ("backup", "monitoring", "patching", "security")
SIZE_LIMITS = {"vcpu": 768, "memory_gb": 24 * 1024, "disk_gb": 1024 * 1024}
QUORUM_MAX = 10
REQUEST_FIELDS = (
    "purpose", "description", "environment", "data_categories", "target_datacenter", "target_cluster", "vcpu",
    "memory_gb", "disk_gb", "os", *(f"{team}_{part}" for team in SUPPORT_TEAMS for part in ("engaged", "contact")),
    "start_date", "end_date", "quorum",
)
# VMs whose sanction is recomputed per query: bounds the IN list of a refresh over a whole scan.
SANCTION_BATCH_SIZE = 1000


def default_quorum() -> int:
    return max(1, int(getattr(settings, "DEPLOYMENT_APPROVAL_QUORUM", 1)))


def request_quorum(request: DeploymentRequest) -> int:
    """Approvals the request needs: its own quorum, else the setting's."""
    return request.quorum or default_quorum()


def request_number_parse(text: str) -> int | None:
    """The request id a number stands for (``REQ-000123`` → 123), or None when ``text`` holds none."""
    match = REQUEST_NUMBER_RE.search(text or "")
    return int(match.group(1)) if match else None


def _link(request: DeploymentRequest) -> str:
    return reverse("inventory:request_detail", args=[request.pk])


def _is_requester(request: DeploymentRequest, user: User) -> bool:
    return user.pk == request.requested_by_id or (request.requester.user_id is not None
                                                   and request.requester.user_id == user.pk)


def _transition(request: DeploymentRequest, to: str) -> str:
    """Move ``request`` to ``to`` if the state machine allows it; returns the state it left."""
    old = request.state
    if to not in TRANSITIONS[old]:
        raise ValidationError(
            f"{request.number} is {request.get_state_display().lower()}: it cannot become "
            f"{RequestState(to).label.lower()}."
        )
    request.state = to
    return old


def _locked(request: DeploymentRequest) -> DeploymentRequest:
    """The request re-read under a row lock, so two decisions or links at once are taken one after the other."""
    return (DeploymentRequest.objects.select_for_update(of=("self",)).select_related("requester", "owner", "vm")
            .get(pk=request.pk))


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """The request's fields checked together; raises ``ValidationError`` naming each field at fault."""
    errors: dict[str, list[str]] = {}

    def fault(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name, limit in TEXT_LIMITS.items():
        text = values.get(name) or ""
        if not isinstance(text, str):
            fault(name, "Must be text.")
            continue
        text = text.strip()
        values[name] = text
        if "\x00" in text:
            fault(name, "Contains a NUL character (\\x00), which cannot be stored: remove it.")
        elif len(text) > limit:
            fault(name, f"At most {limit} characters ({len(text)}).")
    for name in ("purpose", "os"):
        if not values.get(name) and name not in errors:
            fault(name, "Required.")
    if values.get("environment") not in Environment.values:
        fault("environment", f"Choose one of {', '.join(Environment.values)}.")
    categories = values.get("data_categories") or []
    unknown = [value for value in categories if value not in DataCategory.values]
    if unknown:
        fault("data_categories", f"{', '.join(map(str, unknown))} is not one of {', '.join(DataCategory.values)}.")
    elif DataCategory.NONE in categories and len(categories) > 1:
        fault("data_categories", "'None of these' cannot go with other data categories.")
    values["data_categories"] = [value for value in DataCategory.values if value in categories]
    for name, limit in SIZE_LIMITS.items():
        size = values.get(name)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= limit:
            fault(name, f"A whole number from 1 to {limit}.")
    quorum = values.get("quorum")
    if quorum is not None and (not isinstance(quorum, int) or not 1 <= quorum <= QUORUM_MAX):
        fault("quorum", f"A whole number from 1 to {QUORUM_MAX}, or empty for the default.")
    for team in SUPPORT_TEAMS:
        values[f"{team}_engaged"] = bool(values.get(f"{team}_engaged"))
        if values[f"{team}_engaged"] and not values.get(f"{team}_contact") and f"{team}_contact" not in errors:
            fault(f"{team}_contact", f"Name the {team} team's contact, or say the team is not engaged.")
    start, end = values.get("start_date"), values.get("end_date")
    if not isinstance(start, datetime.date):
        fault("start_date", "Required.")
    if end is not None and not isinstance(end, datetime.date):
        fault("end_date", "A date, or empty.")
    elif isinstance(start, datetime.date) and end is not None and end < start:
        fault("end_date", f"Ends ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d}).")
    if errors:
        raise ValidationError(errors)
    return values


def _vm_holder(vm: VirtualMachine, *, other_than: DeploymentRequest | None = None) -> DeploymentRequest | None:
    holders = DeploymentRequest.objects.filter(vm=vm, state__in=HOLDING_STATES)
    if other_than is not None:
        holders = holders.exclude(pk=other_than.pk)
    return holders.order_by("id").first()


def user_may_request_for_vm(*, user: User, vm: VirtualMachine) -> bool:
    """A retroactive request for ``vm``: a security admin, or a manager above the VM's owner in the chain."""
    if user.has_role(*LINKER_ROLES):
        return True
    person = person_for_user(user=user)
    if person is None or vm.owner_id is None or not user.has_role(*REQUESTER_ROLES):
        return False
    return vm.owner_id != person.pk and vm.owner_id in person_subtree_ids(person=person)


@transaction.atomic
def deployment_request_create(
    *, user: User, owner: Person, vm: VirtualMachine | None = None, submit: bool = False, **values: Any
) -> DeploymentRequest:
    """File a request from ``user``'s person (a draft, or submitted at once with ``submit``).

    With ``vm`` it is retroactive: the VM already runs, and the request asks to approve it as it is.
    """
    if not user.has_role(*REQUESTER_ROLES):
        raise PermissionDenied("Your role does not file deployment requests.")
    requester = person_for_user(user=user)
    if requester is None:
        raise PermissionDenied("Your login is not linked to a person of the organisation: ask an admin to link it.")
    unknown = set(values) - set(REQUEST_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a field of a deployment request." for name in sorted(unknown)})
    values = _clean(dict(values))
    if not owner.active:
        raise ValidationError({"owner": f"{owner.name} is no longer active."})
    if vm is not None:
        if not user_may_request_for_vm(user=user, vm=vm):
            raise PermissionDenied("Only a security admin or a manager above the VM's owner files a request for it.")
        holder = _vm_holder(vm)
        if holder is not None:
            raise ValidationError({"vm": f"{vm.name} is linked to {holder.number} already."})
    request = DeploymentRequest.objects.create(
        requested_by=user, requester=requester, owner=owner, retroactive=vm is not None, **values
    )
    audit_log(
        action="deployment_request.created", actor=user, obj=request,
        details={"number": request.number, "owner": owner.email, "retroactive": vm is not None,
                 "vm": vm.pk if vm is not None else None},
    )
    if vm is not None:
        _link_vm(request=request, vm=vm, user=user, actor_label="")
    if submit:
        request = deployment_request_submit(request=request, user=user)
    return request


@transaction.atomic
def deployment_request_submit(*, request: DeploymentRequest, user: User) -> DeploymentRequest:
    """Send a draft to the security admins, who are each notified."""
    request = _locked(request)
    if not _is_requester(request, user):
        raise PermissionDenied("Only the requester submits a request.")
    _transition(request, RequestState.SUBMITTED)
    request.submitted_at = timezone.now()
    request.save(update_fields=["state", "submitted_at"])
    audit_log(action="deployment_request.submitted", actor=user, obj=request,
              details={"number": request.number, "quorum": request_quorum(request)})
    approvers = Person.objects.filter(active=True, user__is_active=True, user__groups__name=Role.SECURITY_ADMIN)
    approvers = approvers.exclude(pk=request.requester_id).exclude(user=request.requested_by_id).distinct()
    notifications_notify(
        notification_new(
            person_id=person.pk, kind=NotificationKind.REQUEST_SUBMITTED,
            subject=f"{request.number} to review: {request.purpose}",
            body=f"{request.requester.name} asks to deploy a VM ({request.get_environment_display()}, owner "
                 f"{request.owner.name}). Approve or reject it in vmcensus.",
            dedupe_key=f"request-submitted:{request.pk}:{person.pk}", link=_link(request), about=request,
        )
        for person in approvers
    )
    return request


def _notify_decided(request: DeploymentRequest, decision: str, comment: str) -> None:
    state = "approved" if decision == Decision.APPROVE else "rejected"
    body = f"Your deployment request {request.number} ({request.purpose}) was {state}."
    if comment:
        body += f"\n\nComment: {comment}"
    notifications_notify([notification_new(
        person_id=request.requester_id, kind=NotificationKind.REQUEST_DECIDED,
        subject=f"{request.number} {state}: {request.purpose}", body=body,
        dedupe_key=f"request-decided:{request.pk}", link=_link(request), about=request,
    )])


@transaction.atomic
def deployment_request_decide(
    *, request: DeploymentRequest, user: User, decision: str, comment: str = ""
) -> DeploymentApproval:
    """One security admin's vote. A rejection (with its reason) rejects the request; the approval that reaches
    the quorum approves it (fulfils it when its VM is already linked). Never the requester's own vote."""
    comment = (comment or "").strip()
    if not user.has_role(*APPROVER_ROLES):
        raise PermissionDenied("Only a security admin approves or rejects a deployment request.")
    request = _locked(request)
    if _is_requester(request, user):
        raise PermissionDenied("You filed this request: another security admin must decide it.")
    if decision not in Decision.values:
        raise ValidationError({"decision": f"Choose one of {', '.join(Decision.values)}."})
    if decision == Decision.REJECT and not comment:
        raise ValidationError({"comment": "Say why the request is rejected: the requester reads it."})
    if len(comment) > TEXT_LIMITS["description"]:
        raise ValidationError({"comment": f"At most {TEXT_LIMITS['description']} characters ({len(comment)})."})
    if request.state != RequestState.SUBMITTED:
        raise ValidationError(f"{request.number} is {request.get_state_display().lower()}: there is nothing to "
                              "decide.")
    try:
        with transaction.atomic():
            vote = DeploymentApproval.objects.create(
                request=request, approver=user, decision=decision, comment=comment, at=timezone.now()
            )
    except IntegrityError:
        raise ValidationError("You have voted on this request already: one vote per security admin.") from None
    audit_log(action=f"deployment_request.vote_{decision}", actor=user, obj=request,
              details={"number": request.number, "comment": comment})
    approvals = request.approvals.filter(decision=Decision.APPROVE).count()
    if decision == Decision.REJECT:
        _transition(request, RequestState.REJECTED)
    elif approvals >= request_quorum(request):
        _transition(request, RequestState.APPROVED)
    else:
        return vote
    request.decided_at = vote.at
    request.save(update_fields=["state", "decided_at"])
    audit_log(action=f"deployment_request.{request.state}", actor=user, obj=request,
              details={"number": request.number, "approvals": approvals, "quorum": request_quorum(request)})
    if request.state == RequestState.APPROVED and request.vm_id is not None:
        _fulfil(request=request, user=user, actor_label="")
    _notify_decided(request, decision, comment)
    if request.vm_id is not None:
        vm_sanction_refresh(vms=[request.vm_id], user=user)
    return vote


@transaction.atomic
def deployment_request_withdraw(*, request: DeploymentRequest, user: User) -> DeploymentRequest:
    """The requester takes the request back, before it is decided or before its VM exists."""
    request = _locked(request)
    if not _is_requester(request, user):
        raise PermissionDenied("Only the requester withdraws a request.")
    if request.state == RequestState.APPROVED and request.vm_id is not None:
        raise ValidationError(f"{request.number} is approved with its VM linked: it cannot be withdrawn.")
    old = _transition(request, RequestState.WITHDRAWN)
    request.save(update_fields=["state"])
    audit_log(action="deployment_request.withdrawn", actor=user, obj=request,
              details={"number": request.number, "from": old})
    if request.vm_id is not None:
        vm_sanction_refresh(vms=[request.vm_id], user=user)
    return request


def _fulfil(*, request: DeploymentRequest, user: User | None, actor_label: str) -> None:
    _transition(request, RequestState.FULFILLED)
    request.save(update_fields=["state"])
    audit_log(action="deployment_request.fulfilled", actor=user, actor_label=actor_label, obj=request,
              details={"number": request.number, "vm": request.vm_id})


def _link_vm(
    *, request: DeploymentRequest, vm: VirtualMachine, user: User | None, actor_label: str,
    scan_run: ScanRun | None = None, how: str = "by hand",
) -> None:
    """Link (the request is locked or new, in its state's rules), the timeline entry, the audit event."""
    now = timezone.now()
    request.vm = vm
    request.linked_at = now
    request.save(update_fields=["vm", "linked_at"])
    VMChange.objects.create(
        vm=vm, kind=ChangeKind.REQUEST_LINKED, at=now, scan_run=scan_run, user=user,
        new={"request": request.number, "request_id": request.pk, "how": how},
    )
    audit_log(action="deployment_request.vm_linked", actor=user, actor_label=actor_label, obj=request,
              details={"number": request.number, "vm": vm.pk, "vm_name": vm.name, "how": how})
    if request.state == RequestState.APPROVED:
        _fulfil(request=request, user=user, actor_label=actor_label)


@transaction.atomic
def deployment_request_link_vm(*, request: DeploymentRequest, vm: VirtualMachine, user: User) -> DeploymentRequest:
    """A security admin links the VM a request produced; an approved request is fulfilled by it."""
    if not user.has_role(*LINKER_ROLES):
        raise PermissionDenied("Only a security admin links a VM to a request.")
    request = _locked(request)
    if request.state not in LINKABLE_STATES:
        raise ValidationError(f"{request.number} is {request.get_state_display().lower()}: no VM can be linked.")
    if request.vm_id is not None:
        raise ValidationError({"vm": f"{request.number} is linked to {request.vm.name} already."})
    holder = _vm_holder(vm, other_than=request)
    if holder is not None:
        raise ValidationError({"vm": f"{vm.name} is linked to {holder.number} already."})
    _link_vm(request=request, vm=vm, user=user, actor_label="")
    vm_sanction_refresh(vms=[vm.pk], user=user)
    return request


def _vm_number(vm: dict) -> int | None:
    """The request a VM names: its custom attribute when it has one, else the first number in its annotation."""
    attributes = vm["custom_attributes"] or {}
    if attributes.get(REQUEST_ATTRIBUTE):
        return request_number_parse(str(attributes[REQUEST_ATTRIBUTE]))
    return request_number_parse(vm["annotation"])


@transaction.atomic
def deployment_requests_link_from_scan(*, run: ScanRun) -> list[DeploymentRequest]:
    """Link every submitted or approved request without a VM to the VM of ``run``'s source that names it.

    When two VMs name the same request (a clone keeps its parent's annotation and attributes), the VM seen first
    is the one the request produced. A VM that names a request already linked, decided against, or holding
    another VM is left alone. Three queries when nothing is to link.
    """
    candidates = (
        VirtualMachine.objects.filter(source_id=run.source_id, status=VMStatus.PRESENT, is_template=False)
        .filter(Q(custom_attributes__has_key=REQUEST_ATTRIBUTE) | Q(annotation__icontains=REQUEST_NUMBER_PREFIX))
        .order_by("first_seen", "id")
        .values("id", "annotation", "custom_attributes")
    )
    named: dict[int, int] = {}
    for vm in candidates:
        number = _vm_number(vm)
        if number is not None:
            named.setdefault(number, vm["id"])
    if not named:
        return []
    held = set(DeploymentRequest.objects.filter(vm_id__in=named.values(), state__in=HOLDING_STATES)
               .values_list("vm_id", flat=True))
    requests = list(
        DeploymentRequest.objects.select_for_update()
        .filter(pk__in=named, vm__isnull=True, state__in=SCAN_LINKABLE_STATES).order_by("id")
    )
    vms = VirtualMachine.objects.in_bulk([named[request.pk] for request in requests])
    linked = []
    for request in requests:
        vm_id = named[request.pk]
        if vm_id in held:
            continue
        held.add(vm_id)
        _link_vm(request=request, vm=vms[vm_id], user=None, actor_label="system: scan", scan_run=run,
                 how="by scan")
        linked.append(request)
    if linked:
        vm_sanction_refresh(vms=[request.vm_id for request in linked], scan_run=run)
    return linked


def vm_sanction_refresh(
    *,
    vms: Iterable[VirtualMachine | int],
    baseline_failing_vm_ids: Collection[int] | None = None,
    user: User | None = None,
    scan_run: ScanRun | None = None,
) -> int:
    """Recompute the sanction of ``vms`` from their requests and their hardening baseline; returns how many changed.

    A VM is ``unapproved`` unless an approved or fulfilled request holds it. Held, it is ``pending`` until its
    baseline is known good, then ``approved``: "not allowed to go live until securely configured".

    ``baseline_failing_vm_ids`` is the baseline evidence. ``None`` (the default, what request transitions pass)
    means no new evidence: a held VM stays ``approved`` if it was, otherwise it is ``pending``. The policy
    evaluation (findings, part B) passes the ids of the VMs it evaluated with an open ``off_baseline`` finding
    that is not excepted: held VMs among ``vms`` in it are ``pending``, the others ``approved``.
    """
    ids = [getattr(vm, "pk", vm) for vm in vms]
    failing = None if baseline_failing_vm_ids is None else set(baseline_failing_vm_ids)
    changed = []
    now = timezone.now()
    for start in range(0, len(ids), SANCTION_BATCH_SIZE):
        batch = ids[start:start + SANCTION_BATCH_SIZE]
        held = set(DeploymentRequest.objects.filter(vm_id__in=batch, state__in=SANCTIONING_STATES)
                   .values_list("vm_id", flat=True))
        for vm in VirtualMachine.objects.filter(pk__in=batch).only("id", "name", "sanction"):
            if vm.pk not in held:
                sanction = Sanction.UNAPPROVED
            elif failing is None:
                sanction = Sanction.APPROVED if vm.sanction == Sanction.APPROVED else Sanction.PENDING
            else:
                sanction = Sanction.PENDING if vm.pk in failing else Sanction.APPROVED
            if sanction != vm.sanction:
                changed.append((vm, vm.sanction, sanction))
    if not changed:
        return 0
    with transaction.atomic():
        for sanction in Sanction.values:
            VirtualMachine.objects.filter(pk__in=[vm.pk for vm, _old, new in changed if new == sanction]).update(
                sanction=sanction
            )
        VMChange.objects.bulk_create(
            [VMChange(vm=vm, kind=ChangeKind.SANCTION_CHANGED, at=now, scan_run=scan_run, user=user,
                      old={"sanction": old}, new={"sanction": new}) for vm, old, new in changed],
            batch_size=SANCTION_BATCH_SIZE,
        )
        audit_log_many(
            entries=[AuditEntry("vm.sanction_changed", vm, {"old": old, "new": new}) for vm, old, new in changed],
            actor=user, actor_label="system: sanction",
        )
    return len(changed)


@dataclasses.dataclass
class EndDateRun:
    """What one daily pass did: requests examined, owners reminded ahead, told on the day, requests expired."""

    checked: int = 0
    reminded: int = 0
    ends_today: int = 0
    expired: int = 0


def _decommission_notice(request: DeploymentRequest, *, subject: str, body: str, key: str):
    return notification_new(
        person_id=request.owner_id, kind=NotificationKind.DECOMMISSION_DUE, subject=subject, body=body,
        dedupe_key=f"decommission:{request.pk}:{key}:{request.end_date:%Y-%m-%d}", link=_link(request), about=request,
    )


def deployment_requests_end_date_run(*, today: datetime.date | None = None) -> EndDateRun:
    """The daily pass over approved and fulfilled requests with an end date (beat runs it; safe to run twice).

    ``DECOMMISSION_REMINDER_DAYS`` before the end date the owner is reminded, on the end date told again, and the
    day after the request is ``expired`` (its VM loses its sanction). Each step is recorded on the request, so a
    second run the same day does nothing.
    """
    today = today or timezone.localdate()
    ahead = datetime.timedelta(days=max(0, int(getattr(settings, "DECOMMISSION_REMINDER_DAYS", 14))))
    result = EndDateRun()
    with transaction.atomic():
        due = list(
            DeploymentRequest.objects.select_for_update(of=("self",)).select_related("vm")
            .filter(state__in=SANCTIONING_STATES, end_date__isnull=False, end_date__lte=today + ahead)
            .order_by("id")
        )
        result.checked = len(due)
        notices, reminded, ended, expired = [], [], [], []
        for request in due:
            vm_text = f"its VM {request.vm.name}" if request.vm_id else "the VM it asked for"
            if request.end_date > today and request.reminded_on is None:
                notices.append(_decommission_notice(
                    request, key="ahead",
                    subject=f"{request.number} ends on {request.end_date:%Y-%m-%d}: plan to decommission",
                    body=f"The approval of {request.number} ({request.purpose}) ends on {request.end_date:%d %B %Y}. "
                         f"Decommission {vm_text} by then, or file a new request to keep it.",
                ))
                reminded.append(request.pk)
            if request.end_date <= today and request.end_reminded_on is None:
                notices.append(_decommission_notice(
                    request, key="end",
                    subject=f"{request.number} ends {'today' if request.end_date == today else 'now'}: decommission",
                    body=f"The approval of {request.number} ({request.purpose}) ends on {request.end_date:%d %B %Y}. "
                         f"Decommission {vm_text}: past that day it runs without approval.",
                ))
                ended.append(request.pk)
            if request.end_date < today:
                _transition(request, RequestState.EXPIRED)
                expired.append(request)
        DeploymentRequest.objects.filter(pk__in=reminded).update(reminded_on=today)
        DeploymentRequest.objects.filter(pk__in=ended).update(end_reminded_on=today)
        DeploymentRequest.objects.filter(pk__in=[request.pk for request in expired]).update(
            state=RequestState.EXPIRED
        )
        if expired:
            audit_log_many(
                entries=[AuditEntry("deployment_request.expired", request,
                                    {"number": request.number, "end_date": request.end_date}) for request in expired],
                actor_label="system: end dates",
            )
            vm_sanction_refresh(vms=[request.vm_id for request in expired if request.vm_id])
        notifications_notify(notices)
    result.reminded, result.ends_today, result.expired = len(reminded), len(ended), len(expired)
    return result


def deployment_requests_export_record(*, user: User, export: str, filters: dict[str, str], rows: int) -> None:
    """An export of the request list leaves the portal: who took it, in which format, with which filters."""
    audit_log(action="deployment_request.exported", actor=user,
              details={"format": export, "filters": filters, "rows": rows})
