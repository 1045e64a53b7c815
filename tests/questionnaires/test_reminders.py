"""Reminders before the due date, escalation up the chain after it, each sent once however often the task runs;
one test runs the tasks on a real Celery worker over Redis."""

import datetime
import time

import pytest
from django.core import mail
from django.utils import timezone

from portal.choices import NotificationKind
from portal.models import AuditEvent, Notification, Person
from questionnaires.choices import AssignmentStatus
from questionnaires.models import Assignment, Campaign
from questionnaires.services import reminders as reminders_service
from questionnaires.services.campaigns import campaign_launch
from questionnaires.services.reminders import reminder_date, reminders_run
from tests.questionnaires.factories import submit_answered
from tests.task_log import task_log

DAY = datetime.timedelta(days=1)


@pytest.fixture
def launched(make_campaign, officer, org, logins):
    """A cascading campaign over ``org``, due in 14 days, reminders every 7, escalation every 3 days overdue."""
    campaign = make_campaign()
    campaign_launch(campaign=campaign, user=officer)
    campaign.refresh_from_db()
    Notification.objects.update(emailed_at=timezone.now())  # the launch's own e-mails are not under test here
    return campaign


def keys(kind: str) -> list[str]:
    return sorted(Notification.objects.filter(kind=kind).values_list("dedupe_key", flat=True))


def recipients(kind: str) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(kind=kind).values_list("assignment__person__email", "person__email"))


def run(today: datetime.date, capture) -> dict:
    """One reminder run, with the e-mail task it queues on commit carried out (eagerly) as in production."""
    with capture(execute=True):
        return reminders_run(today=today)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (datetime.date(2027, 3, 14), datetime.date(2027, 3, 8)),
        (datetime.date(2027, 3, 8), datetime.date(2027, 3, 8)),
        (datetime.date(2027, 3, 7), datetime.date(2027, 3, 1)),
        (datetime.date(2027, 3, 15), None),  # the due date: escalation's turn
        (datetime.date(2027, 3, 20), None),
    ],
)
def test_reminder_date_counts_back_from_the_due_date(today, expected):
    assert reminder_date(due_date=datetime.date(2027, 3, 15), every_days=7, today=today) == expected
    assert reminder_date(due_date=datetime.date(2027, 3, 15), every_days=0, today=today) is None


def test_reminders_on_the_cadence_are_sent_once_even_when_run_twice(
    launched, org, logins, django_capture_on_commit_callbacks
):
    campaign = launched
    ann = Assignment.objects.get(person=org["lead_a1"])
    submit_answered(ann, logins["lead_a1"])
    Notification.objects.update(emailed_at=timezone.now())
    reminder_day = campaign.due_date - 7 * DAY

    assert run(timezone.localdate(), django_capture_on_commit_callbacks)["reminders"] == 0  # launch day
    first = run(reminder_day, django_capture_on_commit_callbacks)
    second = run(reminder_day, django_capture_on_commit_callbacks)
    next_day = run(reminder_day + DAY, django_capture_on_commit_callbacks)

    assert first == {"campaigns": 1, "assignments_checked": 5, "reminders": 5, "escalations": 0}
    assert second == next_day == {"campaigns": 1, "assignments_checked": 5, "reminders": 0, "escalations": 0}
    open_parts = Assignment.objects.exclude(pk=ann.pk).order_by("id")
    assert keys(NotificationKind.REMINDER) == sorted(f"reminder:{part.pk}:{reminder_day}" for part in open_parts)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        person.email for key, person in org.items() if key != "lead_a1"
    )
    assert all("(7 days left)" in message.subject for message in mail.outbox)
    assert AuditEvent.objects.filter(action="reminders.sent").count() == 1


def test_no_reminders_without_a_cadence_or_for_finished_parts(make_campaign, officer, org, logins):
    campaign = make_campaign(reminder_every_days=0)
    campaign_launch(campaign=campaign, user=officer)

    result = reminders_run(today=campaign.due_date - 7 * DAY)

    assert result["reminders"] == 0
    assert not Notification.objects.filter(kind=NotificationKind.REMINDER).exists()


def test_overdue_parts_escalate_up_two_levels_then_stop_at_the_owner_of_the_scope(
    launched, org, logins, officer, django_capture_on_commit_callbacks
):
    campaign = launched
    bens = Assignment.objects.get(person=org["lead_b1"])
    submit_answered(bens, logins["lead_b1"])
    Notification.objects.update(emailed_at=timezone.now())
    due = campaign.due_date

    for day in (due, due + DAY, due + 2 * DAY):
        assert run(day, django_capture_on_commit_callbacks)["escalations"] == 0

    assert run(due + 3 * DAY, django_capture_on_commit_callbacks)["escalations"] == 5
    assert recipients(NotificationKind.ESCALATION) == [
        ("ceo@example.com", "officer@example.com"),  # the head of the scope: the campaign's owner is told
        ("lead.a1@example.com", "vp.a@example.com"),
        ("lead.a2@example.com", "vp.a@example.com"),
        ("vp.a@example.com", "ceo@example.com"),
        ("vp.b@example.com", "ceo@example.com"),
    ]
    assert run(due + 3 * DAY, django_capture_on_commit_callbacks)["escalations"] == 0
    assert run(due + 5 * DAY, django_capture_on_commit_callbacks)["escalations"] == 0

    assert run(due + 6 * DAY, django_capture_on_commit_callbacks)["escalations"] == 2  # the leads' second level
    assert recipients(NotificationKind.ESCALATION)[1:3] == [
        ("lead.a1@example.com", "ceo@example.com"),
        ("lead.a1@example.com", "vp.a@example.com"),
    ]
    assert run(due + 9 * DAY, django_capture_on_commit_callbacks)["escalations"] == 0  # the chain ends at the scope
    assert run(due + 30 * DAY, django_capture_on_commit_callbacks)["escalations"] == 0

    levels = dict(Assignment.objects.values_list("person__email", "escalation_level"))
    assert levels == {
        "ceo@example.com": 1, "vp.a@example.com": 1, "vp.b@example.com": 1, "lead.a1@example.com": 2,
        "lead.a2@example.com": 2, "lead.b1@example.com": 0,
    }
    ann = Assignment.objects.get(person=org["lead_a1"])
    assert keys(NotificationKind.ESCALATION).count(f"escalation:{ann.pk}:1") == 1
    assert keys(NotificationKind.ESCALATION).count(f"escalation:{ann.pk}:2") == 1
    assert len(mail.outbox) == Notification.objects.filter(kind=NotificationKind.ESCALATION).count() == 7
    vp_mail = [message for message in mail.outbox if message.to == ["vp.a@example.com"]]
    assert sorted(message.subject for message in vp_mail) == [
        "Overdue: Abe Lead's part of VM census 2027 (3 days late)",
        "Overdue: Ann Lead's part of VM census 2027 (3 days late)",
    ]


def test_a_missed_run_catches_up_every_level_due_and_skips_inactive_managers(launched, org):
    campaign = launched
    org["vp_a"].active = False
    org["vp_a"].save()

    result = reminders_run(today=campaign.due_date + 7 * DAY)

    ann = Assignment.objects.get(person=org["lead_a1"])
    assert list(
        Notification.objects.filter(assignment=ann).filter(kind=NotificationKind.ESCALATION)
        .order_by("dedupe_key").values_list("dedupe_key", "person__email")
    ) == [(f"escalation:{ann.pk}:1", "ceo@example.com")]  # Alice left; the chain above Ann is Carol alone
    assert Assignment.objects.get(pk=ann.pk).escalation_level == 1
    assert result["escalations"] == 7  # Ben's two levels (Bob, Carol) and one for each of the five others


def test_the_unique_key_alone_stops_a_second_escalation_when_two_runs_race(
    launched, monkeypatch, django_capture_on_commit_callbacks
):
    """Two runs that both read "nothing sent yet" (the race window of two workers) still write and send once."""
    monkeypatch.setattr(reminders_service, "_existing_keys", lambda keys: set())
    late = launched.due_date + 3 * DAY

    run(late, django_capture_on_commit_callbacks)
    run(late, django_capture_on_commit_callbacks)

    escalations = Notification.objects.filter(kind=NotificationKind.ESCALATION)
    assert escalations.count() == escalations.values("dedupe_key").distinct().count() == 6
    assert len(mail.outbox) == 6
    assert len({(message.to[0], message.subject) for message in mail.outbox}) == 6


def test_reminders_work_through_the_assignments_in_bounded_batches(launched, monkeypatch):
    monkeypatch.setattr(reminders_service, "REMINDER_BATCH_SIZE", 4)

    result = reminders_run(today=launched.due_date + 3 * DAY)

    assert result == {"campaigns": 1, "assignments_checked": 6, "reminders": 0, "escalations": 6}
    assert AuditEvent.objects.filter(action="reminders.sent").count() == 2  # one per batch that sent something


def test_closed_campaigns_are_not_reminded(launched, officer):
    from questionnaires.services.campaigns import campaign_close

    campaign_close(campaign=launched, user=officer)

    assert reminders_run(today=launched.due_date + 10 * DAY) == {
        "campaigns": 0, "assignments_checked": 0, "reminders": 0, "escalations": 0,
    }


# --- a real worker ----------------------------------------------------------------------------------------------



@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_on_a_real_worker_send_each_escalation_once(worker_app, launched, org):
    from celery.contrib.testing.worker import start_worker

    from questionnaires.tasks import reminders_run_task

    campaign = launched
    Campaign.objects.filter(pk=campaign.pk).update(due_date=timezone.localdate() - 3 * DAY)
    mail.outbox.clear()
    worker = start_worker(worker_app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30,
                          queues=["notifications"])
    with task_log() as log, worker:
        reminders_run_task.delay()
        reminders_run_task.delay()
        log.wait_until(lambda: len(log.results("questionnaires.reminders_run")) == 2
                       and not Notification.objects.filter(emailed_at__isnull=True).exists())
        time.sleep(0.5)  # let a straggling e-mail task finish before counting
        assert log.idle()

    parts = Assignment.objects.filter(campaign=campaign)
    escalations = Notification.objects.filter(kind=NotificationKind.ESCALATION)
    assert sorted(escalations.values_list("dedupe_key", flat=True)) == sorted(
        f"escalation:{part.pk}:1" for part in parts
    )
    assert set(parts.values_list("escalation_level", flat=True)) == {1}
    assert set(parts.values_list("status", flat=True)) == {AssignmentStatus.NOT_STARTED}
    sent = sorted((message.to[0], message.subject) for message in mail.outbox)
    assert len(sent) == len(set(sent)) == 6
    assert sorted(to for to, _ in sent) == sorted(
        ["officer@example.com", "ceo@example.com", "ceo@example.com", "vp.a@example.com", "vp.a@example.com",
         "vp.b@example.com"]
    )
    runs = log.results("questionnaires.reminders_run")
    assert [run["campaigns"] for run in runs] == [1, 1]
    assert sum(run["escalations"] for run in runs) >= 6  # each run counts what it saw as new; the keys decide
    assert Person.objects.count() == 7


def test_an_escalation_with_a_long_name_and_campaign_name_fits_its_subject(
    make_campaign, officer, org, logins, django_capture_on_commit_callbacks
):
    """Names of 200 characters each make a subject longer than its column: it is cut, marked, and stored."""
    org["lead_a1"].name = "A" * 200
    org["lead_a1"].save(update_fields=["name"])
    campaign = make_campaign(name="C" * 200)
    campaign_launch(campaign=campaign, user=officer)

    run(campaign.due_date + 3 * DAY, django_capture_on_commit_callbacks)

    escalation = Notification.objects.get(kind=NotificationKind.ESCALATION, assignment__person=org["lead_a1"])
    assert len(escalation.subject) == 300
    assert escalation.subject.startswith(f"Overdue: {'A' * 200}'s part of CCC")
    assert escalation.subject.endswith("…")
    assert any(message.subject == escalation.subject for message in mail.outbox)
