import argparse

from django.core.management.base import BaseCommand, CommandError

from portal.services.audit import AnchorPoint, audit_anchor_points, audit_chain_verify


def _anchor(text: str) -> AnchorPoint:
    try:
        return AnchorPoint.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain, and that it still reaches and matches every anchor stored in the "
        "database and each one given with --anchor (printed by audit_anchor and kept outside the database). "
        "Exits non-zero and names the first bad event when it is broken or cut short."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor", action="append", type=_anchor, default=[], metavar="SEQUENCE:HASH",
            help="An anchor kept outside the database; may be repeated.",
        )

    def handle(self, *args, anchor: list[AnchorPoint], **options):
        anchors = audit_anchor_points(extra=anchor)
        checked, chain_break = audit_chain_verify(anchors=anchors)
        if chain_break is not None and chain_break.cut_short:
            raise CommandError(f"Audit trail cut short: {chain_break.reason}. {checked} event(s) are intact.")
        if chain_break is not None:
            raise CommandError(
                f"Audit trail broken at event #{chain_break.sequence}: {chain_break.reason}. "
                f"{checked} event(s) before it are intact."
            )
        self.stdout.write(f"Audit trail intact: {checked} event(s) verified.")
        if anchors:
            self.stdout.write(f"It matches {len(anchors)} anchor(s); the latest is {anchors[-1].text}.")
