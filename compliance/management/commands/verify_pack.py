from django.core.management.base import BaseCommand, CommandError

from compliance.models import EvidencePack
from compliance.services.packs import pack_verify


class Command(BaseCommand):
    help = "Recompute every hash of an evidence pack; exits non-zero naming what changed."

    def add_arguments(self, parser):
        parser.add_argument("pack_id", type=int)

    def handle(self, *args, **options):
        pack = EvidencePack.objects.filter(pk=options["pack_id"]).select_related("framework").first()
        if pack is None:
            raise CommandError(f"no pack {options['pack_id']}")
        problems = pack_verify(pack=pack)
        if problems:
            for problem in problems:
                self.stderr.write(f"CHANGED: {problem}")
            raise CommandError(f"pack {pack.pk} does not verify: {len(problems)} problem(s)")
        tables, attachments = len(pack.manifest["tables"]), len(pack.manifest["attachments"])
        self.stdout.write(f"pack {pack.pk} intact: PDF {pack.pdf_sha256}, manifest, {attachments} attachments and "
                          f"{tables} tables verified")
