from django.core.management.base import BaseCommand

from inventory.services.policies import policies_load


class Command(BaseCommand):
    help = ("Store the shipped hardening baselines (inventory/data/baselines) and one default policy per kind "
            "that has none. Safe to run again: it changes nothing that is there.")

    def handle(self, *args, **options):
        created = policies_load()
        self.stdout.write(f"Baselines loaded; {len(created)} polic{'y' if len(created) == 1 else 'ies'} created"
                          + (f": {', '.join(p.name for p in created)}." if created else "."))
