from django.core.management.base import BaseCommand, CommandError

from inventory.choices import ScanStatus, ScanTrigger, SourceKind
from inventory.models import Source
from inventory.services.scan import source_scan
from inventory.services.scan_runs import ScanAlreadyRunning


class Command(BaseCommand):
    help = "Scan one vCenter source (or --all), print what changed; exit non-zero unless every scan completed."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?")
        parser.add_argument("--all", action="store_true", help="Scan every enabled vCenter source in turn.")

    def handle(self, *args, name, all, **options):
        if bool(name) == bool(all):
            raise CommandError("Give one source name, or --all.")
        sources = Source.objects.filter(kind=SourceKind.VCENTER)
        sources = sources.filter(enabled=True) if all else sources.filter(name=name)
        if not sources:
            raise CommandError(f"No vCenter source named {name!r}." if name else "No enabled vCenter source.")
        failures = []
        for source in sources:
            try:
                run = source_scan(source=source, trigger=ScanTrigger.COMMAND)
            except ScanAlreadyRunning as error:
                failures.append(str(error))
                self.stderr.write(str(error))
                continue
            seconds = run.duration.total_seconds() if run.duration else 0.0
            if run.status == ScanStatus.COMPLETE:
                self.stdout.write(
                    f"{source}: complete in {seconds:.1f} s: {run.vms_seen} VMs seen, {run.discovered} discovered, "
                    f"{run.changed} changed, {run.missing} missing, {run.unchanged} unchanged, "
                    f"{run.reappeared} reappeared, {run.removed} removed."
                )
            else:
                failures.append(f"{source}: scan {run.status}: {run.error}")
                self.stderr.write(f"{source}: scan {run.status} after {seconds:.1f} s: {run.error}")
        if failures:
            raise CommandError(f"{len(failures)} of {len(sources)} scan(s) did not complete; no VM was marked missing "
                               "by a scan that did not complete.")
