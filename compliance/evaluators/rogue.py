"""Rogue VMs: live VMs not approved and first seen more than the grace period ago, with the oldest one's age."""

import datetime

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import Measure, QueryRows, ids_sample
from inventory.choices import Sanction


def collect(*, scope, parameters, at):
    rows = list(live_vms(scope).values_list("id", "sanction", "first_seen"))
    return [QueryRows("vms", f"{live_words(scope)}: id, sanction, first seen", {"scope": scope}, rows)]


def measure(queries, *, scope, parameters, at):
    if not queries["vms"].rows:
        return Measure(None, "No live VMs in scope.")
    cutoff = at - datetime.timedelta(days=parameters["grace_days"])
    rogue = sorted(
        (first_seen, pk) for pk, sanction, first_seen in queries["vms"].rows
        if sanction != Sanction.APPROVED and first_seen < cutoff
    )
    oldest = (at - rogue[0][0]).days if rogue else 0
    words = f"{len(rogue)} VMs running without approval past {parameters['grace_days']} days"
    words += f" (oldest {oldest} days)." if rogue else "."
    return Measure(len(rogue), words, len(rogue), len(queries["vms"].rows),
                   {"oldest_age_days": oldest, "rogue_sample": ids_sample([pk for _, pk in rogue])})
