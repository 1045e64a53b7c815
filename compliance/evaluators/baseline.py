"""Hardening baseline pass rate: the share of live VMs whose advanced settings (vCenter extraConfig) hold every
setting of the baseline with its value, compared without regard to case (vCenter writes TRUE or true).
A VM whose advanced settings were never collected (an import carries none) cannot be judged and is left out;
the details count them."""

from compliance.evaluators._vms import live_vms, live_words
from compliance.evaluators.base import Measure, QueryRows, ids_sample, percent


def collect(*, scope, parameters, at):
    settings = parameters["settings"]
    rows = [
        (pk, {key: values.get(key) for key in sorted(settings)} if values else None)
        for pk, values in live_vms(scope).values_list("id", "advanced_settings")
    ]
    return [QueryRows("vms", f"{live_words(scope)}: id, the baseline's advanced settings",
                      {"scope": scope, "settings": settings}, rows)]


def measure(queries, *, scope, parameters, at):
    settings = parameters["settings"]
    if not settings:
        return Measure(None, "The control names no baseline settings.")
    rows = [row for row in queries["vms"].rows if row[1] is not None]
    unknown = len(queries["vms"].rows) - len(rows)
    if not rows:
        return Measure(None, f"No live VM in scope has its advanced settings collected ({unknown} without).")
    failing = [
        pk for pk, values in rows
        if any(str(values.get(key) or "").lower() != str(wanted).lower() for key, wanted in settings.items())
    ]
    passing = len(rows) - len(failing)
    words = f"{passing} of {len(rows)} live VMs with collected settings meet the baseline"
    words += f" ({unknown} without collected settings)." if unknown else "."
    return Measure(percent(passing, len(rows)), words, passing, len(rows),
                   {"failing_sample": ids_sample(failing), "not_collected": unknown})
