"""Inventory coverage: of the scanned VMs in the latest reconciled campaign's scope, the share declared and
matched by their owners. A declared VM whose facts differ (mismatch) is still declared and matched; one declared
twice by different people (conflict) or declared by nobody (undeclared) is not."""

from compliance.evaluators.base import Measure, QueryRows, ids_sample, percent, scope_words, vm_scope_filter
from questionnaires.choices import ReconciliationState
from questionnaires.models import ReconciliationItem, ReconciliationRun

COVERED = frozenset({ReconciliationState.MATCHED, ReconciliationState.MISMATCH})


def collect(*, scope, parameters, at):
    latest = ReconciliationRun.objects.filter(finished_at__isnull=False, finished_at__lte=at).order_by(
        "-finished_at", "-id"
    ).values_list("campaign_id", "id").first()
    if latest is None:
        return [QueryRows("items", "Reconciliation items of the latest reconciled campaign: none reconciled yet",
                          {"scope": scope, "campaign": None}, [])]
    campaign_id, run_id = latest
    items = vm_scope_filter(
        ReconciliationItem.objects.filter(campaign_id=campaign_id, vm__isnull=False), scope, prefix="vm__"
    )
    rows = list(items.order_by("id").values_list("id", "vm_id", "state"))
    return [QueryRows(
        "items",
        f"Reconciliation items of campaign {campaign_id} (run {run_id}) that reach an inventory VM"
        f"{scope_words(scope)}: id, VM id, state",
        {"scope": scope, "campaign": campaign_id, "run": run_id}, rows,
    )]


def measure(queries, *, scope, parameters, at):
    query = queries["items"]
    if query.parameters.get("campaign") is None:
        return Measure(None, "No campaign has been reconciled yet.")
    scanned: dict[int, bool] = {}
    for _, vm_id, state in query.rows:
        scanned[vm_id] = scanned.get(vm_id, False) or state in COVERED
    if not scanned:
        return Measure(None, "The latest reconciled campaign reaches no scanned VM in scope.")
    covered = sum(scanned.values())
    gaps = [vm_id for vm_id, ok in sorted(scanned.items()) if not ok]
    return Measure(percent(covered, len(scanned)), f"{covered} of {len(scanned)} scanned VMs declared and matched.",
                   covered, len(scanned), {"campaign": query.parameters["campaign"], "gap_sample": ids_sample(gaps)})
