"""The audit trail: ``audit_log`` extends a hash chain, ``manage.py verify_audit`` checks it,
PostgreSQL refuses to edit it, and oversight roles read it on the audit page."""

import csv
import datetime
import io
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from openpyxl import load_workbook

from portal.choices import Role
from portal.models import AuditEvent
from portal.services import audit as audit_service
from portal.services.audit import GENESIS_HASH, audit_chain_verify, audit_event_hash, audit_log
from tests.factories import PersonFactory, UserFactory
from tests.page_reading import read, rows

UTC = datetime.UTC


def _trail() -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("sequence"))


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


@contextmanager
def _behind_the_portals_back():
    """A cursor as somebody with direct database access would use it.

    On PostgreSQL the append-only trigger is bypassed for the tamper only
    (``session_replication_role = replica`` skips ordinary triggers), then restored.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("RESET session_replication_role")


@pytest.fixture
def four_events(db) -> list[AuditEvent]:
    actor = UserFactory(username="olga", first_name="Olga", last_name="Petrov")
    person = PersonFactory(name="Dana Ops", email="dana@example.com")
    return [
        audit_log(action="role.granted", actor=actor, obj=actor, details={"role": "manager"}),
        audit_log(action="people.imported", actor_label="system: import_people", details={"file": "org.csv"}),
        audit_log(action="person.updated", actor=actor, obj=person, details={"title": "Director"}),
        audit_log(action="pack.downloaded", actor=actor, details={"framework": "HIPAA"}),
    ]


# --- the chain -------------------------------------------------------------------------------------------------


def test_audit_log_builds_a_contiguous_chain_whose_hashes_can_be_recomputed(db):
    # given a user and a person
    actor = UserFactory(username="olga", first_name="Olga", last_name="Petrov")
    person = PersonFactory(name="Dana Ops", email="dana@example.com")

    # when three events are logged
    audit_log(action="role.granted", actor=actor, obj=actor, details={"until": datetime.date(2027, 1, 31)})
    audit_log(action="people.imported", actor_label="system: import_people", details={"created": 2})
    audit_log(action="person.updated", actor=actor, obj=person)

    # then the stored rows form a chain 1..3, each linked to the one before and hashing to its own hash
    events = _trail()
    assert [event.sequence for event in events] == [1, 2, 3]
    assert [event.previous_hash for event in events] == [GENESIS_HASH, events[0].hash, events[1].hash]
    assert [audit_event_hash(event) for event in events] == [event.hash for event in events]
    assert len({event.hash for event in events}) == 3
    assert [(e.actor_id, e.actor_label, e.action, e.object_type, e.object_id, e.object_repr, e.details)
            for e in events] == [
        (actor.pk, "Olga Petrov", "role.granted", "portal.user", str(actor.pk), "Olga Petrov",
         {"until": "2027-01-31"}),
        (None, "system: import_people", "people.imported", "", "", "", {"created": 2}),
        (actor.pk, "Olga Petrov", "person.updated", "portal.person", str(person.pk), "Dana Ops <dana@example.com>",
         {}),
    ]


def test_audit_log_without_actor_or_label_is_recorded_as_system(db):
    event = audit_log(action="scan.finished")

    assert (event.sequence, event.actor_id, event.actor_label) == (1, None, "system")


def test_audit_log_joins_the_callers_transaction(db):
    # given one event on the trail
    audit_log(action="first")

    # when a caller logs an event and then fails
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_log(action="rolled.back")
        raise RuntimeError("the approval failed")

    # then the event went with the failed transaction and the chain continues without a gap
    audit_log(action="second")
    assert [(event.sequence, event.action) for event in _trail()] == [(1, "first"), (2, "second")]
    assert audit_chain_verify() == (2, None)


# --- manage.py verify_audit ------------------------------------------------------------------------------------


def test_verify_audit_passes_on_an_intact_chain_and_prints_the_count(four_events):
    assert _verify() == "Audit trail intact: 4 event(s) verified.\n"


def test_verify_audit_passes_on_an_empty_trail(db):
    assert _verify() == "Audit trail intact: 0 event(s) verified.\n"


@pytest.mark.parametrize(
    ("column", "tampered"),
    [("action", "role.revoked"), ("details", '{"file": "other.csv"}'), ("actor_label", "somebody else")],
)
def test_verify_audit_fails_naming_the_first_row_edited_behind_the_portals_back(four_events, column, tampered):
    # given an intact trail, one row of which is edited with raw SQL
    with _behind_the_portals_back() as cursor:
        cursor.execute(f"UPDATE portal_auditevent SET {column} = %s WHERE sequence = %s", [tampered, 2])  # noqa: S608
    assert getattr(AuditEvent.objects.get(sequence=2), column) != getattr(four_events[1], column)

    # when the chain is verified, then the command fails and names event #2
    with pytest.raises(CommandError) as failure:
        _verify()
    assert str(failure.value) == (
        "Audit trail broken at event #2: its content does not match its hash (edited). "
        "1 event(s) before it are intact."
    )
    assert failure.value.returncode == 1


def test_verify_audit_fails_when_an_edited_row_was_rehashed(four_events):
    # given row 2 edited and its own hash recomputed to match, as a careful forger would
    forged = AuditEvent.objects.get(sequence=2)
    forged.details = {"file": "other.csv"}
    forged_hash = audit_event_hash(forged)
    with _behind_the_portals_back() as cursor:
        cursor.execute(
            "UPDATE portal_auditevent SET details = %s, hash = %s WHERE sequence = %s",
            ['{"file": "other.csv"}', forged_hash, 2],
        )
    assert audit_event_hash(AuditEvent.objects.get(sequence=2)) == forged_hash

    # when the chain is verified, then row 2 passes on its own but row 3 no longer links to it
    with pytest.raises(CommandError) as failure:
        _verify()
    assert str(failure.value) == (
        "Audit trail broken at event #3: its previous-hash does not match the event before it. "
        "2 event(s) before it are intact."
    )


def test_verify_audit_fails_naming_a_deleted_middle_row(four_events):
    # given an intact trail whose second row is deleted with raw SQL
    with _behind_the_portals_back() as cursor:
        cursor.execute("DELETE FROM portal_auditevent WHERE sequence = %s", [2])
    assert list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True)) == [1, 3, 4]

    # when the chain is verified, then the command fails and names the missing event
    with pytest.raises(CommandError) as failure:
        _verify()
    assert str(failure.value) == (
        "Audit trail broken at event #2: event #2 is missing (next found is #3). 1 event(s) before it are intact."
    )
    assert failure.value.returncode == 1


def test_verify_audit_fails_when_the_first_row_was_deleted(four_events):
    with _behind_the_portals_back() as cursor:
        cursor.execute("DELETE FROM portal_auditevent WHERE sequence = %s", [1])

    with pytest.raises(CommandError) as failure:
        _verify()
    assert str(failure.value) == (
        "Audit trail broken at event #1: event #1 is missing (next found is #2). 0 event(s) before it are intact."
    )


# --- PostgreSQL refuses to edit the trail ----------------------------------------------------------------------


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


@postgresql_only
@pytest.mark.parametrize(
    ("statement", "params"),
    [
        ("UPDATE portal_auditevent SET action = %s WHERE sequence = %s", ["role.revoked", 2]),
        ("UPDATE portal_auditevent SET details = %s WHERE sequence = %s", ['{"file": "other.csv"}', 2]),
        ("DELETE FROM portal_auditevent WHERE sequence = %s", [2]),
        ("DELETE FROM portal_auditevent", []),
    ],
)
def test_postgresql_refuses_plain_update_and_delete_on_the_trail(four_events, statement, params):
    before = list(AuditEvent.objects.order_by("sequence").values())

    # when somebody with database access edits the trail without disabling the trigger
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)

    # then the database refused it and nothing changed
    assert list(AuditEvent.objects.order_by("sequence").values()) == before
    assert audit_chain_verify() == (4, None)


@postgresql_only
def test_postgresql_refuses_orm_update_and_delete_on_the_trail(four_events):
    before = list(AuditEvent.objects.order_by("sequence").values())

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(sequence=2).update(action="role.revoked")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(sequence=2).delete()

    assert list(AuditEvent.objects.order_by("sequence").values()) == before


# --- the audit page --------------------------------------------------------------------------------------------


@pytest.fixture
def dated_events(db, monkeypatch) -> dict[str, object]:
    """Three events on three days of March 2026, written through ``audit_log`` so the chain is intact."""
    olga = UserFactory(username="olga", first_name="Olga", last_name="Petrov")
    dana = PersonFactory(name="Dana Ops", email="dana@example.com")
    eli = PersonFactory(name="Eli Finance", email="eli@example.com")

    def log_at(at: datetime.datetime, **kwargs) -> AuditEvent:
        with monkeypatch.context() as patch:
            patch.setattr(audit_service, "timezone", SimpleNamespace(now=lambda: at))
            return audit_log(**kwargs)

    log_at(datetime.datetime(2026, 3, 1, 10, 0, tzinfo=UTC), action="role.granted", actor=olga, obj=dana,
           details={"role": "manager"})
    log_at(datetime.datetime(2026, 3, 5, 23, 59, tzinfo=UTC), action="people.imported",
           actor_label="system: import_people", details={"file": "org.csv"})
    log_at(datetime.datetime(2026, 3, 10, 0, 0, tzinfo=UTC), action="role.revoked", actor=olga, obj=eli)
    return {"olga": olga, "dana": dana, "eli": eli}


def test_audit_page_lists_the_trail_newest_first_for_an_auditor(dated_events, client_for):
    response = client_for(Role.AUDITOR).get("/audit/")

    assert response.status_code == 200
    assert [event.sequence for event in response.context["events"]] == [3, 2, 1]
    html = response.content.decode()
    assert "3 events." in html
    table = rows(read(html).find("table"))
    assert [(row[0], row[3]) for row in table] == [
        ("3", "role.revoked"), ("2", "people.imported"), ("1", "role.granted"),
    ]
    assert "2026-03-05 23:59:00" in html
    assert "Dana Ops &lt;dana@example.com&gt;" in html
    assert "org.csv" in html
    assert response.context["actions"] == ["people.imported", "role.granted", "role.revoked"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [3, 2, 1]),
        ({"action": "role."}, [3, 1]),
        ({"action": "people.imported"}, [2]),
        ({"action": "scan."}, []),
        ({"actor": "olga"}, [3, 1]),
        ({"actor": "SYSTEM"}, [2]),
        ({"object": "dana@"}, [1]),
        ({"object": "finance"}, [3]),
        ({"since": "2026-03-05"}, [3, 2]),
        ({"until": "2026-03-05"}, [2, 1]),
        ({"since": "2026-03-02", "until": "2026-03-09"}, [2]),
        ({"action": "role.", "actor": "olga", "since": "2026-03-02"}, [3]),
    ],
)
def test_audit_page_filters(dated_events, client_for, query, expected):
    response = client_for(Role.COMPLIANCE_OFFICER).get("/audit/", query)

    assert response.status_code == 200
    assert [event.sequence for event in response.context["events"]] == expected
    if not expected:
        assert "No events match." in response.content.decode()


def test_audit_page_filters_by_object_id(dated_events, client_for):
    response = client_for(Role.ADMIN).get("/audit/", {"object": str(dated_events["eli"].pk)})

    assert [event.sequence for event in response.context["events"]] == [3]


def test_audit_page_reports_a_bad_date_and_ignores_it(dated_events, client_for):
    response = client_for(Role.AUDITOR).get("/audit/", {"since": "31/02/2026", "action": "role."})

    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()
    assert [event.sequence for event in response.context["events"]] == [3, 1]


def test_audit_page_pages_by_fifty_and_keeps_the_filter_in_page_links(db, client_for):
    for number in range(55):
        audit_log(action="bulk.event", details={"n": number})
    audit_log(action="other.event")

    first = client_for(Role.AUDITOR).get("/audit/", {"action": "bulk."})
    second = client_for(Role.AUDITOR).get("/audit/", {"action": "bulk.", "page": 2})

    assert [event.sequence for event in first.context["events"]] == list(range(55, 5, -1))
    assert [event.sequence for event in second.context["events"]] == [5, 4, 3, 2, 1]
    assert 'href="?action=bulk.&page=2">Older</a>' in first.content.decode()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SECURITY_ADMIN, "none"])
def test_audit_page_is_refused_to_roles_without_oversight(dated_events, client_for, role):
    response = client_for(role).get("/audit/")

    assert response.status_code == 403
    assert "role.granted" not in response.content.decode()


def test_audit_log_many_appends_a_chain_that_verifies_in_few_statements(db, role_users, django_assert_max_num_queries):
    from portal.services.audit import AuditEntry, audit_log_many

    audit_log(action="test.before", actor=role_users[Role.ADMIN])
    people = [PersonFactory() for _ in range(250)]

    with django_assert_max_num_queries(10):
        events = audit_log_many(
            entries=[AuditEntry("person.checked", person, {"n": n}) for n, person in enumerate(people)],
            actor=role_users[Role.ADMIN],
        )

    assert [event.sequence for event in events] == list(range(2, 252))
    stored = AuditEvent.objects.get(sequence=251)
    assert (stored.action, stored.object_id, stored.details) == ("person.checked", str(people[-1].pk), {"n": 249})
    assert audit_chain_verify() == (251, None)


def test_the_audit_page_exports_the_filtered_trail_as_csv_and_xlsx_and_records_it(dated_events, client_for):
    client = client_for(Role.AUDITOR)
    html = client.get("/audit/", {"action": "role."}).content.decode()
    assert 'href="/audit/events.csv?action=role." data-export="csv"' in html

    response = client.get("/audit/events.csv", {"action": "role."})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(row["#"], row["Action"], row["Who"]) for row in rows] == [
        ("3", "role.revoked", "Olga Petrov"), ("1", "role.granted", "Olga Petrov")]
    assert rows[1]["Details"] == "role: manager"
    exported = AuditEvent.objects.get(action="audit.exported")
    assert exported.details == {"export": "csv", "filters": {"Action starts with": "role."}, "rows": 2}

    workbook = load_workbook(io.BytesIO(client.get("/audit/events.xlsx", {"since": "2026-03-05"}).content))
    assert workbook.sheetnames == ["About", "Events"]
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert (about["Export"], about["Filter: From"]) == ("Audit trail", "2026-03-05")
    header, *events = list(workbook["Events"].iter_rows(values_only=True))
    when = dict(zip(header, events[-1], strict=True))["When"]
    assert isinstance(when, datetime.datetime)


def test_only_oversight_roles_export_the_audit_trail(dated_events, client_for):
    assert client_for(Role.MANAGER).get("/audit/events.csv").status_code == 403
    assert not AuditEvent.objects.filter(action="audit.exported").exists()
