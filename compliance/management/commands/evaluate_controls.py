from django.core.management.base import BaseCommand, CommandError

from compliance.choices import EvaluationTrigger
from compliance.services.evaluation import controls_evaluate


class Command(BaseCommand):
    help = (
        "Evaluate every automated control of the library from the portal's data now, storing each result with "
        "its inputs (queries, parameters, row counts, SHA-256 of the rows). Each run adds one dated result per "
        "control and scope; earlier ones are kept."
    )

    def handle(self, *args, **options):
        run = controls_evaluate(trigger=EvaluationTrigger.COMMAND)
        if run is None:
            raise CommandError("No automated control is loaded: run manage.py load_controls first.")
        figures = ", ".join(f"{status}={count}" for status, count in run.counts.items())
        self.stdout.write(f"Evaluation run #{run.pk}: {figures}.")
