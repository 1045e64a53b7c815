import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.services.sources import source_vcenter_save


class Command(BaseCommand):
    help = (
        "Add (or update) a vCenter or ESXi source. The password is read from an environment variable, "
        "never from the command line, and stored encrypted."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--host", required=True)
        parser.add_argument("--port", type=int, default=443)
        parser.add_argument("--user", required=True)
        parser.add_argument("--password-env", required=True, metavar="VAR",
                            help="Name of the environment variable that holds the password.")
        parser.add_argument("--http", action="store_true", help="Plain HTTP (a lab or the simulator only).")
        parser.add_argument("--insecure", action="store_true", help="Do not verify the TLS certificate.")

    def handle(self, *args, name, host, port, user, password_env, http, insecure, **options):
        password = os.environ.get(password_env)
        if not password:
            raise CommandError(f"The environment variable {password_env} is not set or empty.")
        try:
            source = source_vcenter_save(
                name=name, host=host, port=port, username=user, password=password,
                use_http=http, verify_tls=not insecure,
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        warning = " (TLS verification OFF)" if insecure and not http else ""
        self.stdout.write(f"Source {source.name}: {source.endpoint} as {user}{warning}.")
