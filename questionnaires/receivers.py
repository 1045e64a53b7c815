"""What the questionnaires do when the inventory changes: a complete scan queues a reconciliation of every
campaign still followed up, in its own task (the scan never waits for it); a reconciliation that changed items
queues the policy evaluation, whose ``undeclared`` and ``running_but_decommissioned`` findings read its items."""

import logging

from questionnaires.choices import ReconciliationTrigger

logger = logging.getLogger(__name__)


def reconcile_after_scan(sender, run, **kwargs) -> None:
    from questionnaires.tasks import reconciliation_run_all_task  # tasks import services, not the other way round

    try:
        reconciliation_run_all_task.delay(ReconciliationTrigger.SCAN)
    except Exception:  # a broker outage must not fail the scan that committed; the next scan queues it again
        logger.exception("Could not queue the reconciliation after scan #%s", run.pk)


def evaluate_policies_after_reconciliation(sender, run, **kwargs) -> None:
    """A run that changed nothing changes no finding; one that did queues the evaluation of every source (items
    span sources). The evaluation never reconciles, so the two cannot queue each other for ever."""
    if not run.changed:
        return
    from inventory.tasks import policies_evaluate_task

    try:
        policies_evaluate_task.delay()
    except Exception:  # the next scan evaluates again
        logger.exception("Could not queue the policy evaluation after reconciliation run #%s", run.pk)
