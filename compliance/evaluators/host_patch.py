"""Host patch currency: among hosts running live VMs in scope, the share whose build is at least the minimum
patched build. A host without a build number counts as not current."""

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import Measure, QueryRows, ids_sample, percent
from inventory.models import Host


def collect(*, scope, parameters, at):
    hosts = Host.objects.filter(pk__in=live_vms(scope).filter(host__isnull=False).values("host_id")).order_by("id")
    rows = list(hosts.values_list("id", "name", "version", "build"))
    return [QueryRows("hosts", f"Hosts running {live_words(scope)}: id, name, version, build", {"scope": scope},
                      rows)]


def measure(queries, *, scope, parameters, at):
    rows = queries["hosts"].rows
    minimum = parameters["minimum_build"]
    if not rows:
        return Measure(None, "No hosts run VMs in scope.")
    old = [pk for pk, _, _, build in rows if not (build.isdigit() and int(build) >= minimum)]
    current = len(rows) - len(old)
    return Measure(percent(current, len(rows)), f"{current} of {len(rows)} hosts at build {minimum} or later.",
                   current, len(rows), {"below_minimum_sample": ids_sample(old)})
