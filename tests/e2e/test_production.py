"""The production path, run as documented: ``scripts/production.sh release``, then ``web`` (gunicorn with
WhiteNoise) and a ``worker`` on every queue (Celery on Redis), on PostgreSQL, against the govmomi simulator.

A security admin logs in through Chromium, adds the simulator with the source form, tests the connection
(sees the vCenter's version), saves, presses "Scan now" and sees the worker's scan complete and the VMs
listed. The portal runs ``portal.settings.production`` unchanged: the test's browser plays the TLS-terminating
proxy by sending ``X-Forwarded-Proto: https``, so HTTPS redirects, secure cookies and HSTS stay as deployed.

The processes share the test database that pytest-django created (a transactional test commits its data,
so they see the user it makes); they are stopped before the test's data is flushed.
"""

import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from playwright.sync_api import expect

from portal.choices import Role
from tests.conftest import TEST_BROKER_URL, _redis_problem
from tests.e2e.pages import navigate
from tests.factories import UserFactory
from tests.vsphere_sim import harness

pytestmark = [pytest.mark.e2e, pytest.mark.simulator, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [str(ROOT / "scripts" / "production.sh")]
QUEUES = "default,scans,pdf,notifications,policies"
USERNAME, PASSWORD = "secadmin-e2e", "correct-horse-battery-staple"
# Seconds a process may take to start (gunicorn importing Django) or a step to finish (collectstatic, the scan).
STARTUP_SECONDS = 60
RELEASE_SECONDS = 300
SCAN_SECONDS = 120
SIMULATED_VMS = ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1", "DC0_C1_RP0_VM0", "DC0_C1_RP0_VM1"]


def unavailable(reason: str) -> None:
    """Skip here; under CI, where the production path must be proven, fail."""
    if os.environ.get("CI"):
        pytest.fail(f"The production end-to-end test cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The test database pytest-django made, as a URL for the processes (``portal.settings.base`` reads it)."""
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Processes:
    """Processes started for the test, each in a session of its own; ``stop()`` ends every one of them."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs, self.running = env, logs, {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen([*PRODUCTION, *args], cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def check_alive(self) -> None:
        for name, process in self.running.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}:\n{self.log(name)}"

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def wait_for_web(url: str, processes: Processes) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})  # noqa: S310 (loopback)
    while True:
        processes.check_alive()
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"gunicorn did not answer {url} within {STARTUP_SECONDS} s:\n{processes.log('web')}")
        time.sleep(0.5)


@pytest.fixture
def production(transactional_db, tmp_path):
    """``{"url", "processes"}``: the portal under gunicorn and a Celery worker, on this test's database."""
    if connection.vendor != "postgresql":
        unavailable("it needs PostgreSQL (set DATABASE_URL): the portal's processes share the test database")
    if problem := _redis_problem(TEST_BROKER_URL):
        unavailable(f"Redis is not reachable at {TEST_BROKER_URL}: {problem}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prefix = f"vmcensus-e2e-{uuid.uuid4().hex[:12]}:"
    # What a service manager gives a process, and the deployment's settings; nothing of the test's environment
    # (DJANGO_ALLOW_ASYNC_UNSAFE, set for Playwright, is itself refused by the deployment check).
    env = {
        **{name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "TMPDIR")},
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        # The browser's origin is http://; the portal, told by the "proxy" header that it is https, compares
        # Origin headers with https://. A proxy on the same host name would make the two agree.
        "CSRF_TRUSTED_ORIGINS": url,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": TEST_BROKER_URL,
        "CELERY_BROKER_KEY_PREFIX": prefix,
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "CELERY_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    try:
        release = processes.start("release", "release")
        try:
            release.wait(timeout=RELEASE_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"release took more than {RELEASE_SECONDS} s:\n{processes.log('release')}")
        assert release.returncode == 0, f"release failed:\n{processes.log('release')}"
        del processes.running["release"]
        processes.start("worker", "worker", QUEUES)
        processes.start("web", "web")
        wait_for_web(f"{url}/accounts/login/", processes)
        yield {"url": url, "processes": processes, "static_root": tmp_path / "static"}
    finally:
        processes.stop()
        client = redis.Redis.from_url(TEST_BROKER_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


@pytest.fixture
def simulator():
    harness.require_simulator()
    with harness.Simulator(datacenters=1, clusters=2, cluster_hosts=1, hosts=0, vms=2) as sim:
        yield sim


@pytest.fixture
def proxied_page(browser):
    """A Chromium page whose every request says it came through the TLS proxy; collects console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"X-Forwarded-Proto": "https"})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.problems = []
    page.on("console", lambda message: page.problems.append(f"{page.url}: {message.text}")
            if message.type == "error" else None)
    yield page
    context.close()


def test_a_security_admin_adds_the_simulator_and_scans_it_on_the_production_stack(
    production, simulator, proxied_page,
):
    user = UserFactory(username=USERNAME, role=Role.SECURITY_ADMIN)
    # Production checks passwords with its own hashers, not the test settings' fast one.
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, secrets.token_hex(8))
    user.save(update_fields=["password"])
    page, url = proxied_page, production["url"]

    response = page.goto(f"{url}/")
    assert re.search(r"/accounts/login/\?next=/$", page.url)
    headers = response.all_headers()
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["sessionid"]["secure"] and cookies["sessionid"]["httpOnly"]

    # Static files come from WhiteNoise under their hashed names, compressed and cached for ever.
    stylesheet = page.locator("link[rel=stylesheet]").first.get_attribute("href")
    assert re.fullmatch(r"/static/bootstrap/css/bootstrap\.min\.[0-9a-f]{12}\.css", stylesheet)
    static = page.request.get(f"{url}{stylesheet}", headers={"Accept-Encoding": "br, gzip"})
    assert static.status == 200
    assert static.headers["content-encoding"] in ("br", "gzip")
    assert "immutable" in static.headers["cache-control"]

    navigate(page, "Estate", "Sources")
    page.get_by_role("link", name="Add vCenter").click()
    page.get_by_label("Name").fill("lab-simulator")
    page.get_by_label("Host").fill(simulator.host)
    page.get_by_label("Port").fill(str(simulator.port))
    page.get_by_label("User").fill(harness.USER)
    page.get_by_label("Password").fill(harness.PASSWORD)
    page.get_by_label("Plain HTTP (a lab or a simulator only)").check()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("[data-connection=ok]")).to_contain_text("VMware vCenter Server 6.5.0")

    page.get_by_role("button", name="Add source").click()
    expect(page.get_by_role("heading", name="lab-simulator")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Source lab-simulator added.")
    page.get_by_role("button", name="Scan now").click()
    expect(page.get_by_role("alert")).to_contain_text("requested")
    # The progress card polls itself; the worker, a separate process on Redis, does the scan.
    try:
        expect(page.locator("[data-scan-status=complete]")).to_be_visible(timeout=SCAN_SECONDS * 1000)
    except AssertionError:
        production["processes"].check_alive()
        raise AssertionError(f"the scan did not complete:\n{production['processes'].log('worker')}") from None
    expect(page.locator("[data-progress]")).to_contain_text(f"{len(SIMULATED_VMS)} VMs seen")

    navigate(page, "Estate", "Inventory")
    names = page.locator("table tbody tr td:first-child a")
    expect(names).to_have_count(len(SIMULATED_VMS))
    assert sorted(names.all_inner_texts()) == SIMULATED_VMS
    assert page.problems == []
    production["processes"].check_alive()
