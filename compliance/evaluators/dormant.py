"""Dormant VMs: live VMs powered off whose last power change (or, with none recorded, their first sighting) is
older than the dormancy period (90 days by default, as the governance policy's)."""

import datetime

from django.db.models import Max, Q

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import Measure, QueryRows, ids_sample
from inventory.choices import ChangeKind, PowerState


def collect(*, scope, parameters, at):
    rows = list(
        live_vms(scope)
        .annotate(last_power=Max("changes__at", filter=Q(changes__kind=ChangeKind.POWER_CHANGED)))
        .values_list("id", "power_state", "first_seen", "last_power")
    )
    return [QueryRows("vms", f"{live_words(scope)}: id, power state, first seen, last power change",
                      {"scope": scope}, rows)]


def measure(queries, *, scope, parameters, at):
    if not queries["vms"].rows:
        return Measure(None, "No live VMs in scope.")
    cutoff = at - datetime.timedelta(days=parameters["dormant_days"])
    idle = sorted(
        (last or first, pk) for pk, power, first, last in queries["vms"].rows
        if power == PowerState.OFF and (last or first) < cutoff
    )
    oldest = (at - idle[0][0]).days if idle else 0
    words = f"{len(idle)} VMs powered off for more than {parameters['dormant_days']} days"
    words += f" (longest {oldest} days)." if idle else "."
    return Measure(len(idle), words, len(idle), len(queries["vms"].rows),
                   {"oldest_age_days": oldest, "dormant_sample": ids_sample([pk for _, pk in idle])})
