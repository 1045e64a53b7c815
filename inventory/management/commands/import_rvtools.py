from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.services.imports import rvtools_import
from portal.tabular.problems import ImportRefused


class Command(BaseCommand):
    help = (
        "Import an RVTools export (an .xlsx workbook, or a folder of RVTools_tab*.csv files) into a source. "
        "All or nothing: every bad cell is reported with its sheet, row and column, and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", required=True, help="Name of the import source (created on first use).")

    def handle(self, *args, file: Path, source: str, **options):
        if not file.exists():
            raise CommandError(f"{file}: no such file or folder")
        try:
            runs = rvtools_import(path=file, source_name=source)
        except ImportRefused as error:
            for problem in error.problems:
                self.stderr.write(f"{file.name}: {problem}")
            raise CommandError(f"{file.name}: {len(error.problems)} problem(s); nothing was imported.") from None
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        for run in runs:
            self.stdout.write(
                f"{source}: {run.vms_seen} VMs: {run.discovered} discovered, {run.changed} changed, "
                f"{run.missing} missing, {run.unchanged} unchanged, {run.reappeared} reappeared, {run.removed} removed."
            )
