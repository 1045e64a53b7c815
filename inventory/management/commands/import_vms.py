from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.services.imports import vm_csv_import
from portal.tabular.problems import ImportRefused


class Command(BaseCommand):
    help = (
        "Import VMs from a CSV for platforms without an API (Hyper-V, KVM, desktop hypervisors...). "
        "Columns: see docs/import-vms.md. All or nothing; every bad cell is reported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", required=True, help="Name of the import source (created on first use).")
        parser.add_argument("--platform", default="", help="Platform for rows that leave the platform column empty.")

    def handle(self, *args, file: Path, source: str, platform: str, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            with file.open("rb") as stream:
                (run,) = vm_csv_import(stream=stream, source_name=source, file_name=file.name, platform=platform)
        except ImportRefused as error:
            for problem in error.problems:
                self.stderr.write(f"{file.name}: {problem}")
            raise CommandError(f"{file.name}: {len(error.problems)} problem(s); nothing was imported.") from None
        except ValidationError as error:
            raise CommandError(f"{file.name}: {'; '.join(error.messages)}") from None
        self.stdout.write(
            f"{source}: {run.vms_seen} VMs: {run.discovered} discovered, {run.changed} changed, "
            f"{run.missing} missing, {run.unchanged} unchanged, {run.reappeared} reappeared, {run.removed} removed."
        )
