"""Scan freshness: of the enabled vCenter sources, the share whose newest complete scan finished within the
window. Import sources are refreshed by importing a newer file and are not counted."""

import datetime

from django.db.models import Max, Q

from compliance.evaluators.base import Measure, QueryRows, percent
from inventory.choices import ScanStatus, SourceKind
from inventory.models import Source


def collect(*, scope, parameters, at):
    complete = Q(scan_runs__status=ScanStatus.COMPLETE, scan_runs__finished_at__lte=at)
    rows = list(
        Source.objects.filter(enabled=True, kind=SourceKind.VCENTER).annotate(
            last_complete=Max("scan_runs__finished_at", filter=complete)
        ).order_by("id").values_list("id", "name", "last_complete")
    )
    return [QueryRows("sources", "Enabled vCenter sources: id, name, newest complete scan's finish",
                      {"kind": SourceKind.VCENTER}, rows)]


def measure(queries, *, scope, parameters, at):
    rows = queries["sources"].rows
    if not rows:
        return Measure(None, "No enabled vCenter source.")
    cutoff = at - datetime.timedelta(hours=parameters["max_age_hours"])
    per_source = {name: (last.isoformat() if last else None) for _, name, last in rows}
    stale = sorted(name for _, name, last in rows if last is None or last < cutoff)
    fresh = len(rows) - len(stale)
    words = f"{fresh} of {len(rows)} sources scanned within {parameters['max_age_hours']} hours"
    words += f" (stale: {', '.join(stale)})." if stale else "."
    return Measure(percent(fresh, len(rows)), words, fresh, len(rows), {"sources": per_source, "stale": stale})
