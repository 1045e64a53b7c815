"""Celery's configuration: every task has a queue, limits, and is given back when its worker dies."""

import pytest
from django.conf import settings

from portal.celery import app

# The queues the README tells operators to start workers for.
QUEUES = {"default", "scans", "policies", "pdf", "notifications"}


@pytest.fixture(scope="module")
def tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_is_routed_by_its_name_to_a_queue_workers_are_started_for(tasks):
    assert tasks, "no task registered"
    for name in tasks:
        assert name in settings.CELERY_TASK_ROUTES, f"{name} has no route: it would land on the default queue"
        assert app.amqp.router.route({}, name)["queue"].name in QUEUES


def test_every_task_has_a_soft_and_a_hard_time_limit_and_the_broker_waits_longer_than_the_longest(tasks):
    longest = 0
    for name, task in tasks.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, f"{name}: soft {soft}, hard {hard}"
        longest = max(longest, hard)
    assert app.conf.broker_transport_options["visibility_timeout"] > longest


def test_a_task_whose_worker_dies_goes_back_to_the_queue():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True


def test_beat_runs_reminders_daily_scans_every_six_hours_and_sends_mail_every_ten_minutes(tasks):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert set(schedule) <= set(tasks)
    assert schedule["questionnaires.reminders_run"].hour == {6}
    assert schedule["inventory.scan_all_sources"].hour == {0, 6, 12, 18}
    assert schedule["inventory.scan_all_sources"].minute == {0}
    assert schedule["portal.notifications_send"].minute == set(range(0, 60, 10))
