import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Load (or refresh) the demo: each app's services/demo.py ``demo_load()`` runs in dependency order "
        "(people and logins first). Safe to run again."
    )

    def handle(self, *args, **options):
        lines = []
        for app_config in apps.get_app_configs():
            module_name = f"{app_config.name}.services.demo"
            if importlib.util.find_spec(f"{app_config.name}.services") is None:
                continue
            if importlib.util.find_spec(module_name) is None:
                continue
            lines += importlib.import_module(module_name).demo_load()
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        for line in lines:
            self.stdout.write(line)
