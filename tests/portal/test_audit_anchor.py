"""A trail cut short or emptied keeps an intact chain; PostgreSQL refuses TRUNCATE, and anchors (checkpoints of
the trail's head, kept outside the database too) make ``verify_audit`` see what is missing."""

import io
import logging
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from portal.choices import Role
from portal.models import AuditAnchor, AuditEvent
from portal.services.audit import audit_log
from portal.tasks import audit_anchor_take
from tests.factories import UserFactory
from tests.portal.test_audit import _behind_the_portals_back

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the TRUNCATE guard is a PostgreSQL trigger"
)
ANCHOR_LINE = re.compile(r"Audit anchor: (\d+):([0-9a-f]{64})")


def _three_events() -> list[AuditEvent]:
    return [audit_log(action=f"test.event{number}", actor_label="system: test") for number in (1, 2, 3)]


@pytest.fixture
def three_events(db) -> list[AuditEvent]:
    return _three_events()


@pytest.fixture
def three_committed_events(transactional_db) -> list[AuditEvent]:
    """Committed, as TRUNCATE needs: inside a test's transaction it waits on the rows' pending FK checks."""
    return _three_events()


def _run(command: str, *args) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def _remove_events_from(sequence: int) -> None:
    """Remove the end of the trail as somebody with direct database access would."""
    with _behind_the_portals_back() as cursor:
        cursor.execute("DELETE FROM portal_auditevent WHERE sequence >= %s", [sequence])


# --- TRUNCATE ---------------------------------------------------------------------------------------------------


@postgresql_only
@pytest.mark.parametrize("table", ["portal_auditevent", "portal_auditanchor"])
def test_postgresql_refuses_truncate_of_the_trail_and_its_anchors(three_committed_events, table):
    call_command("audit_anchor", stdout=io.StringIO())

    refused = pytest.raises(DatabaseError, match=f"TRUNCATE refused on {table}")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")

    assert (AuditEvent.objects.count(), AuditAnchor.objects.count()) == (4, 1)


@postgresql_only
def test_postgresql_refuses_update_and_delete_of_an_anchor(three_events):
    call_command("audit_anchor", stdout=io.StringIO())

    for statement in ("UPDATE portal_auditanchor SET hash = 'x'", "DELETE FROM portal_auditanchor"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)

    assert AuditAnchor.objects.get().sequence == 4


@postgresql_only
def test_a_production_flush_is_refused_by_the_guard(three_committed_events, settings):
    settings.AUDIT_TRAIL_FLUSHABLE = False

    with pytest.raises(CommandError, match="couldn't be flushed") as failure:
        call_command("flush", interactive=False, verbosity=0)

    assert "TRUNCATE refused on portal_audit" in str(failure.value.__cause__)
    assert AuditEvent.objects.count() == 3


def test_the_test_settings_flush_the_trail_and_leave_the_guard_in_place(transactional_db):
    # given events written in a transactional test (the case where pytest-django flushes after the test)
    assert settings.AUDIT_TRAIL_FLUSHABLE is True
    for number in (1, 2):
        audit_log(action=f"test.event{number}", actor_label="system: test")

    # when the database is flushed as pytest-django does it between transactional tests
    call_command("flush", interactive=False, verbosity=0)

    # then the trail is empty, and on PostgreSQL a plain TRUNCATE is still refused
    assert AuditEvent.objects.count() == 0
    if connection.vendor == "postgresql":
        audit_log(action="test.after_flush", actor_label="system: test")
        refused = pytest.raises(DatabaseError, match="TRUNCATE refused")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE portal_auditevent")
        assert AuditEvent.objects.count() == 1


# --- anchors ----------------------------------------------------------------------------------------------------


def test_audit_anchor_command_records_and_prints_the_head_of_the_trail(three_events):
    out = _run("audit_anchor")

    anchor = AuditAnchor.objects.get()
    head = AuditEvent.objects.order_by("-sequence").first()
    assert (head.sequence, head.action, head.actor_label) == (4, "audit.anchored", "system: audit_anchor")
    assert (anchor.sequence, anchor.hash, anchor.created_by_id, anchor.created_by_label) == (
        4, head.hash, None, "system: audit_anchor"
    )
    assert ANCHOR_LINE.search(out).groups() == ("4", head.hash)
    assert "Keep this line outside the portal's database" in out


def test_verify_audit_fails_when_events_after_the_last_anchor_were_removed(three_events):
    # given an anchor at #4 and one more event, then the last two events removed behind the portal's back
    _run("audit_anchor")
    audit_log(action="test.event5", actor_label="system: test")
    _remove_events_from(4)
    assert AuditEvent.objects.count() == 3  # the chain of what is left is intact

    with pytest.raises(CommandError) as failure:
        _run("verify_audit")

    anchor = AuditAnchor.objects.get()
    assert str(failure.value) == (
        f"Audit trail cut short: it ends at event #3, but the anchor 4:{anchor.hash} recorded it at #4. "
        "3 event(s) are intact."
    )


def test_verify_audit_with_an_anchor_kept_elsewhere_sees_an_emptied_trail_and_anchor_table(three_events):
    # given an anchor printed and kept elsewhere, then every event and anchor removed behind the portal's back
    kept = ":".join(ANCHOR_LINE.search(_run("audit_anchor")).groups())
    with _behind_the_portals_back() as cursor:
        cursor.execute("DELETE FROM portal_auditanchor")
    _remove_events_from(1)

    assert _run("verify_audit") == "Audit trail intact: 0 event(s) verified.\n"  # without the kept anchor
    with pytest.raises(CommandError, match=r"^Audit trail cut short: it ends at event #0, but the anchor 4:"):
        _run("verify_audit", "--anchor", kept)


def test_verify_audit_fails_when_the_trail_differs_from_an_anchor(three_events):
    # given a trail rebuilt by a forger with the same length: its chain is intact, but not the one anchored
    kept = ":".join(ANCHOR_LINE.search(_run("audit_anchor")).groups())
    other = "4:" + "ab" * 32

    with pytest.raises(CommandError) as failure:
        _run("verify_audit", "--anchor", other)

    assert str(failure.value) == (
        f"Audit trail broken at event #4: its hash differs from the anchor {other}. 3 event(s) before it are intact."
    )
    assert _run("verify_audit", "--anchor", kept) == (
        f"Audit trail intact: 4 event(s) verified.\nIt matches 1 anchor(s); the latest is {kept}.\n"
    )


@pytest.mark.parametrize("text", ["4", "x:" + "a" * 64, "4:abc", "-1:" + "a" * 64])
def test_verify_audit_refuses_a_malformed_anchor(db, text):
    with pytest.raises(CommandError, match="SEQUENCE:HASH"):
        _run("verify_audit", f"--anchor={text}")


def test_the_daily_task_takes_an_anchor_and_logs_it(three_events, caplog):
    with caplog.at_level(logging.INFO, logger="portal.services.audit"):
        audit_anchor_take.delay()

    anchor = AuditAnchor.objects.get()
    assert (anchor.sequence, anchor.created_by_label) == (4, "system: audit anchor (daily)")
    assert f"Audit anchor: 4:{anchor.hash}" in caplog.text
    schedule = settings.CELERY_BEAT_SCHEDULE["portal-audit-anchor-daily"]
    assert (schedule["task"], schedule["schedule"].hour, schedule["schedule"].minute) == (
        "portal.audit_anchor_take", {0}, {30}
    )


def test_the_audit_page_shows_the_latest_anchor(three_events, client_for, role_users):
    assert "No anchor yet" in client_for(Role.AUDITOR).get("/audit/").content.decode()
    officer = UserFactory(username="olga", first_name="Olga", last_name="Petrov", role=Role.COMPLIANCE_OFFICER)
    from portal.services.audit import audit_anchor_create

    anchor = audit_anchor_create(actor=officer)

    page = client_for(Role.AUDITOR).get("/audit/").content.decode()
    assert f'data-anchor="{anchor.sequence}:{anchor.hash}"' in page
    assert "Olga Petrov" in page
