from django.core.management.base import BaseCommand, CommandError

from inventory.models import Source
from inventory.services.findings import policies_evaluate
from inventory.services.policy_actions import policy_actions_after_evaluation


class Command(BaseCommand):
    help = ("Evaluate every enabled policy now (over one source's VMs with --source) and print the open findings "
            "per kind. Safe to run twice: an unchanged estate changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--source", metavar="NAME", help="Only the VMs of this source.")

    def handle(self, *args, source=None, **options):
        chosen = None
        if source is not None:
            chosen = Source.objects.filter(name=source).first()
            if chosen is None:
                names = ", ".join(Source.objects.order_by("name").values_list("name", flat=True)) or "none"
                raise CommandError(f"No source is named {source!r} (sources: {names}).")
        result = policies_evaluate(source=chosen)
        policy_actions_after_evaluation(result=result)
        self.stdout.write(f"Evaluated {result.vms} VMs: opened {sum(result.opened.values())}, "
                          f"resolved {sum(result.resolved.values())}, reopened {sum(result.reopened.values())}.")
        self.stdout.write("Open findings per kind:")
        for kind, count in result.open_by_kind.items():
            self.stdout.write(f"  {kind}: {count}")
