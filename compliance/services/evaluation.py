"""Evaluating the automated controls from the portal's data, storing each result with its inputs, and
re-checking a stored result by running its queries again.

One run evaluates every automated control that is not retired: for a metric that counts VMs, over the whole
estate and over each framework's scope (HIPAA: VMs holding ePHI, SOX: financial reporting, GLBA: customer
financial data); otherwise once, for the estate. The same door serves the Celery task (after a complete scan,
a reconciliation run, a campaign close, and daily) and ``manage.py evaluate_controls``.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from compliance.choices import EvaluationBasis, EvaluationStatus, EvaluationTrigger, Scope
from compliance.evaluators import EVALUATORS
from compliance.evaluators.base import Measure, QueryRows
from compliance.evaluators.specs import SCOPE_CATEGORIES, SPECS
from compliance.models import Control, ControlEvaluation, EvaluationRun
from portal.models import User
from portal.services.audit import audit_log

SCOPES = (Scope.ESTATE, *SCOPE_CATEGORIES)
# ControlEvaluation rows written per statement: a run writes about a hundred.
EVALUATION_WRITE_BATCH = 500


def control_parameters(control: Control) -> dict:
    """The control's metric settings: its own over the metric's defaults."""
    return {**SPECS[control.metric].parameters, **control.parameters}


def control_scopes(control: Control) -> tuple[str, ...]:
    return SCOPES if SPECS[control.metric].scoped else (Scope.ESTATE,)


def _status(metric: str, measure: Measure, threshold) -> str:
    if measure.value is None:
        return EvaluationStatus.NOT_EVALUATED
    effective = SPECS[metric].effective(measure.value, threshold)
    return EvaluationStatus.EFFECTIVE if effective else EvaluationStatus.DEFICIENT


def _collect(metric: str, *, scope: str, parameters: dict, at: datetime) -> dict[str, QueryRows]:
    return {query.name: query for query in EVALUATORS[metric].collect(scope=scope, parameters=parameters, at=at)}


@transaction.atomic
def controls_evaluate(
    *, trigger: str, user: User | None = None, at: datetime | None = None
) -> EvaluationRun | None:
    """Evaluate every automated control now (or as of ``at``); returns the run with its counts per status, or
    None when the library has no automated control (nothing loaded yet: no run, nothing in the audit trail).

    The daily run happens once a day: a second delivery of the beat's task returns that day's run."""
    at = at or timezone.now()
    # One run at a time: the library's rows are locked, so a second daily delivery waits and then sees the first.
    controls = list(Control.objects.select_for_update().filter(retired_at__isnull=True).exclude(metric="")
                    .order_by("code"))
    if not controls:
        return None
    if trigger == EvaluationTrigger.DAILY:
        done = EvaluationRun.objects.filter(trigger=trigger, started_at__date=timezone.localdate(at)).first()
        if done is not None:
            return done
    run = EvaluationRun.objects.create(trigger=trigger, requested_by=user, started_at=timezone.now())
    collected: dict[tuple, dict[str, QueryRows]] = {}  # two controls on one metric and settings read once
    evaluations = []
    for control in controls:
        parameters = control_parameters(control)
        for scope in control_scopes(control):
            key = (control.metric, scope, json.dumps(parameters, sort_keys=True))
            if key not in collected:
                collected[key] = _collect(control.metric, scope=scope, parameters=parameters, at=at)
            queries = collected[key]
            measure = EVALUATORS[control.metric].measure(queries, scope=scope, parameters=parameters, at=at)
            evaluations.append(ControlEvaluation(
                control=control, run=run, basis=EvaluationBasis.METRIC, scope=scope, evaluated_at=at,
                status=_status(control.metric, measure, control.threshold), metric=control.metric, value=measure.value,
                threshold=control.threshold, parameters=parameters, control_version=control.version,
                numerator=measure.numerator, denominator=measure.denominator, summary=measure.summary[:500],
                details=measure.details, inputs=[query.stored() for query in queries.values()],
            ))
    ControlEvaluation.objects.bulk_create(evaluations, batch_size=EVALUATION_WRITE_BATCH)
    run.counts = {status: sum(1 for e in evaluations if e.status == status) for status in EvaluationStatus.values}
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "finished_at"])
    audit_log(
        action="compliance.controls_evaluated", actor=user, actor_label=f"system: control evaluation ({trigger})",
        obj=run, details={"counts": run.counts, "controls": len(controls), "as_of": at.isoformat()},
    )
    return run


@dataclass(frozen=True)
class InputCheck:
    name: str
    stored_rows: int
    rows_now: int
    stored_sha256: str
    sha256_now: str

    @property
    def same(self) -> bool:
        return self.stored_sha256 == self.sha256_now


@dataclass(frozen=True)
class Recheck:
    """A stored evaluation against its queries run again: ``same`` when every input hashes as it did, and the
    value and status the rows give now."""

    evaluation: ControlEvaluation
    inputs: list[InputCheck]
    value_now: object
    status_now: str
    summary_now: str

    @property
    def same(self) -> bool:
        return all(check.same for check in self.inputs) and len(self.inputs) == len(self.evaluation.inputs)


def evaluation_recheck(*, evaluation: ControlEvaluation) -> Recheck:
    """Run the evaluation's queries again, with its stored scope, settings and date, and compare; writes nothing."""
    queries = _collect(evaluation.metric, scope=evaluation.scope, parameters=evaluation.parameters,
                       at=evaluation.evaluated_at)
    stored = {entry["name"]: entry for entry in evaluation.inputs}
    checks = []
    for name, query in queries.items():
        now = query.stored()
        before = stored.get(name, {"row_count": 0, "sha256": ""})
        checks.append(InputCheck(name, before["row_count"], now["row_count"], before["sha256"], now["sha256"]))
    measure = EVALUATORS[evaluation.metric].measure(
        queries, scope=evaluation.scope, parameters=evaluation.parameters, at=evaluation.evaluated_at
    )
    status = _status(evaluation.metric, measure, evaluation.threshold)
    return Recheck(evaluation, checks, measure.value, status, measure.summary)
