"""The audit trail: append a hash-chained event, and verify the chain."""

import datetime
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from portal.models import AuditAnchor, AuditEvent, User

logger = logging.getLogger(__name__)

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
# The longest user name a failed login records: enough to tell a typo from an attack, never a pasted essay.
FAILED_LOGIN_NAME_MAX = 150


def session_login_record(*, user: User, address: str) -> AuditEvent:
    """A person signed in through the login page."""
    return audit_log(action="auth.login", actor=user, details={"address": address})


def session_login_failed_record(*, username: str, address: str) -> AuditEvent:
    """A refused sign-in: the user name as typed (cut to ``FAILED_LOGIN_NAME_MAX``), never the password."""
    name = (username or "").strip()
    shown = name[:FAILED_LOGIN_NAME_MAX] + ("…" if len(name) > FAILED_LOGIN_NAME_MAX else "")
    return audit_log(action="auth.login_failed", actor_label="anonymous",
                     details={"username": shown, "address": address})


def session_logout_record(*, user: User, address: str) -> AuditEvent:
    return audit_log(action="auth.logout", actor=user, details={"address": address})


def export_record(*, user: User, subject: str, export: str, filters: dict[str, str], rows: int) -> AuditEvent:
    """Data leaving the portal is an auditable act: who downloaded which list (``subject``: "audit", "inventory"),
    in which format, with which filters, how many rows."""
    return audit_log(action=f"{subject}.exported", actor=user,
                     details={"export": export, "filters": filters, "rows": rows})


@transaction.atomic
def audit_anchor_create(*, actor: User | None = None, actor_label: str = "system: audit_anchor") -> AuditAnchor:
    """Anchor the trail's head: log an ``audit.anchored`` event and record its sequence and hash.

    The anchor is also written to the log, the copy meant to be kept outside the database (an anchor in the
    same database can be emptied with the trail).
    """
    event = audit_log(action="audit.anchored", actor=actor, actor_label=actor_label)
    anchor = AuditAnchor.objects.create(
        sequence=event.sequence, hash=event.hash, created_at=event.at, created_by=actor,
        created_by_label=event.actor_label,
    )
    logger.info("Audit anchor: %s (taken by %s); keep it outside the database", anchor.text, anchor.created_by_label)
    return anchor


@dataclass(frozen=True)
class AnchorPoint:
    """What an anchor says: the trail's event ``sequence`` had ``hash``."""

    sequence: int
    hash: str

    @property
    def text(self) -> str:
        return f"{self.sequence}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> "AnchorPoint":
        match = re.fullmatch(r"\s*([1-9][0-9]*):([0-9a-f]{64})\s*", text)
        if match is None:
            raise ValueError(f"{text!r} is not an anchor: expected SEQUENCE:HASH (a number, a colon, 64 hex digits)")
        return cls(int(match[1]), match[2])


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    event_id: int | None
    reason: str
    cut_short: bool = False


def _events_in_order() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("sequence").iterator(chunk_size=VERIFY_CHUNK_SIZE)


def audit_anchor_points(*, extra: Iterable[AnchorPoint] = ()) -> list[AnchorPoint]:
    """Every anchor stored in the database, and ``extra`` ones (kept elsewhere), highest sequence last."""
    stored = AuditAnchor.objects.values_list("sequence", "hash")
    return sorted({AnchorPoint(sequence, hash_) for sequence, hash_ in stored} | set(extra),
                  key=lambda point: point.sequence)


def audit_chain_verify(*, anchors: Iterable[AnchorPoint] = ()) -> tuple[int, ChainBreak | None]:
    """Walk the trail in order; return how many events are intact and the first break, if any.

    Each of ``anchors`` must match the event of its sequence, and the trail must reach the highest one: a
    trail cut short at its end, or emptied, is otherwise a valid chain.
    """
    anchors = list(anchors)
    anchored: dict[int, list[AnchorPoint]] = {}
    for point in anchors:
        anchored.setdefault(point.sequence, []).append(point)
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
        for point in anchored.get(event.sequence, ()):
            if point.hash != event.hash:
                return checked, ChainBreak(event.sequence, event.pk, f"its hash differs from the anchor {point.text}")
        previous_hash = event.hash
        expected_sequence += 1
        checked += 1
    beyond = [point for point in anchors if point.sequence > checked]
    if beyond:
        last = max(beyond, key=lambda point: point.sequence)
        return checked, ChainBreak(
            checked + 1, None,
            f"it ends at event #{checked}, but the anchor {last.text} recorded it at #{last.sequence}",
            cut_short=True,
        )
    return checked, None
