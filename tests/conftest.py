"""Fixtures shared by every test: one logged-in client per role, and a small organisation."""

import datetime
import os
import uuid

import pytest
import redis
from django.test import Client
from django.utils import timezone

from portal.choices import Role
from tests.factories import PersonFactory, UserFactory
from tests.vsphere_sim import harness


@pytest.fixture
def role_users(db) -> dict[str, object]:
    """One user per role, plus ``none``: a login with no role at all."""
    users = {role.value: UserFactory(username=role.value, role=role) for role in Role}
    users[Role.AUDITOR].access_expires_on = timezone.localdate() + datetime.timedelta(days=30)
    users[Role.AUDITOR].save()
    users["none"] = UserFactory(username="norole")
    return users


@pytest.fixture
def client_for(role_users):
    """``client_for("auditor")`` is a test client logged in as that role's user."""

    def make(role: str) -> Client:
        client = Client()
        client.force_login(role_users[role])
        return client

    return make


@pytest.fixture
def org(db) -> dict[str, object]:
    """ceo → (vp_a → (lead_a1, lead_a2), vp_b → lead_b1)."""
    ceo = PersonFactory(name="Carol CEO", email="ceo@example.com", title="CEO")
    vp_a = PersonFactory(name="Alice VP", email="vp.a@example.com", parent=ceo)
    vp_b = PersonFactory(name="Bob VP", email="vp.b@example.com", parent=ceo)
    return {
        "ceo": ceo,
        "vp_a": vp_a,
        "vp_b": vp_b,
        "lead_a1": PersonFactory(name="Ann Lead", email="lead.a1@example.com", parent=vp_a),
        "lead_a2": PersonFactory(name="Abe Lead", email="lead.a2@example.com", parent=vp_a),
        "lead_b1": PersonFactory(name="Ben Lead", email="lead.b1@example.com", parent=vp_b),
    }


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """``VMCENSUS_TEST_DB_SUFFIX`` gives a PostgreSQL run its own test database, so two runs never collide."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    suffix = os.environ.get("VMCENSUS_TEST_DB_SUFFIX")
    if suffix and "postgresql" in database["ENGINE"]:
        database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_{suffix}"


# A database of the local Redis that nothing else relies on, for tests that need a real Celery worker.
TEST_BROKER_URL = "redis://127.0.0.1:6379/15"


def _redis_problem(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def worker_app():
    """The portal's Celery app sending to Redis (not eagerly), under a key prefix of its own so that no other
    test run sharing the Redis database takes its messages. Restored afterwards. Skipped without Redis,
    except under CI, where the real worker must run."""
    problem = _redis_problem(TEST_BROKER_URL)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required under CI at {TEST_BROKER_URL}: {problem}")
        pytest.skip(f"Redis is not reachable at {TEST_BROKER_URL} ({problem}); the real-worker test needs it")
    from portal.celery import app

    prefix = f"vmcensus-test-{uuid.uuid4().hex[:12]}:"
    changed = {
        "broker_url": TEST_BROKER_URL,
        "task_always_eager": False,
        "broker_transport_options": {"global_keyprefix": prefix},
        "worker_hijack_root_logger": False,
    }
    saved = {key: app.conf[key] for key in changed}
    app.conf.update(changed)
    app._pool = None  # connections are pooled per broker URL: drop any made for the eager configuration
    app.amqp._producer_pool = None
    try:
        yield app
    finally:
        app.conf.update(saved)
        app._pool = None
        app.amqp._producer_pool = None
        client = redis.Redis.from_url(TEST_BROKER_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


@pytest.fixture(scope="session")
def vsphere_simulator_available():
    """Skip scanner tests when the simulator cannot be built here; under CI they must run."""
    available, reason = harness.simulator_available()
    if not available:
        if os.environ.get("CI"):
            pytest.fail(f"The vSphere simulator is required under CI: {reason}")
        pytest.skip(f"vSphere simulator unavailable: {reason}")
