import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.choices import Role
from portal.models import User
from portal.services.roles import user_grant_role


class Command(BaseCommand):
    help = "Give a login a role (auditors need --expires YYYY-MM-DD)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=Role.values)
        parser.add_argument("--expires", type=datetime.date.fromisoformat, help="Last day of access (YYYY-MM-DD).")

    def handle(self, *args, username: str, role: str, expires: datetime.date | None, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No login named {username!r}.")
        try:
            user_grant_role(user=user, role=Role(role), expires_on=expires)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"{username} is now {Role(role).label}.")
