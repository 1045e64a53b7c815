"""Writing a VM list: saving rows (the grid's autosave, a paste, an upload), pre-filling the VMs inventory attributes
to the person's area, and the person's disposition of each pre-filled row.

Rows come parsed by ``questionnaires.vm_rows.parse.vm_rows_parse``. ``declared_vms_save`` writes good rows as
``DeclaredVM``; ``declared_vms_prefill`` adds the VMs inventory already attributes to the person's area, to be
confirmed, corrected or disowned (``declared_vm_disposition_set``, or all the rows still to check at once:
``declared_vms_disposition_bulk_set``).
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from inventory.choices import Platform, PowerState, SourceKind, VMStatus
from inventory.models import VirtualMachine
from inventory.selectors import vm_attributed_q
from portal.models import User
from portal.services.audit import audit_log
from portal.tabular.cells import key
from questionnaires.choices import DeclaredVMStatus, Disposition, QuestionKind, VMPurpose
from questionnaires.models import Assignment, DeclaredVM, Question
from questionnaires.services.answers import (
    assignment_lock_for_edit,
    assignment_mark_started,
    assignment_question_check,
)
from questionnaires.vm_rows.columns import COLUMNS, PURPOSES
from questionnaires.vm_rows.parse import MAX_ROWS, ParsedRows, VMRow, vm_rows_parse

# Rows per INSERT / UPDATE: keeps a full list to a handful of statements within SQLite's parameter limit.
WRITE_BATCH_SIZE = 500
# Added to row numbers while a list is renumbered, so the unique (assignment, question, row) never collides.
RENUMBER_OFFSET = 1_000_000


def _question_check_vm_list(question: Question) -> None:
    if question.kind != QuestionKind.VM_LIST:
        raise ValidationError(f"“{question.text}” is not a VM list", code="not_vm_list")


@dataclass
class RowChange:
    """What a save did to a saved row: the input's row, the values it changed (column, old, new) and the columns
    the input did not supply that keep a value."""

    row: int
    name: str
    changed: list[tuple[str, Any, Any]]
    kept: list[str]


@dataclass
class SaveResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    total: int = 0
    changes: list[RowChange] = field(default_factory=list)


@transaction.atomic
def declared_vms_save(
    *,
    assignment: Assignment,
    question: Question,
    rows: list[VMRow],
    user: User | None,
    replace: bool = True,
) -> SaveResult:
    """Write good rows into the assignment's VM list (a draft), renumbered from 1 in list order.

    A row edits an existing one when it carries its ``declared_vm_id``, else
    when it has the same name (any case) as a row not yet matched; other rows
    are added (disposition added). An edited row changes only the columns the
    input supplied (``VMRow.given``: a file without an Owner column keeps
    every owner) and keeps its inventory link and disposition, except that a
    pre-filled row whose facts change becomes corrected; ``SaveResult.changes``
    says, row by row, what changed and what was kept. ``replace`` makes ``rows`` the list: rows typed before and not
    in it are deleted. Pre-filled rows are never deleted here (disown them):
    those not in ``rows`` stay, after the others. Without ``replace`` the rows
    are added after the list. At most ``MAX_ROWS`` rows not from inventory.

    Refused like ``answer_save``: campaign not active, assignment submitted
    or accepted (``ValidationError``), not the assignee (``PermissionDenied``).
    """
    assignment_lock_for_edit(assignment, user)
    assignment_question_check(assignment, question)
    _question_check_vm_list(question)
    listed = DeclaredVM.objects.filter(assignment=assignment, question=question)
    existing = list(listed.order_by("row", "id"))
    by_id = {declared.pk: declared for declared in existing}
    by_name: dict[str, list[DeclaredVM]] = {}
    # Pre-filled rows first: a pasted name most likely means the VM inventory already knows.
    for declared in sorted(existing, key=lambda declared: declared.inventory_vm_id is None):
        by_name.setdefault(declared.name.casefold(), []).append(declared)
    old_rows = {declared.pk: declared.row for declared in existing}
    edited: set[int] = set()
    used: set[int] = set()
    result = SaveResult()
    incoming: list[DeclaredVM] = []
    for row in rows:
        facts = row.given_facts()
        target = by_id.get(row.declared_vm_id) if row.declared_vm_id else None
        if target is None or target.pk in used:
            candidates = [d for d in by_name.get(row.name.casefold(), []) if d.pk not in used]
            target = candidates[0] if candidates else None
        if target is None:
            incoming.append(DeclaredVM(
                assignment=assignment, question=question, row=0, disposition=Disposition.ADDED, **row.facts()
            ))
            result.created += 1
            continue
        used.add(target.pk)
        kept = [name for name in COLUMNS if name not in row.given and getattr(target, name) not in ("", None, [])]
        changed = [(name, getattr(target, name), value) for name, value in facts.items()
                   if getattr(target, name) != value]
        if changed or kept:
            result.changes.append(RowChange(row=row.row, name=row.name, changed=changed, kept=kept))
        if changed:
            for name, value in facts.items():
                setattr(target, name, value)
            if target.inventory_vm_id and target.disposition in (Disposition.PENDING, Disposition.CONFIRMED):
                target.disposition = Disposition.CORRECTED
            edited.add(target.pk)
            result.updated += 1
        else:
            result.unchanged += 1
        incoming.append(target)
    leftovers = [declared for declared in existing if declared.pk not in used]
    if replace:
        deleted = [declared.pk for declared in leftovers if declared.inventory_vm_id is None]
        final = incoming + [declared for declared in leftovers if declared.inventory_vm_id is not None]
    else:
        deleted = []
        final = existing + [declared for declared in incoming if not declared.pk]
    typed = sum(1 for declared in final if declared.inventory_vm_id is None)
    if typed > MAX_ROWS:
        raise ValidationError(f"a VM list may hold at most {MAX_ROWS:,} rows besides those from inventory ({typed:,})")
    for start in range(0, len(deleted), WRITE_BATCH_SIZE):
        DeclaredVM.objects.filter(pk__in=deleted[start : start + WRITE_BATCH_SIZE]).delete()
    result.deleted = len(deleted)
    for number, declared in enumerate(final, start=1):
        declared.row = number
    # Only rows that moved or changed are written: saving a grid with one edit is one UPDATE, not a whole list.
    moved = [declared.pk for declared in final if declared.pk and declared.row != old_rows[declared.pk]]
    for start in range(0, len(moved), WRITE_BATCH_SIZE):
        DeclaredVM.objects.filter(pk__in=moved[start : start + WRITE_BATCH_SIZE]).update(row=F("row") + RENUMBER_OFFSET)
    changed = [declared for declared in final if declared.pk in edited]
    if changed:
        DeclaredVM.objects.bulk_update(changed, ["row", *COLUMNS, "disposition"], batch_size=WRITE_BATCH_SIZE)
    moved_only_ids = set(moved) - edited
    moved_only = [declared for declared in final if declared.pk in moved_only_ids]
    if moved_only:
        DeclaredVM.objects.bulk_update(moved_only, ["row"], batch_size=WRITE_BATCH_SIZE)
    DeclaredVM.objects.bulk_create([d for d in final if not d.pk], batch_size=WRITE_BATCH_SIZE)
    result.total = len(final)
    assignment_mark_started(assignment)
    return result


@dataclass
class GridSave:
    """What a grid save did: the rows as parsed (with every problem) and what was written (None: nothing)."""

    parsed: ParsedRows
    saved: SaveResult | None


@transaction.atomic
def declared_vms_grid_save(
    *, assignment: Assignment, question: Question, grid: list[dict], user: User | None, replace: bool = True
) -> GridSave:
    """Save the rows of a VM grid (the page's autosave, the API): refused before any cell is named when the list
    may not change; the good rows are saved even when others are bad, and while any row has a problem nothing is
    deleted (the person is still fixing the list)."""
    assignment_lock_for_edit(assignment, user)
    parsed = vm_rows_parse(grid=grid)
    saved = None
    if parsed.rows or not parsed.problems:
        saved = declared_vms_save(
            assignment=assignment, question=question, rows=parsed.rows, user=user,
            replace=replace and not parsed.problems,
        )
    return GridSave(parsed=parsed, saved=saved)


POWER_STATUSES = {
    PowerState.ON: DeclaredVMStatus.RUNNING,
    PowerState.OFF: DeclaredVMStatus.STOPPED,
    PowerState.SUSPENDED: DeclaredVMStatus.STOPPED,
}
# Sources whose VMs are vSphere VMs: their ``platform`` is left empty by the collector and the RVTools reader.
VSPHERE_SOURCES = (SourceKind.VCENTER, SourceKind.RVTOOLS)


def _address(ip_addresses: list[str]) -> str:
    """The first IPv4 address, else the first address."""
    for address in ip_addresses:
        if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", address):
            return address
    return ip_addresses[0] if ip_addresses else ""


def _inventory_facts(vm: VirtualMachine) -> dict[str, Any]:
    """What inventory knows of a VM, as VM list values."""
    if vm.source.kind in VSPHERE_SOURCES:
        platform = Platform.VMWARE_ESXI.value
    elif vm.platform in Platform.values:
        platform = vm.platform
    else:
        platform = Platform.OTHER.value if vm.platform else ""
    purpose = PURPOSES.get(key(vm.purpose), "") if vm.purpose else ""
    return {
        "name": vm.name[:255],
        "address": _address(vm.ip_addresses or []),
        "platform": platform,
        "software": vm.host.product[:200] if vm.host else "",
        "location": " / ".join(part.name for part in (vm.datacenter, vm.cluster) if part is not None)[:200],
        "created_on": timezone.localdate(vm.created_at) if vm.created_at else None,
        "created_by": vm.created_by[:200],
        "purpose": purpose or (VMPurpose.OTHER.value if vm.purpose else ""),
        "purpose_other": "" if purpose or not vm.purpose else vm.purpose[:200],
        "status": POWER_STATUSES.get(vm.power_state, ""),
        "owner": vm.owner.name[:200] if vm.owner else "",
        "data_categories": [],
        "notes": "",
    }


@transaction.atomic
def declared_vms_prefill(*, assignment: Assignment, question: Question) -> int:
    """Add to the VM list the VMs inventory attributes to the assignee's area; return how many were added.

    Attributed: owned by the assignee, or without an owner and under a
    cluster, folder or resource pool one of the assignee's area mappings
    patterns starts (any case); present or missing, not templates; not
    already in the list. Rows start pending, linked to the inventory VM, with
    its facts; the person confirms, corrects or disowns each. Safe to run
    again. Refused like ``answer_save`` (a system job: no user check).
    """
    assignment_lock_for_edit(assignment, None)
    assignment_question_check(assignment, question)
    _question_check_vm_list(question)
    listed = DeclaredVM.objects.filter(assignment=assignment, question=question)
    already = set(listed.exclude(inventory_vm=None).values_list("inventory_vm_id", flat=True))
    last_row = listed.aggregate(last=Max("row"))["last"] or 0
    vms = (
        VirtualMachine.objects.filter(
            vm_attributed_q(assignment.person),
            status__in=[VMStatus.PRESENT, VMStatus.MISSING],
            is_template=False,
        )
        .select_related("source", "datacenter", "cluster", "host", "owner")
        .order_by("name", "id")
    )
    new_rows = [
        DeclaredVM(
            assignment=assignment,
            question=question,
            row=last_row + number,
            disposition=Disposition.PENDING,
            inventory_vm=vm,
            **_inventory_facts(vm),
        )
        for number, vm in enumerate((vm for vm in vms if vm.pk not in already), start=1)
    ]
    DeclaredVM.objects.bulk_create(new_rows, batch_size=WRITE_BATCH_SIZE)
    return len(new_rows)


@transaction.atomic
def declared_vm_disposition_set(*, declared_vm: DeclaredVM, disposition: str, user: User | None) -> DeclaredVM:
    """Confirm, correct or disown a pre-filled row. Disowned rows stay in the list but do not count as declared.

    Rows the person added themselves have no disposition to set (delete them
    instead). Refused like ``answer_save``.
    """
    assignment = declared_vm.assignment
    assignment_lock_for_edit(assignment, user)
    if disposition not in Disposition.values:
        raise ValidationError(f"{disposition!r} is not a disposition", code="invalid_choice")
    if declared_vm.inventory_vm_id is None:
        raise ValidationError(f"{declared_vm.name}: a VM you added has no disposition to set", code="not_prefilled")
    allowed = (Disposition.CONFIRMED, Disposition.CORRECTED, Disposition.DISOWNED)
    if disposition not in allowed:
        raise ValidationError(
            f"{declared_vm.name}: a VM from inventory is confirmed, corrected or disowned, not {disposition}",
            code="invalid_choice",
        )
    if declared_vm.disposition != disposition:
        declared_vm.disposition = disposition
        declared_vm.save(update_fields=["disposition"])
    assignment_mark_started(assignment)
    return declared_vm


# What the bulk action may set on every row still to check: confirm them all, or disown them all.
BULK_DISPOSITIONS = (Disposition.CONFIRMED, Disposition.DISOWNED)


@transaction.atomic
def declared_vms_disposition_bulk_set(*, assignment: Assignment, question: Question, disposition: str,
                                      user: User | None) -> int:
    """Confirm (or disown) at once every pre-filled row of the list still to check; return how many changed.

    One UPDATE of the pending rows from inventory, in the audit trail (action
    ``vm_list.disposition_bulk_set``). Rows already confirmed, corrected or
    disowned, and rows the person added, are left alone. Refused like
    ``declared_vm_disposition_set``.
    """
    assignment_lock_for_edit(assignment, user)
    assignment_question_check(assignment, question)
    _question_check_vm_list(question)
    if disposition not in BULK_DISPOSITIONS:
        raise ValidationError(
            f"{disposition!r}: the rows still to check are all confirmed or all disowned at once", code="invalid_choice"
        )
    changed = DeclaredVM.objects.filter(
        assignment=assignment, question=question, inventory_vm__isnull=False, disposition=Disposition.PENDING
    ).update(disposition=disposition)
    if changed:
        audit_log(
            action="vm_list.disposition_bulk_set",
            actor=user,
            obj=assignment,
            details={"question": question.key, "disposition": disposition, "rows": changed},
        )
    assignment_mark_started(assignment)
    return changed
