"""Audit trail intact: the hash chain verifies from the first event to the last, and against every anchor.
The stored row is the chain's head (last sequence and hash): a re-check says whether the trail is the same."""

from compliance.evaluators.base import Measure, QueryRows
from portal.models import AuditEvent
from portal.services.audit import audit_anchor_points, audit_chain_verify


def collect(*, scope, parameters, at):
    checked, problem = audit_chain_verify(anchors=audit_anchor_points())
    head = AuditEvent.objects.filter(at__lte=at).order_by("-sequence").values_list("sequence", "hash").first()
    rows = [(checked, problem.sequence if problem else None, problem.reason if problem else None, *(head or ()))]
    return [QueryRows("chain", "The audit trail verified in sequence order against its anchors: events intact, "
                               "first break, head sequence and hash", {}, rows)]


def measure(queries, *, scope, parameters, at):
    checked, break_at, reason, *_ = queries["chain"].rows[0]
    if break_at is None:
        return Measure(1, f"The chain of {checked} events verifies.", checked, checked)
    return Measure(0, f"The chain breaks at event #{break_at}: {reason}.", checked, None,
                   {"break_sequence": break_at, "reason": reason})
