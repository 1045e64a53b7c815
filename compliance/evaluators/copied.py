"""Copied VM detection: the governance policy opens a copied finding for live VMs sharing a BIOS UUID; the control
counts those findings still open or acknowledged more than ``grace_days`` after they opened."""

from compliance.evaluators._findings import collect_findings
from compliance.evaluators.rogue import PENDING, overdue_findings
from inventory.choices import PolicyKind


def collect(*, scope, parameters, at):
    return collect_findings(PolicyKind.COPIED, scope=scope, at=at)


def measure(queries, *, scope, parameters, at):
    return overdue_findings(queries, at=at, days=parameters["grace_days"], pending=PENDING,
                            what="copied findings unresolved")
