"""Copied VMs: live VMs that share their BIOS UUID with another live VM (copied without a new identity)."""

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import Measure, QueryRows, ids_sample


def collect(*, scope, parameters, at):
    population = list(live_vms(scope).values_list("id", "copied", "bios_uuid"))
    return [QueryRows("vms", f"{live_words(scope)}: id, copied, BIOS UUID", {"scope": scope}, population)]


def measure(queries, *, scope, parameters, at):
    rows = queries["vms"].rows
    if not rows:
        return Measure(None, "No live VMs in scope.")
    copies = [pk for pk, copied, _ in rows if copied]
    return Measure(len(copies), f"{len(copies)} of {len(rows)} live VMs share a BIOS UUID with another.",
                   len(copies), len(rows), {"copied_sample": ids_sample(copies)})
