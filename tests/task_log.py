"""What a real Celery worker ran, from Celery's signals: tests that say "runs twice, acts once" count both runs.

    with task_log() as log, start_worker(...):
        some_task.delay(); some_task.delay()
        log.wait_for("app.some_task", runs=2)
"""

import contextlib
import threading
import time
from collections.abc import Iterator

from celery.signals import task_postrun, task_prerun
from django.db import connections


class TaskLog:
    """Which tasks the worker started and finished."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.finished: list[tuple[str, str, object]] = []

    def prerun(self, sender=None, **kwargs):
        with self.lock:
            self.started.append(sender.name)

    def postrun(self, sender=None, retval=None, state=None, **kwargs):
        connections.close_all()  # the worker thread's own connection: never left open on the test database
        with self.lock:
            self.finished.append((sender.name, state, retval))

    def outcomes(self, name: str) -> list[tuple[str, object]]:
        """(state, return value) of each finished run of ``name``."""
        with self.lock:
            return [(state, retval) for finished, state, retval in self.finished if finished == name]

    def results(self, name: str) -> list:
        """What each successful run of ``name`` returned (a run retried after a lock counts once, when done)."""
        return [retval for state, retval in self.outcomes(name) if state == "SUCCESS"]

    def idle(self) -> bool:
        with self.lock:
            return len(self.started) == len(self.finished)

    def wait_until(self, done, *, seconds: float = 60) -> None:
        """Poll ``done()`` until it holds and the worker is idle; fail the test after ``seconds``."""
        deadline = time.monotonic() + seconds
        while not (done() and self.idle()):
            assert time.monotonic() < deadline, f"the worker did not finish: {self.started} / {self.finished}"
            time.sleep(0.1)


@contextlib.contextmanager
def task_log() -> Iterator[TaskLog]:
    """A ``TaskLog`` listening to every task while the block runs."""
    log = TaskLog()
    task_prerun.connect(log.prerun, weak=False)
    task_postrun.connect(log.postrun, weak=False)
    try:
        yield log
    finally:
        task_prerun.disconnect(log.prerun)
        task_postrun.disconnect(log.postrun)
