from django.core.management.base import BaseCommand

from portal.services.demo import DEMO_PASSWORD, demo_people_load


class Command(BaseCommand):
    help = "Load (or refresh) the demo organisation and one login per role. Safe to run again."

    def handle(self, *args, **options):
        logins = demo_people_load()
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded. Logins (password for all: {DEMO_PASSWORD}):"))
        for login in logins:
            self.stdout.write(f"  {login.username:<10} {login.role.label}")
