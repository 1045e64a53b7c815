"""Closing the gaps reconciliation found: a person answers for an item routed to them (or to somebody in their
part of the organisation), one at a time or in bulk; an officer may also send an item to someone else.

An answer never changes what the scanners saw: it records who closed the gap, how and why, and the next run
keeps it while the item stays in the state it was answered in. A VM linked by hand is matched by the next run;
a VM claimed by the person who was asked ("yes, it is mine") gets them as owner, with the purpose and data
they gave, as a ``repurposed`` entry of its timeline. Every answer is in the audit trail.
"""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from inventory.choices import ChangeKind
from inventory.models import VirtualMachine, VMChange
from inventory.selectors import vm_scoped
from portal.choices import Role
from portal.models import Person, User
from portal.selectors import person_for_user, person_subtree
from portal.services.audit import AuditEntry, audit_log_many
from questionnaires.choices import DataCategory, ReconciliationState, Resolution
from questionnaires.models import ReconciliationItem

State = ReconciliationState
# Who answers any item of any campaign; anybody else answers the items of their part of the organisation.
WHOLE_ESTATE_WRITERS = frozenset({Role.COMPLIANCE_OFFICER, Role.ADMIN})
# The answers that fit each state.
RESOLUTIONS = {
    State.UNDECLARED: (Resolution.CLAIMED, Resolution.DISOWNED),
    State.NOT_FOUND: (Resolution.RETIRED, Resolution.NOT_SCANNED, Resolution.LINKED),
    State.NOT_FOUND_UNSCANNED: (Resolution.NOT_SCANNED, Resolution.RETIRED, Resolution.LINKED),
    State.CONFLICT: (Resolution.ACCEPTED, Resolution.LINKED),
    State.MISMATCH: (Resolution.ACCEPTED,),
    State.MATCHED: (),
}
NOTE_MAX_LENGTH = 2000
PURPOSE_MAX_LENGTH = 200
# Items one bulk answer may cover: a page of the list, several times over.
BULK_MAX_ITEMS = 1000


def _person_ids_within(user: User) -> set[int] | None:
    """The people whose items ``user`` may answer: None for everybody; the user's subtree otherwise."""
    if user.has_role(*WHOLE_ESTATE_WRITERS):
        return None
    if user.roles == {Role.AUDITOR}:
        raise PermissionDenied("Auditors read the reconciliation; they do not answer it.")
    person = person_for_user(user=user)
    return set(person_subtree(person=person).values_list("pk", flat=True)) if person else set()


def follow_up_may_answer(*, item: ReconciliationItem, user: User, within: set[int] | None = None) -> bool:
    """The item was routed to, or declared by, somebody in the user's part of the organisation (or the user
    answers for the whole estate)."""
    within = _person_ids_within(user) if within is None else within
    if within is None:
        return True
    return bool({item.routed_to_id, item.declarer_id} & within)


def _check(item: ReconciliationItem, resolution: str, user: User, within: set[int] | None) -> None:
    if not follow_up_may_answer(item=item, user=user, within=within):
        raise PermissionDenied(f"{item}: not in your part of the organisation.")
    if resolution not in RESOLUTIONS[item.state]:
        allowed = ", ".join(Resolution(value).label.lower() for value in RESOLUTIONS[item.state]) or "nothing"
        raise ValidationError(
            {"resolution": f"{item}: a {item.get_state_display().lower()} item can be answered with {allowed}."}
        )


@transaction.atomic
def follow_ups_answer(
    *,
    items: Iterable[ReconciliationItem],
    user: User,
    resolution: str,
    note: str = "",
    vm: VirtualMachine | None = None,
    purpose: str = "",
    data_categories: Iterable[str] = (),
) -> int:
    """Answer items (one, or a page of them at once): all are answered or none, the first refusal is named.

    ``vm`` is the VM a declaration really is (``linked``); ``purpose`` and ``data_categories`` what a claimed
    VM is for (``claimed``). Returns how many items were answered.
    """
    items = list(items)
    if not items:
        raise ValidationError("Choose the items to answer.")
    if len(items) > BULK_MAX_ITEMS:
        raise ValidationError(f"At most {BULK_MAX_ITEMS:,} items at once ({len(items):,} chosen).")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"At most {NOTE_MAX_LENGTH:,} characters ({len(note):,})."})
    if resolution not in Resolution.values:
        raise ValidationError({"resolution": f"{resolution!r} is not one of {', '.join(Resolution.values)}."})
    within = _person_ids_within(user)
    for item in items:
        _check(item, resolution, user, within)
    if resolution == Resolution.LINKED:
        if vm is None:
            raise ValidationError({"vm": "Choose the VM it is."})
        if not vm_scoped(VirtualMachine.objects.filter(pk=vm.pk), user).exists():
            raise PermissionDenied("That VM is not in your part of the organisation.")
        if any(item.declared_vm_id is None for item in items):
            raise ValidationError({"vm": "Only a declared VM can be linked to an inventory VM."})
    claimer = None
    if resolution == Resolution.CLAIMED:
        claimer = _claimer(user)
        purpose = " ".join((purpose or "").split())
        if len(purpose) > PURPOSE_MAX_LENGTH:
            raise ValidationError({"purpose": f"At most {PURPOSE_MAX_LENGTH} characters ({len(purpose)})."})
        data_categories = _categories(data_categories)
        if not purpose:
            raise ValidationError({"purpose": "Say what it is for: that is what the auditors will ask."})

    now = timezone.now()
    entries = []
    for item in items:
        item.resolution, item.resolution_note, item.resolved_by, item.resolved_at = resolution, note, user, now
        if resolution == Resolution.LINKED:
            item.linked_vm = vm
        entries.append(AuditEntry("reconciliation.answered", item, {
            "resolution": resolution, "note": note, "state": item.state,
            **({"vm": vm.pk} if vm is not None else {}),
        }))
    ReconciliationItem.objects.bulk_update(
        items, ["resolution", "resolution_note", "resolved_by", "resolved_at", "linked_vm"]
    )
    if claimer is not None:
        entries += _claim(items, user, claimer, purpose, data_categories, now)
    audit_log_many(entries=entries, actor=user)
    return len(items)


def _claimer(user: User) -> Person:
    person = person_for_user(user=user)
    if person is None:
        raise ValidationError("Only a person of the organisation can claim a VM: your login has no person.")
    return person


def _categories(values: Iterable[str]) -> list[str]:
    chosen = set(values)
    unknown = chosen - set(DataCategory.values)
    if unknown:
        raise ValidationError({"data_categories": f"Not a data category: {', '.join(sorted(unknown))}."})
    if DataCategory.NONE in chosen and len(chosen) > 1:
        raise ValidationError({"data_categories": "“None of these” cannot go with other data categories."})
    return [value for value in DataCategory.values if value in chosen]


def _claim(items, user: User, claimer: Person, purpose: str, data_categories: list[str], now) -> list[AuditEntry]:
    """The claimer becomes the owner of each claimed VM, with what it is for."""
    vms = VirtualMachine.objects.in_bulk([item.vm_id for item in items])
    changes, entries = [], []
    for vm in vms.values():
        old = {"owner_id": vm.owner_id, "purpose": vm.purpose, "data_categories": vm.data_categories}
        new = {"owner_id": claimer.pk, "purpose": purpose, "data_categories": data_categories}
        if old == new:
            continue
        vm.owner_id, vm.purpose, vm.data_categories = claimer.pk, purpose, data_categories
        changes.append(VMChange(vm=vm, kind=ChangeKind.REPURPOSED, at=now, user=user, old=old, new=new))
        entries.append(AuditEntry("vm.repurposed", vm, {"old": old, "new": new, "claimed": True}))
    VirtualMachine.objects.bulk_update(list(vms.values()), ["owner", "purpose", "data_categories"])
    VMChange.objects.bulk_create(changes)
    return entries


@transaction.atomic
def follow_ups_route(*, items: Iterable[ReconciliationItem], to_person: Person, user: User) -> int:
    """Send items to somebody else to answer: any active person for an officer, somebody in one's own part of the
    organisation for a manager. Their earlier answers are kept."""
    items = list(items)
    within = _person_ids_within(user)
    if not to_person.active:
        raise ValidationError({"to_person": f"{to_person.name} is no longer active."})
    if within is not None and to_person.pk not in within:
        raise PermissionDenied(f"{to_person.name} is not in your part of the organisation.")
    for item in items:
        if not follow_up_may_answer(item=item, user=user, within=within):
            raise PermissionDenied(f"{item}: not in your part of the organisation.")
    for item in items:
        item.routed_to = to_person
    ReconciliationItem.objects.bulk_update(items, ["routed_to"])
    audit_log_many(
        entries=[AuditEntry("reconciliation.routed", item, {"to": to_person.email}) for item in items], actor=user
    )
    return len(items)
