from django.core.management.base import BaseCommand, CommandError

from questionnaires.choices import CampaignStatus, ReconciliationTrigger
from questionnaires.models import Campaign
from questionnaires.services.reconciliation import (
    campaigns_to_reconcile,
    reconciliation_counts_line,
    reconciliation_run,
)


class Command(BaseCommand):
    help = (
        "Reconcile what people declared in a campaign against the inventory, and print the items per state: "
        "matched=N undeclared=N not_found=N not_found_unscanned=N conflict=N mismatch=N. Safe to run again: a "
        "second run changes nothing."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--campaign", type=int, metavar="ID", help="The campaign to reconcile.")
        which.add_argument(
            "--all", action="store_true", help="Every active campaign, and the closed ones still followed up."
        )

    def handle(self, *args, campaign: int | None, all: bool, **options):
        if all:
            campaigns = campaigns_to_reconcile()
        else:
            found = Campaign.objects.filter(pk=campaign).first()
            if found is None:
                raise CommandError(f"no campaign has the id {campaign}")
            if found.status == CampaignStatus.DRAFT:
                raise CommandError(f"“{found}” is a draft: launch it first, nothing was declared yet")
            campaigns = [found]
        for each in campaigns:
            run = reconciliation_run(campaign=each, trigger=ReconciliationTrigger.COMMAND)
            seconds = (run.finished_at - run.started_at).total_seconds()
            self.stdout.write(
                f"{reconciliation_counts_line(run.counts)}  ({each}, #{each.pk}: {run.changed} changed, "
                f"{run.written_back} written back, {seconds:.2f} s)"
            )
        if not campaigns:
            self.stdout.write("No campaign to reconcile: launch one first.")
