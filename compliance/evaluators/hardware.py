"""Virtual hardware currency: the share of live VMs whose hardware version (``vmx-N``) is at least the minimum.
A VM whose version is not reported counts as not current: nobody can show it is."""

import re

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import Measure, QueryRows, ids_sample, percent

VERSION = re.compile(r"(?:vmx-)?(\d+)")


def version_number(text: str) -> int | None:
    match = VERSION.fullmatch(text.strip().lower())
    return int(match[1]) if match else None


def collect(*, scope, parameters, at):
    rows = list(live_vms(scope).values_list("id", "hardware_version"))
    return [QueryRows("vms", f"{live_words(scope)}: id, hardware version", {"scope": scope}, rows)]


def measure(queries, *, scope, parameters, at):
    rows = queries["vms"].rows
    minimum = parameters["minimum_version"]
    if not rows:
        return Measure(None, "No live VMs in scope.")
    old = [pk for pk, text in rows if (version_number(text) or 0) < minimum]
    current = len(rows) - len(old)
    return Measure(percent(current, len(rows)), f"{current} of {len(rows)} live VMs at vmx-{minimum} or above.",
                   current, len(rows), {"below_minimum_sample": ids_sample(old)})
