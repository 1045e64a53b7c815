"""Dormant VM review: the governance policy opens a dormant finding for a VM powered off past its period (90 days
by default); the control counts those findings nobody reviewed (still open: not acknowledged, excepted or
resolved) more than ``review_days`` after they opened."""

from compliance.evaluators._findings import collect_findings
from compliance.evaluators.rogue import overdue_findings
from inventory.choices import FindingState, PolicyKind


def collect(*, scope, parameters, at):
    return collect_findings(PolicyKind.DORMANT, scope=scope, at=at)


def measure(queries, *, scope, parameters, at):
    return overdue_findings(queries, at=at, days=parameters["review_days"], pending=frozenset({FindingState.OPEN}),
                            what="dormant findings not reviewed")
