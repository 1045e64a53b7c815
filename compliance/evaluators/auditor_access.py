"""Auditor access expires: active auditor logins whose access has no expiry date, or one further away than the
limit. A login already past its date is refused at sign-in and does not count."""

import datetime

from compliance.evaluators.base import Measure, QueryRows, ids_sample
from portal.choices import Role
from portal.models import User


def collect(*, scope, parameters, at):
    rows = list(
        User.objects.filter(is_active=True, groups__name=Role.AUDITOR).distinct().order_by("id")
        .values_list("id", "username", "access_expires_on")
    )
    return [QueryRows("auditors", "Active logins with the auditor role: id, username, access expires on",
                      {"role": Role.AUDITOR}, rows)]


def measure(queries, *, scope, parameters, at):
    rows = queries["auditors"].rows
    if not rows:
        return Measure(0, "No active auditor login.", 0, 0)
    latest = at.date() + datetime.timedelta(days=parameters["max_days"])
    open_ended = [pk for pk, _, expires in rows if expires is None or expires > latest]
    words = f"{len(open_ended)} of {len(rows)} auditor logins without an expiry within {parameters['max_days']} days."
    return Measure(len(open_ended), words, len(open_ended), len(rows), {"open_ended_sample": ids_sample(open_ended)})
