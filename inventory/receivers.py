"""The inventory's own receivers of its signals: policies are evaluated after every complete scan."""

from inventory.models import ScanRun


def evaluate_after_scan(sender, run: ScanRun, **kwargs) -> None:
    """Queue the evaluation of the scanned source's VMs (on the ``policies`` queue): the scan does not wait."""
    # Imported here: tasks import the services, which import the models this module's app loads.
    from inventory.tasks import policies_evaluate_task

    policies_evaluate_task.delay(source_id=run.source_id)
