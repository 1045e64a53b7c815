from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.services.catalogs import DATA_DIR, HUB_SLUG, CatalogFileError, catalog_files, catalogs_load


class Command(BaseCommand):
    help = (
        "Load the compliance catalogs (HIPAA, GLBA, SOX, NIST SP 800-53) from their CSV files. A framework gets a "
        "new version only when its file changed (or 800-53 did); old versions are kept. All files or none: a "
        "problem in any file is reported by file, line and field and nothing is written. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir", type=Path, default=DATA_DIR, help=f"Directory of the *.csv catalog files (default {DATA_DIR})."
        )

    def handle(self, *args, dir: Path, **options):
        if not dir.is_dir():
            raise CommandError(f"{dir}: no such directory")
        paths = catalog_files(dir)
        if not paths:
            raise CommandError(f"no catalog files (*.csv) in {dir}")
        try:
            results = catalogs_load(paths=paths)
        except CatalogFileError as error:
            for problem in error.problems:
                self.stderr.write(str(problem))
            raise CommandError(str(error)) from None
        for result in results:
            if not result.created:
                self.stdout.write(f"{result.slug} v{result.number}: unchanged")
                continue
            line = f"{result.slug} v{result.number}: {result.requirements} requirements loaded"
            if result.mappings:
                line += f", {result.mappings} mappings to {HUB_SLUG}"
            self.stdout.write(f"{line} ({result.reason})")
