"""Rogue VM response: the governance policy opens a rogue finding for a VM running without approval past its
grace; the control counts those findings still open or acknowledged (not approved, removed or excepted) more
than ``grace_days`` after they opened, with the oldest one's age."""

from compliance.evaluators._findings import collect_findings
from compliance.evaluators.base import Measure, ids_sample
from inventory.choices import FindingState, PolicyKind

PENDING = frozenset({FindingState.OPEN, FindingState.ACKNOWLEDGED})


def collect(*, scope, parameters, at):
    return collect_findings(PolicyKind.ROGUE, scope=scope, at=at)


def measure(queries, *, scope, parameters, at):
    return overdue_findings(queries, at=at, days=parameters["grace_days"], pending=PENDING,
                            what="rogue findings unresolved")


def overdue_findings(queries, *, at, days: int, pending: frozenset, what: str) -> Measure:
    """The findings in ``pending`` states older than ``days``: not evaluated without an enabled policy or a VM."""
    if not queries["policies"].rows:
        return Measure(None, "No enabled governance policy looks for these findings.")
    if not queries["vms"].rows:
        return Measure(None, "No live VMs in scope.")
    ages = sorted(((at - opened).days, vm_id) for _, vm_id, state, opened in queries["findings"].rows
                  if state in pending)
    late = [(age, vm_id) for age, vm_id in ages if age > days]
    oldest = max((age for age, _ in ages), default=0)
    words = f"{len(late)} {what} more than {days} days"
    words += f" ({len(ages)} unresolved in all, oldest {oldest} days)." if ages else " (none unresolved)."
    return Measure(len(late), words, len(late), len(queries["vms"].rows),
                   {"unresolved": len(ages), "oldest_age_days": oldest,
                    "overdue_sample": ids_sample([vm_id for _, vm_id in reversed(late)])})
