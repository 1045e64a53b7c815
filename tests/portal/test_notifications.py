"""Notifications for every app: one row per key, subjects cut in one place, e-mailed once, digests as one e-mail."""

import pytest
from django.core import mail

from portal.choices import NotificationKind
from portal.models import Notification
from portal.services.notifications import notification_new, notifications_create, notifications_send
from tests.factories import PersonFactory


def note(person, key: str, *, digest: str = "", subject: str = "", link: str = "") -> Notification:
    return notification_new(
        person_id=person.pk, kind=NotificationKind.REMINDER, subject=subject or f"About {key}", body=f"Body {key}",
        dedupe_key=key, digest=digest, link=link,
    )


@pytest.fixture
def ann(db):
    return PersonFactory(name="Ann", email="ann@example.com")


@pytest.fixture
def ben(db):
    return PersonFactory(name="Ben", email="ben@example.com")


def test_a_subject_longer_than_its_column_is_cut_and_marked(ann):
    row = note(ann, "long", subject="word " * 100)

    assert len(row.subject) == 300
    assert row.subject.endswith("…")


def test_a_dedupe_key_longer_than_its_column_keeps_two_long_keys_apart(ann):
    first, second = note(ann, "k" * 250 + "1"), note(ann, "k" * 250 + "2")

    notifications_create([first, second])

    assert Notification.objects.count() == 2
    assert all(len(key) <= 200 for key in Notification.objects.values_list("dedupe_key", flat=True))


def test_rows_of_one_digest_go_out_as_one_e_mail_per_person(ann, ben, settings):
    settings.PORTAL_BASE_URL = "https://vmcensus.example.com"
    digest = "Policy run #7: 3 findings in your area"
    notifications_create(
        [note(ann, f"a{n}", digest=digest, link=f"/inventory/vms/{n}/") for n in range(3)]
        + [note(ann, "single"), note(ben, "b1", digest=digest), note(ben, "b2", digest=digest)]
    )

    assert notifications_send(batch_size=2) == 3  # a batch of 2 claims the digest's other rows with it

    by_recipient = sorted((message.to[0], message.subject) for message in mail.outbox)
    assert by_recipient == [
        ("ann@example.com", "About single"),
        ("ann@example.com", digest),
        ("ben@example.com", digest),
    ]
    ann_digest = next(m for m in mail.outbox if m.to == ["ann@example.com"] and m.subject == digest)
    assert ann_digest.body.startswith("3 new items for you in vmcensus:")
    for n in range(3):
        assert f"- About a{n}\n  https://vmcensus.example.com/inventory/vms/{n}/" in ann_digest.body
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    assert Notification.objects.filter(person=ann).count() == 4  # the inbox keeps one row each
    assert notifications_send() == 0


def test_a_long_digest_lists_fifty_items_and_counts_the_rest(ann):
    notifications_create([note(ann, f"n{n}", digest="Many") for n in range(60)])

    assert notifications_send() == 1

    body = mail.outbox[0].body
    assert body.count("\n- About n") == 50
    assert "... and 10 more in your inbox" in body
