from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.services.controls import LIBRARY_DIR, controls_load, library_files
from portal.tabular.problems import ImportRefused


class Command(BaseCommand):
    help = (
        "Load the virtualization control library from compliance/data/controls/*.csv (after load_catalogs: "
        "controls map to the loaded catalogs). An unchanged row changes nothing; a changed row updates its "
        "control with a new version and an audit event. All or nothing: each problem is named by file, line "
        "and column and nothing is written. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=LIBRARY_DIR, help=f"Directory (default {LIBRARY_DIR}).")

    def handle(self, *args, dir: Path, **options):
        if not dir.is_dir():
            raise CommandError(f"{dir}: no such directory")
        try:
            result = controls_load(paths=library_files(dir))
        except ImportRefused as error:
            for problem in error.problems:
                self.stderr.write(problem.text())
            raise CommandError(f"{len(error.problems)} problem(s); nothing was loaded") from None
        for label, codes in (("created", result.created), ("updated", result.updated),
                             ("re-mapped", result.remapped), ("retired", result.retired)):
            if codes:
                self.stdout.write(f"{label}: {', '.join(codes)}")
        self.stdout.write(f"{result.unchanged} control(s) unchanged.")
