"""Governance findings (``inventory.Finding``) as the rogue, dormant and copied metrics read them: the findings of
one kind on live VMs of a scope that were unresolved at a moment, and whether any enabled policy looks for them.

A finding keeps when it opened, when it was resolved and when its state last changed, not each state it went
through: as of a past moment, a finding resolved since counts as open then, and one whose state changed since
counts as open then too.
"""

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import QueryRows, vm_scope_filter
from inventory.choices import FindingState, VMStatus
from inventory.models import Finding, Policy


def collect_findings(kind: str, *, scope: str, at) -> list[QueryRows]:
    """Three inputs: the enabled policies of ``kind``, the live VMs of the scope, and the findings unresolved at
    ``at`` on those VMs (id, VM, state then, opened at)."""
    policies = list(Policy.objects.filter(kind=kind, enabled=True).order_by("id").values_list("id", "name",
                                                                                              "version"))
    vms = live_vms(scope)
    findings = vm_scope_filter(
        Finding.objects.filter(kind=kind, policy__enabled=True, vm__status=VMStatus.PRESENT, vm__is_template=False,
                               opened_at__lte=at),
        scope, prefix="vm__",
    )
    rows = []
    for pk, vm_id, state, opened_at, changed_at in (
        findings.exclude(resolved_at__lte=at).order_by("id")
        .values_list("id", "vm_id", "state", "opened_at", "state_changed_at")
    ):
        then = state if state != FindingState.RESOLVED and changed_at <= at else FindingState.OPEN
        rows.append((pk, vm_id, then, opened_at))
    return [
        QueryRows("policies", f"Enabled governance policies of kind {kind}: id, name, version", {"kind": kind},
                  policies),
        QueryRows("vms", f"{live_words(scope)}: id", {"scope": scope}, list(vms.values_list("id"))),
        QueryRows("findings", f"Findings of kind {kind} on those VMs, unresolved at the evaluation's moment: id, "
                              "VM id, state then, opened at", {"kind": kind, "scope": scope}, rows),
    ]
