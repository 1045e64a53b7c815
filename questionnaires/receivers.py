"""What the questionnaires do when the inventory changes: a complete scan queues a reconciliation of every
campaign still followed up, in its own task (the scan never waits for it)."""

import logging

from questionnaires.choices import ReconciliationTrigger

logger = logging.getLogger(__name__)


def reconcile_after_scan(sender, run, **kwargs) -> None:
    from questionnaires.tasks import reconciliation_run_all_task  # tasks import services, not the other way round

    try:
        reconciliation_run_all_task.delay(ReconciliationTrigger.SCAN)
    except Exception:  # a broker outage must not fail the scan that committed; the next scan queues it again
        logger.exception("Could not queue the reconciliation after scan #%s", run.pk)
