"""Django's ``flush``, which the audit trail's TRUNCATE guard refuses on PostgreSQL, as it should in production.

pytest-django flushes the database after every transactional and live-server test. Where
``settings.AUDIT_TRAIL_FLUSHABLE`` is on (the test settings only) the guard's triggers are disabled inside
the flush's own transaction and enabled again before it commits, so no other statement ever runs without them.
"""

from django.conf import settings
from django.core.management.commands import flush
from django.db import connections, transaction

GUARD_TRIGGERS = [
    ("portal_auditevent", "portal_auditevent_no_truncate"),
    ("portal_auditanchor", "portal_auditanchor_no_truncate"),
]


def _set_guard(connection, state: str) -> None:
    with connection.cursor() as cursor:
        for table, trigger in GUARD_TRIGGERS:
            cursor.execute(f"ALTER TABLE {table} {state} TRIGGER {trigger}")


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options["database"]]
        if not (settings.AUDIT_TRAIL_FLUSHABLE and connection.vendor == "postgresql"):
            return super().handle(**options)
        with transaction.atomic(using=options["database"]):
            _set_guard(connection, "DISABLE")
            super().handle(**options)
            _set_guard(connection, "ENABLE")
