from django.core.management.base import BaseCommand, CommandError

from portal.services.audit import audit_chain_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain. Exits non-zero and names the first bad event when it is broken."

    def handle(self, *args, **options):
        checked, chain_break = audit_chain_verify()
        if chain_break is not None:
            raise CommandError(
                f"Audit trail broken at event #{chain_break.sequence}: {chain_break.reason}. "
                f"{checked} event(s) before it are intact."
            )
        self.stdout.write(f"Audit trail intact: {checked} event(s) verified.")
