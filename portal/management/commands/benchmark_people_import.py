import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.services.people import COLUMNS, PeopleImportResult, people_import

# The target for importing 10,000 people on one machine.
TARGET_SECONDS = 10.0
LEVELS = 7
BENCHMARK_DOMAIN = "benchmark.vmcensus.invalid"


def write_org_csv(path: Path, count: int, *, changed: int = 0) -> None:
    """Write ``count`` people over ``LEVELS`` levels, each managed by someone one level up.

    Levels grow geometrically, so most people are leaves, as in a real organisation.
    The first ``changed`` people below the root get a new title.
    """
    growth = max(1.0, (count / 2) ** (1 / (LEVELS - 1)))
    sizes = [round(growth**level) for level in range(LEVELS - 1)]
    sizes.append(max(0, count - sum(sizes)))
    lines = [",".join(COLUMNS)]
    previous_level: list[str] = []
    number = 0
    for level, size in enumerate(sizes):
        this_level = []
        for index in range(min(size, count - number)):
            email = f"person{number}@{BENCHMARK_DOMAIN}"
            manager = previous_level[index % len(previous_level)] if previous_level else ""
            title = f"Level {level} (changed)" if 0 < number <= changed else f"Level {level}"
            lines.append(f"{email},Person {number},{title},Department {number % 20},{manager}")
            this_level.append(email)
            number += 1
        previous_level = this_level or previous_level
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Command(BaseCommand):
    help = (
        "Time people_import on a generated organisation: a first import (all created), a re-import with "
        f"nothing changed and a re-import with 1% of rows changed, against a target of {TARGET_SECONDS:g} s each. "
        "Everything runs in one transaction that is rolled back at the end, so the database is left as it was."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=10_000, help="People in the file (default 10,000).")

    def handle(self, *args, count: int, **options):
        if count < 1:
            raise CommandError("--count must be at least 1")
        changed = max(1, count // 100)
        with tempfile.TemporaryDirectory() as directory:
            same, modified = Path(directory) / "people.csv", Path(directory) / "people-changed.csv"
            write_org_csv(same, count)
            write_org_csv(modified, count, changed=changed)
            self.stdout.write(
                f"people_import, {count} people over {LEVELS} levels; rolled back at the end, nothing is kept."
            )
            with transaction.atomic():
                for label, path in (
                    ("first import, all created", same),
                    ("re-import, nothing changed", same),
                    ("re-import, 1% changed", modified),
                ):
                    seconds, result = self._timed_import(path)
                    verdict = "PASS" if seconds < TARGET_SECONDS else "FAIL"
                    self.stdout.write(
                        f"{label}: {seconds:.3f} s (created {result.created}, updated {result.updated}, "
                        f"unchanged {result.unchanged}, deactivated {result.deactivated})  "
                        f"target {TARGET_SECONDS:g} s  {verdict}"
                    )
                transaction.set_rollback(True)

    def _timed_import(self, path: Path) -> tuple[float, PeopleImportResult]:
        with path.open("rb") as stream:
            start = time.perf_counter()
            result = people_import(stream=stream, source_name=path.name)
            return time.perf_counter() - start, result
