from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.services.people import people_import
from portal.tabular.problems import ImportRefused


class Command(BaseCommand):
    help = (
        "Import the organisation from a CSV with the columns email,name,title,department,manager_email. "
        "All or nothing: any problem is reported with its line and field, and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--single-root", action="store_true", help="Refuse a second person without a manager.")
        parser.add_argument(
            "--deactivate-missing", action="store_true", help="Deactivate active people who are not in the file."
        )
        parser.add_argument("--dry-run", action="store_true", help="Validate and count, write nothing.")

    def handle(self, *args, file: Path, single_root: bool, deactivate_missing: bool, dry_run: bool, **options):
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        with file.open("rb") as stream:
            try:
                result = people_import(
                    stream=stream,
                    source_name=file.name,
                    single_root=single_root,
                    deactivate_missing=deactivate_missing,
                    dry_run=dry_run,
                )
            except ImportRefused as error:
                for problem in error.problems:
                    self.stderr.write(f"{file.name}: {problem}")
                raise CommandError(f"{file.name}: {error}") from None
        prefix = "Dry run, nothing written: would have " if dry_run else ""
        self.stdout.write(
            f"{prefix}created {result.created}, updated {result.updated}, unchanged {result.unchanged}, "
            f"deactivated {result.deactivated}."
        )
