from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from questionnaires.services.templates import DATA_DIR, TemplateFileError, template_files, template_load


class Command(BaseCommand):
    help = (
        "Load every questionnaire template file (questionnaires/data/*.json). A template gets a new version only "
        "when its content changed; launched campaigns keep theirs. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "files", nargs="*", type=Path, help=f"Template files to load instead of every file in {DATA_DIR}."
        )

    def handle(self, *args, files: list[Path], **options):
        paths = files or template_files()
        if not paths:
            raise CommandError(f"no template files in {DATA_DIR}")
        failed = 0
        for path in paths:
            if not path.is_file():
                self.stderr.write(f"{path}: no such file")
                failed += 1
                continue
            try:
                version = template_load(path=path)
            except TemplateFileError as error:
                for problem in error.problems:
                    self.stderr.write(f"{error.file_name}: {problem}")
                failed += 1
                continue
            state = "created" if version.created else "unchanged"
            self.stdout.write(f"{path.name}: {version.template.slug} v{version.number} {state}")
        if failed:
            raise CommandError(f"{failed} template file(s) not loaded.")
