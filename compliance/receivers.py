"""What compliance does when the data it measures changes: a complete scan, a policy evaluation (its findings) or a
reconciliation run (of which a campaign close is one) queues an evaluation of the controls, in its own task once
the sender's work committed."""

import logging

from compliance.choices import EvaluationTrigger
from questionnaires.choices import ReconciliationTrigger

logger = logging.getLogger(__name__)


def _queue(trigger: str, what: str) -> None:
    from compliance.tasks import controls_evaluate_task  # tasks import services, not the other way round

    try:
        controls_evaluate_task.delay(trigger)
    except Exception:  # a broker outage must not fail the scan or run that committed; the daily run catches up
        logger.exception("Could not queue the control evaluation after %s", what)


def evaluate_after_scan(sender, run, **kwargs) -> None:
    _queue(EvaluationTrigger.SCAN, f"scan #{run.pk}")


def evaluate_after_reconciliation(sender, run, **kwargs) -> None:
    closing = run.trigger == ReconciliationTrigger.CLOSE
    _queue(EvaluationTrigger.CAMPAIGN_CLOSE if closing else EvaluationTrigger.RECONCILIATION,
           f"reconciliation #{run.pk}")


def evaluate_after_policies(sender, result, **kwargs) -> None:
    _queue(EvaluationTrigger.POLICY_EVALUATION, "a policy evaluation")
