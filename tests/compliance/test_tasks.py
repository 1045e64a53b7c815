"""The evaluation task on a real Celery worker, on its queue: the beat's daily run delivered twice (a redelivery,
or two beats) evaluates once; each delivery returns that day's run."""

import pytest
from celery.contrib.testing.worker import start_worker

from compliance.choices import EvaluationTrigger
from compliance.models import ControlEvaluation, EvaluationRun
from compliance.services.catalogs import catalogs_load
from compliance.services.controls import controls_load
from tests.factories import VirtualMachineFactory
from tests.task_log import task_log


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_the_daily_run_on_a_real_worker_evaluate_once(worker_app, settings):
    from compliance.tasks import controls_evaluate_task

    catalogs_load()
    controls_load()
    VirtualMachineFactory()
    assert settings.CELERY_TASK_ROUTES["compliance.controls_evaluate"] == {"queue": "policies"}
    worker = start_worker(worker_app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30,
                          queues=["policies"])
    with task_log() as log, worker:
        controls_evaluate_task.apply_async(args=[EvaluationTrigger.DAILY], queue="policies")
        controls_evaluate_task.apply_async(args=[EvaluationTrigger.DAILY], queue="policies")
        log.wait_until(lambda: len(log.results("compliance.controls_evaluate")) == 2)

    run = EvaluationRun.objects.get()
    assert log.results("compliance.controls_evaluate") == [run.pk, run.pk]
    assert (run.trigger, run.finished_at is not None) == (EvaluationTrigger.DAILY, True)
    assert ControlEvaluation.objects.filter(run=run).count() == sum(run.counts.values()) > 0
