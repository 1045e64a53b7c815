"""What the inventory does after its own scans, each in a task of its own (the scan never waits for them): link
the VMs that name a deployment request, and evaluate the policies over the scanned source's VMs."""

import logging

logger = logging.getLogger(__name__)


def link_requests_after_scan(sender, run, **kwargs) -> None:
    from inventory.tasks import deployment_requests_link_task  # tasks import services, not the other way round

    try:
        deployment_requests_link_task.delay(run.pk)
    except Exception:  # a broker outage must not fail the scan that committed; the next scan links them
        logger.exception("Could not queue the deployment request links after scan #%s", run.pk)


def evaluate_after_scan(sender, run, **kwargs) -> None:
    """Queue the evaluation on the ``policies`` queue; a broker outage is logged, and the next scan evaluates."""
    from inventory.tasks import policies_evaluate_task  # tasks import services, not the other way round

    try:
        policies_evaluate_task.delay(source_id=run.source_id)
    except Exception:
        logger.exception("Could not queue the policy evaluation after scan #%s", run.pk)
