from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.choices import Role
from portal.models import User
from portal.services.roles import user_revoke_role


class Command(BaseCommand):
    help = "Take a role away from a login (audited, like grant_role)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=Role.values)

    def handle(self, *args, username: str, role: str, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No login named {username!r}.")
        try:
            user_revoke_role(user=user, role=Role(role))
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"{username} is no longer {Role(role).label}.")
