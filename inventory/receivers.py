"""What the inventory does after its own scans: link the VMs that name a deployment request, in a task of its own
(the scan never waits for it)."""

import logging

logger = logging.getLogger(__name__)


def link_requests_after_scan(sender, run, **kwargs) -> None:
    from inventory.tasks import deployment_requests_link_task  # tasks import services, not the other way round

    try:
        deployment_requests_link_task.delay(run.pk)
    except Exception:  # a broker outage must not fail the scan that committed; the next scan links them
        logger.exception("Could not queue the deployment request links after scan #%s", run.pk)
