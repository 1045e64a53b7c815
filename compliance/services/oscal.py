"""OSCAL assessment results (JSON, NIST OSCAL 1.1) for a framework and a period, for tools that read them.

One result for the period: the framework's requirements reached by the library's controls are the reviewed
controls; each control's newest evaluation in the period is an observation (a metric is a TEST, an attested
result an EXAMINE) whose inputs, with their SHA-256, are its relevant evidence; each requirement is a finding,
satisfied when every control reaching it is effective. The ready evidence packs of the framework covering the
period are back-matter resources with the PDF's SHA-256.

OSCAL identifiers are tokens (a letter first, then letters, digits, ``.``, ``-`` or ``_``): a citation such as
164.308(a)(1)(ii)(A) becomes ``hipaa-164.308-a-1-ii-A``; the citation itself stays in the finding's title.
"""

import datetime
import re
import uuid

from django.utils import timezone

from compliance.choices import EvaluationBasis, EvaluationStatus, PackState, Scope
from compliance.models import ControlEvaluation, EvidencePack, Framework
from compliance.selectors import (
    STRUCTURAL_KINDS,
    framework_rollup,
    framework_scope,
    latest_versions,
    requirement_tree,
)

OSCAL_VERSION = "1.1.2"
# A fixed namespace, so the same framework, period and evaluations give the same identifiers in every export.
NAMESPACE = uuid.UUID("6f1c4a52-3b8e-4d0c-9a57-0d3c2e9b7a10")
NOT_TOKEN = re.compile(r"[^A-Za-z0-9._-]+")


def oscal_token(framework: Framework, citation: str) -> str:
    return f"{framework.slug}-" + NOT_TOKEN.sub("-", citation).strip("-")


def _uuid(*parts) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


def _moment(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat(timespec="seconds")


def _day(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def oscal_assessment_results(*, framework: Framework, period_start: datetime.date, period_end: datetime.date,
                             produced_by: str) -> dict:
    """The assessment results document as a dict ready for ``json.dumps``."""
    starts, ends = _day(period_start), _day(period_end + datetime.timedelta(days=1))
    version = latest_versions().filter(framework=framework).first()
    requirements = requirement_tree(version=version) if version else []
    if version is not None:
        framework_rollup(version=version, requirements=requirements, at=ends)
    scope = framework_scope(framework.slug)
    controls = {control.pk: control for requirement in requirements for control, _ in requirement.controls}
    newest: dict[tuple[int, str], ControlEvaluation] = {}
    for evaluation in ControlEvaluation.objects.filter(
            control_id__in=controls, evaluated_at__gte=starts, evaluated_at__lt=ends,
            scope__in={scope, Scope.ESTATE}).order_by("evaluated_at", "id"):
        newest[(evaluation.control_id, evaluation.scope)] = evaluation
    # The framework's scope where the control counts it, else the estate's (metrics not per scope).
    latest = {control_id: newest.get((control_id, scope)) or newest[(control_id, Scope.ESTATE)]
              for control_id, _ in newest}
    key = (framework.slug, period_start, period_end)
    observations = [_observation(controls[control_id], evaluation, key) for control_id, evaluation in
                    sorted(latest.items(), key=lambda item: controls[item[0]].code)]
    observed = {control_id: _uuid(*key, "observation", controls[control_id].code) for control_id in latest}
    reviewed = [requirement for requirement in requirements
                if requirement.controls and requirement.kind not in STRUCTURAL_KINDS]
    findings = [_finding(framework, requirement, observed, key) for requirement in reviewed]
    packs = EvidencePack.objects.filter(framework=framework, state=PackState.READY, period_start__lte=period_start,
                                        period_end__gte=period_end).defer("pdf").order_by("-requested_at")[:10]
    resources = [{
        "uuid": _uuid(*key, "plan"),
        "title": f"vmcensus control library and the {framework.name} catalog",
        "description": f"The assessment plan: the library's controls reaching {framework.name}"
                       f"{f' catalog version {version.number}' if version else ''}, evaluated for the scope "
                       f"{scope}.",
    }] + [{
        "uuid": _uuid("pack", pack.pk),
        "title": f"Evidence pack {pack.pk}: {framework.name} {pack.period_start} to {pack.period_end}",
        "rlinks": [{"href": f"/compliance/packs/{pack.pk}/pack.pdf", "media-type": "application/pdf",
                    "hashes": [{"algorithm": "SHA-256", "value": pack.pdf_sha256}]}],
    } for pack in packs]
    result = {
        "uuid": _uuid(*key, "result"),
        "title": f"{framework.name}: {period_start} to {period_end}",
        "description": f"Controls of the vmcensus library evaluated from the portal's data for {framework.name}, "
                       f"{len(reviewed)} requirements reviewed.",
        "start": _moment(starts),
        "end": _moment(ends),
        "reviewed-controls": {"control-selections": [
            {"include-controls": [{"control-id": oscal_token(framework, r.citation)} for r in reviewed]}
            if reviewed else {"include-all": {}}
        ]},
    }
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    return {"assessment-results": {
        "uuid": str(uuid.uuid4()),
        "metadata": {
            "title": f"{framework.name} assessment results, {period_start} to {period_end}",
            "last-modified": _moment(timezone.now()),
            "version": "1",
            "oscal-version": OSCAL_VERSION,
            "remarks": f"Exported by vmcensus for {produced_by}.",
        },
        "import-ap": {"href": f"#{resources[0]['uuid']}"},
        "results": [result],
        "back-matter": {"resources": resources},
    }}


def _observation(control, evaluation: ControlEvaluation, key) -> dict:
    measured = f"value {evaluation.value.normalize():f} against {evaluation.threshold.normalize():f}; " \
        if evaluation.value is not None and evaluation.threshold is not None else ""
    observation = {
        "uuid": _uuid(*key, "observation", control.code),
        "title": f"{control.code} {control.title}",
        "description": f"{evaluation.get_status_display()}: {measured}{evaluation.summary}",
        "methods": ["EXAMINE" if evaluation.basis == EvaluationBasis.ATTESTATION else "TEST"],
        "collected": _moment(evaluation.evaluated_at),
    }
    evidence = [{"description": f"{item.get('name', 'input')}: {item.get('row_count')} rows, SHA-256 "
                                f"{item.get('sha256', '')}"} for item in evaluation.inputs or []]
    if evidence:
        observation["relevant-evidence"] = evidence
    return observation


def _finding(framework: Framework, requirement, observed: dict[int, str], key) -> dict:
    satisfied = requirement.status == EvaluationStatus.EFFECTIVE
    status = {"state": "satisfied" if satisfied else "not-satisfied"}
    if not satisfied:
        status["reason"] = requirement.status.replace("_", "-")
    finding = {
        "uuid": _uuid(*key, "finding", requirement.citation),
        "title": f"{requirement.citation} {requirement.title}",
        "description": "Controls: " + ", ".join(f"{control.code} ({status_.replace('_', ' ')})"
                                                for control, status_ in requirement.controls),
        "target": {"type": "objective-id", "target-id": oscal_token(framework, requirement.citation),
                   "status": status},
    }
    related = [{"observation-uuid": observed[control.pk]} for control, _ in requirement.controls
               if control.pk in observed]
    if related:
        finding["related-observations"] = related
    return finding
