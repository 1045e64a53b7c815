"""VMware Tools currency: among powered-on live VMs, the share whose Tools status is OK (installed, running,
current); vCenter reports ``toolsOk``, ``toolsOld``, ``toolsNotRunning`` or ``toolsNotInstalled``."""

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import Measure, QueryRows, ids_sample, percent
from inventory.choices import PowerState

CURRENT = "toolsok"


def collect(*, scope, parameters, at):
    rows = list(live_vms(scope).filter(power_state=PowerState.ON).values_list("id", "tools_status", "tools_version"))
    return [QueryRows("vms", f"{live_words(scope)}, powered on: id, tools status, tools version",
                      {"scope": scope, "power_state": PowerState.ON}, rows)]


def measure(queries, *, scope, parameters, at):
    rows = queries["vms"].rows
    if not rows:
        return Measure(None, "No powered-on VMs in scope.")
    stale = [pk for pk, status, _ in rows if status.lower() != CURRENT]
    current = len(rows) - len(stale)
    return Measure(percent(current, len(rows)), f"{current} of {len(rows)} powered-on VMs have current Tools.",
                   current, len(rows), {"not_current_sample": ids_sample(stale)})
