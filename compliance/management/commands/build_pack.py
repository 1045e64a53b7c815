import datetime
import time

from django.core.management.base import BaseCommand, CommandError

from compliance.choices import PackState
from compliance.models import EvidencePack
from compliance.services.packs import DEFAULT_SAMPLE_SIZE, PackRefused, pack_build, pack_request

# Seconds between looks at a pack another worker is building.
POLL_SECONDS = 1


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date: write YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Build an evidence pack for a framework and a period, and print its id and SHA-256."

    def add_arguments(self, parser):
        parser.add_argument("--framework", required=True, help="hipaa, sox or glba")
        parser.add_argument("--start", required=True, type=_date, help="First day of the period, YYYY-MM-DD")
        parser.add_argument("--end", required=True, type=_date, help="Last day of the period, YYYY-MM-DD")
        parser.add_argument("--as-of", type=_date, help="Date the figures are read as of (default: the end)")
        parser.add_argument("--sample-size", type=int, default=DEFAULT_SAMPLE_SIZE)
        parser.add_argument("--seed", type=int, help="Seed of the sample (default: a new random one)")

    def handle(self, *args, **options):
        try:
            pack = pack_request(
                framework_slug=options["framework"], period_start=options["start"], period_end=options["end"],
                as_of=options["as_of"], actor_label="command: build_pack", sample_size=options["sample_size"],
                sample_seed=options["seed"],
            )
        except PackRefused as refusal:
            raise CommandError(str(refusal)) from None
        pack = pack_build(pack_id=pack.pk)
        while pack.state in (PackState.QUEUED, PackState.BUILDING):
            time.sleep(POLL_SECONDS)
            pack = EvidencePack.objects.get(pk=pack.pk)
        if pack.state == PackState.FAILED:
            raise CommandError(f"pack {pack.pk} failed: {pack.failure_reason}")
        self.stdout.write(f"pack {pack.pk} {pack.pdf_sha256}")
