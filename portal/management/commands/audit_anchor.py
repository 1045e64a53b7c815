from django.core.management.base import BaseCommand

from portal.services.audit import audit_anchor_create


class Command(BaseCommand):
    help = "Anchor the audit trail's head now and print the anchor, to be kept outside the portal's database."

    def handle(self, *args, **options):
        anchor = audit_anchor_create()
        self.stdout.write(f"Audit anchor: {anchor.text}")
        self.stdout.write(
            "Keep this line outside the portal's database (a ticket, a signed e-mail, a vault); "
            f"`manage.py verify_audit --anchor {anchor.text}` checks the trail still reaches and matches it."
        )
