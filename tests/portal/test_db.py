"""The shared query helpers: chunks within the parameter limit, and fast inserts that store what bulk_create would."""

from portal.db import QUERY_CHUNK_SIZE, chunked, rows_insert
from portal.models import AuditEvent, Person


def test_chunked_cuts_any_iterable_into_bounded_lists():
    assert list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert [len(chunk) for chunk in chunked(iter(range(QUERY_CHUNK_SIZE + 1)))] == [QUERY_CHUNK_SIZE, 1]
    assert list(chunked([])) == []


def test_rows_insert_stores_text_numbers_none_and_json_as_the_orm_reads_them(db):
    manager = Person.objects.create(name="Boss", email="boss@example.com")
    rows = [(f"Person {n}", f"p{n}@example.com", "", "", manager.pk if n % 2 else None, True) for n in range(1500)]

    assert rows_insert(Person, ("name", "email", "title", "department", "parent_id", "active"), rows) == 1500

    assert Person.objects.filter(parent=manager).count() == 750
    assert Person.objects.get(email="p1499@example.com").name == "Person 1499"


def test_rows_insert_serialises_json_columns(db):
    from questionnaires.models import ReconciliationChange, ReconciliationItem
    from tests.questionnaires.factories import CampaignFactory

    campaign = CampaignFactory()
    rows_insert(ReconciliationItem, ("campaign_id", "key", "state", "match_key", "match_value", "reasons",
                                     "candidates", "fingerprint", "resolution", "resolution_note"),
                [(campaign.pk, "d1", "not_found", "", "", [{"code": "not_seen", "message": "l'été «x»"}], [3, 4],
                  "f", "", "")])

    item = ReconciliationItem.objects.get()
    assert (item.reasons, item.candidates) == ([{"code": "not_seen", "message": "l'été «x»"}], [3, 4])
    assert not ReconciliationChange.objects.exists() and not AuditEvent.objects.exists()


def test_rows_update_sets_only_the_given_columns_of_the_given_rows(db):
    from portal.db import rows_update

    people = [Person.objects.create(name=f"P{n}", email=f"p{n}@example.com", title="old") for n in range(3)]

    rows_update(Person, ("name", "active"), [(people[0].pk, "Renamed", False), (people[2].pk, "Also", True)])

    assert list(Person.objects.order_by("id").values_list("name", "active", "title")) == [
        ("Renamed", False, "old"), ("P1", True, "old"), ("Also", True, "old"),
    ]
    assert rows_update(Person, ("name",), []) == 0
