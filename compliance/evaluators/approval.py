"""Approval rate: the share of live VMs whose sanction is approved (deployed on an approved request)."""

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import Measure, QueryRows, ids_sample, percent
from inventory.choices import Sanction


def collect(*, scope, parameters, at):
    rows = list(live_vms(scope).values_list("id", "sanction"))
    return [QueryRows("vms", f"{live_words(scope)}: id, sanction", {"scope": scope}, rows)]


def measure(queries, *, scope, parameters, at):
    rows = queries["vms"].rows
    if not rows:
        return Measure(None, "No live VMs in scope.")
    approved = sum(1 for _, sanction in rows if sanction == Sanction.APPROVED)
    others = [pk for pk, sanction in rows if sanction != Sanction.APPROVED]
    return Measure(
        percent(approved, len(rows)), f"{approved} of {len(rows)} live VMs approved.", approved, len(rows),
        {"not_approved_sample": ids_sample(others)},
    )
