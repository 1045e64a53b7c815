"""What people ask of a campaign's reconciliation from the pages and the API: a run now, and its items as a file.

Both are acts an auditor may ask about later (who started a run, who took which items out of the portal, with
which filters), so both are recorded: the run itself names who asked for it, an export is an audit event.
"""

from django.core.exceptions import PermissionDenied, ValidationError

from portal.models import User
from portal.services.audit import audit_log
from questionnaires.choices import CampaignStatus, ReconciliationTrigger
from questionnaires.models import Campaign
from questionnaires.permissions import campaign_may_manage
from questionnaires.services.reconciliation import reconciliation_queue


def reconciliation_request(*, campaign: Campaign, user: User) -> None:
    """"Reconcile now": the campaign's owner or an admin queues a run of a launched campaign; the run, in its own
    task, records them as who asked."""
    if not campaign_may_manage(campaign=campaign, user=user):
        raise PermissionDenied(f"Only the owner of “{campaign}” or an admin starts its reconciliation.")
    if campaign.status == CampaignStatus.DRAFT:
        raise ValidationError(f"“{campaign}” is a draft: nothing was declared yet, launch it first.")
    reconciliation_queue(campaign=campaign, trigger=ReconciliationTrigger.PAGE, user=user)


def reconciliation_export_record(
    *, campaign: Campaign, user: User, export: str, filters: dict[str, str], rows: int
) -> None:
    """Items leaving the portal are an auditable act: who downloaded which of a campaign's items, how many."""
    audit_log(
        action="reconciliation.exported", actor=user, obj=campaign,
        details={"export": export, "filters": filters, "rows": rows},
    )
