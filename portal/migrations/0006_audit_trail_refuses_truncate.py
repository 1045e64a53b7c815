"""On PostgreSQL, refuse TRUNCATE of the audit trail and of its anchors, and UPDATE or DELETE of an anchor.

The row trigger of 0002 cannot see TRUNCATE, which empties the table in one statement: a statement-level
trigger refuses it. Only the test settings lift these triggers, inside the flush between transactional tests
(``portal/management/commands/flush.py``).
"""

from django.db import migrations

FORBID_SQL = """
CREATE OR REPLACE FUNCTION portal_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% refused on %: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER portal_auditevent_no_truncate
    BEFORE TRUNCATE ON portal_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION portal_audit_refuse_change();

CREATE TRIGGER portal_auditanchor_append_only
    BEFORE UPDATE OR DELETE ON portal_auditanchor
    FOR EACH ROW EXECUTE FUNCTION portal_audit_refuse_change();

CREATE TRIGGER portal_auditanchor_no_truncate
    BEFORE TRUNCATE ON portal_auditanchor
    FOR EACH STATEMENT EXECUTE FUNCTION portal_audit_refuse_change();
"""

ALLOW_SQL = """
DROP TRIGGER IF EXISTS portal_auditanchor_no_truncate ON portal_auditanchor;
DROP TRIGGER IF EXISTS portal_auditanchor_append_only ON portal_auditanchor;
DROP TRIGGER IF EXISTS portal_auditevent_no_truncate ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_audit_refuse_change();
"""


def forbid(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORBID_SQL, params=None)


def allow(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("portal", "0005_audit_anchor")]

    operations = [migrations.RunPython(forbid, allow)]
