"""The audit trail: append a hash-chained event, and verify the chain."""

import datetime
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from portal.models import AuditEvent, User

GENESIS_HASH = "0" * 64
# Any fixed 64-bit number: the advisory lock that serialises writers of the chain on PostgreSQL.
AUDIT_CHAIN_LOCK_KEY = 727_001
# Rows read per round trip while verifying; keeps memory flat on long trails.
VERIFY_CHUNK_SIZE = 5000
# Events per INSERT of audit_log_many: 11 columns a row, within SQLite's bound-parameter limit.
AUDIT_WRITE_BATCH_SIZE = 80


def _canonical(value: Any) -> Any:
    """The JSON form a value has once stored, so the hash can be recomputed from the row."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_event_hash(event: AuditEvent) -> str:
    """SHA-256 over the event's content and the previous event's hash."""
    content = {
        "sequence": event.sequence,
        "at": event.at.astimezone(datetime.UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "details": event.details,
        "previous_hash": event.previous_hash,
    }
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One event to append with ``audit_log_many``: what was done, to what, with which details."""

    action: str
    obj: models.Model | None = None
    details: dict[str, Any] | None = None


def _lock_chain() -> dict | None:
    """Take the chain's lock (PostgreSQL; SQLite serialises writers) and return the last event's sequence and hash."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK_KEY])
    return AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()


def _chained(entries: Iterable[AuditEntry], *, actor: User | None, actor_label: str, last: dict | None):
    """The events of ``entries``, numbered and hash-chained after ``last``."""
    sequence, previous_hash = (last["sequence"], last["hash"]) if last else (0, GENESIS_HASH)
    label = (str(actor) if actor else actor_label or "system")[:200]
    at = timezone.now()
    for entry in entries:
        sequence += 1
        obj = entry.obj
        event = AuditEvent(
            sequence=sequence,
            at=at,
            actor=actor,
            actor_label=label,
            action=entry.action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            object_repr=str(obj)[:300] if obj is not None else "",
            details=_canonical(entry.details or {}),
            previous_hash=previous_hash,
        )
        event.hash = previous_hash = audit_event_hash(event)
        yield event


def audit_log(
    *,
    action: str,
    actor: User | None = None,
    actor_label: str = "",
    obj: models.Model | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the trail, in the caller's transaction.

    ``actor`` is the user who acted; system jobs pass ``actor_label`` instead
    (e.g. "system: scan"). The chain is extended under a lock so two writers
    never claim the same sequence number.
    """
    with transaction.atomic():
        (event,) = _chained(
            [AuditEntry(action, obj, details)], actor=actor, actor_label=actor_label, last=_lock_chain()
        )
        event.save(force_insert=True)
    return event


def audit_log_many(
    *, entries: Iterable[AuditEntry], actor: User | None = None, actor_label: str = ""
) -> list[AuditEvent]:
    """Append many events by one actor under one lock of the chain, inserted in batches: an action over
    thousands of VMs (a policy run, a bulk acknowledgement) writes its trail in a few statements."""
    with transaction.atomic():
        events = list(_chained(entries, actor=actor, actor_label=actor_label, last=_lock_chain()))
        AuditEvent.objects.bulk_create(events, batch_size=AUDIT_WRITE_BATCH_SIZE)
    return events


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    event_id: int | None
    reason: str


def _events_in_order() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("sequence").iterator(chunk_size=VERIFY_CHUNK_SIZE)


def audit_chain_verify() -> tuple[int, ChainBreak | None]:
    """Walk the trail in order; return how many events are intact and the first break, if any."""
    expected_sequence = 1
    previous_hash = GENESIS_HASH
    checked = 0
    for event in _events_in_order():
        if event.sequence != expected_sequence:
            return checked, ChainBreak(
                expected_sequence, None, f"event #{expected_sequence} is missing (next found is #{event.sequence})"
            )
        if event.previous_hash != previous_hash:
            return checked, ChainBreak(
                event.sequence, event.pk, "its previous-hash does not match the event before it"
            )
        if audit_event_hash(event) != event.hash:
            return checked, ChainBreak(event.sequence, event.pk, "its content does not match its hash (edited)")
        previous_hash = event.hash
        expected_sequence += 1
        checked += 1
    return checked, None
