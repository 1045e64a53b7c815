"""Logging in: the login form, lockout after failed logins, password reset, the auditor's end date,
and granting roles and API tokens."""

import datetime
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from portal.choices import Role
from portal.models import AuditEvent, Person, User
from portal.services.demo import DEMO_PASSWORD, demo_people_load
from portal.services.roles import user_grant_role
from tests.factories import TEST_PASSWORD, PersonFactory, UserFactory

LOGIN_URL = "/accounts/login/"
ROOT = Path(__file__).resolve().parents[2]
NEW_PASSWORD = "Nebula-quartz-2718"


def _login(client: Client, username: str, password: str):
    return client.post(LOGIN_URL, {"username": username, "password": password})


def _logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.fixture
def manager_login(db) -> User:
    """Like the demo's ``manager``: a login linked to a person who has reports."""
    user = UserFactory(username="manager", first_name="Maya", last_name="Moreau", role=Role.MANAGER)
    person = PersonFactory(name="Maya Moreau", email="maya.moreau@example.com", title="Director", user=user)
    PersonFactory(name="Nils Weber", email="nils.weber@example.com", parent=person)
    return user


# --- logging in -------------------------------------------------------------------------------------------------


def test_login_lands_on_the_dashboard(manager_login, client):
    response = _login(client, "manager", TEST_PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _logged_in_user_id(client) == str(manager_login.pk)
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert dashboard.templates[0].name == "portal/dashboard.html"
    assert "Maya Moreau · Manager" in dashboard.content.decode()


def test_the_demo_manager_login_works_with_the_demo_password(db, client):
    # given the demo organisation and its logins
    demo_people_load()

    # when the demo's manager logs in
    response = _login(client, "manager", DEMO_PASSWORD)

    # then they land on a dashboard that shows their place in the chart
    assert (response.status_code, response["Location"]) == (302, "/")
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    me = Person.objects.get(user__username="manager")
    managers = dict(Person.objects.filter(active=True).values_list("id", "parent_id"))
    reports = [person for person, manager in managers.items() if manager == me.pk]
    below, frontier = set(), set(reports)
    while frontier:
        below |= frontier
        frontier = {person for person, manager in managers.items() if manager in frontier} - below
    assert dashboard.context["figures"]["my_reports"] == len(reports) > 0
    assert dashboard.context["figures"]["my_subtree"] == len(below) > len(reports)


def test_login_with_a_wrong_password_is_refused(manager_login, client):
    response = _login(client, "manager", "not-the-password")

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert _logged_in_user_id(client) is None


def test_login_redirects_to_the_next_page(manager_login, client):
    response = client.post(LOGIN_URL, {"username": "manager", "password": TEST_PASSWORD, "next": "/people/"})

    assert (response.status_code, response["Location"]) == (302, "/people/")


def test_pages_send_anonymous_users_to_the_login_page(db, client):
    response = client.get("/people/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/people/")


# --- lockout (django-axes) --------------------------------------------------------------------------------------


def test_failure_limit_in_tests_is_three():
    assert settings.AXES_FAILURE_LIMIT == 3


def test_after_the_failure_limit_even_the_right_password_is_refused_with_the_lockout_page(manager_login, client):
    # given as many failed logins as the limit allows
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "manager", "not-the-password")

    # when the right password is given
    response = _login(client, "manager", TEST_PASSWORD)

    # then it is refused with the lockout page, and nobody is logged in
    assert response.status_code == 429
    assert "registration/locked_out.html" in [template.name for template in response.templates]
    assert "Too many failed logins" in response.content.decode()
    assert "locked from your address for 30 minutes" in response.content.decode()
    assert _logged_in_user_id(client) is None
    assert client.get("/").status_code == 302


def test_choosing_a_new_password_from_the_emailed_link_lifts_the_lockout(manager_login, client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "manager", "not-the-password")
    client.post("/accounts/password-reset/", {"email": "manager@example.com"})
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]

    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert _login(Client(), "manager", NEW_PASSWORD).status_code == 302


def test_failures_below_the_limit_do_not_lock_and_a_success_resets_them(manager_login, client):
    # given one failure less than the limit, then a success
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "manager", "not-the-password")
    assert _login(client, "manager", TEST_PASSWORD).status_code == 302
    client.post("/accounts/logout/")

    # when the user fails again, once less than the limit
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "manager", "not-the-password")

    # then the right password still works: the success reset the count
    assert _login(client, "manager", TEST_PASSWORD).status_code == 302


def test_lockout_is_per_user_name(manager_login, client):
    UserFactory(username="other", role=Role.MANAGER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "manager", "not-the-password")

    response = _login(client, "other", TEST_PASSWORD)

    assert (response.status_code, response["Location"]) == (302, "/")


# --- password reset ---------------------------------------------------------------------------------------------


def test_password_reset_mails_one_link_that_sets_a_new_password(manager_login, client):
    # when the user asks for a reset by e-mail address
    response = client.post("/accounts/password-reset/", {"email": "manager@example.com"})

    # then one e-mail with a link goes to them
    assert (response.status_code, response["Location"]) == (302, "/accounts/password-reset/sent/")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["manager@example.com"]
    assert message.subject == "vmcensus: choose a new password"
    links = re.findall(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)", message.body)
    assert len(links) == 1

    # when they follow the link and choose a new password
    landing = client.get(links[0])
    assert landing.status_code == 302
    form_url = landing["Location"]
    assert client.get(form_url).context["validlink"] is True
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/accounts/password-reset/done/")

    # then the new password logs them in and the old one no longer does
    assert _login(Client(), "manager", TEST_PASSWORD).status_code == 200
    fresh = Client()
    assert (_login(fresh, "manager", NEW_PASSWORD)["Location"]) == "/"
    assert _logged_in_user_id(fresh) == str(manager_login.pk)

    # and the link works only once
    again = client.get(links[0], follow=True)
    assert again.context["validlink"] is False
    assert "This link no longer works" in again.content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing(manager_login, client):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})

    assert (response.status_code, response["Location"]) == (302, "/accounts/password-reset/sent/")
    assert mail.outbox == []


def test_password_reset_refuses_a_weak_password(manager_login, client):
    client.post("/accounts/password-reset/", {"email": "manager@example.com"})
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]

    response = client.post(form_url, {"new_password1": "short", "new_password2": "short"})

    assert response.status_code == 200
    assert "This password is too short. It must contain at least 10 characters." in response.content.decode()
    manager_login.refresh_from_db()
    assert manager_login.check_password(TEST_PASSWORD)


# --- the auditor's end date -------------------------------------------------------------------------------------


def _auditor(username: str, expires_on: datetime.date) -> User:
    user = UserFactory(username=username, role=Role.AUDITOR)
    user.access_expires_on = expires_on
    user.save()
    return user


@pytest.fixture
def expired_auditor(db) -> User:
    return _auditor("ex_auditor", timezone.localdate() - datetime.timedelta(days=1))


@pytest.fixture
def last_day_auditor(db) -> User:
    return _auditor("today_auditor", timezone.localdate())


def _expiry_message(day: datetime.date) -> str:
    return f"Your access to vmcensus ended on {day:%d %B %Y}. Ask a compliance officer to extend it."


@pytest.mark.parametrize("path", ["/", "/people/", "/audit/", "/people/?q=lead"])
def test_an_expired_auditor_is_logged_out_on_any_page_with_a_message_naming_the_date(expired_auditor, path):
    client = Client()
    client.force_login(expired_auditor)

    response = client.get(path, follow=True)

    assert response.redirect_chain == [("/accounts/login/", 302)]
    assert [str(message) for message in response.context["messages"]] == [
        _expiry_message(expired_auditor.access_expires_on)
    ]
    assert _logged_in_user_id(client) is None


def test_an_expired_auditor_cannot_log_in_again(expired_auditor, client):
    response = _login(client, "ex_auditor", TEST_PASSWORD)

    assert response.status_code == 200
    assert f"ended on {expired_auditor.access_expires_on:%d %B %Y}" in response.content.decode()
    assert _logged_in_user_id(client) is None


@pytest.mark.parametrize("path", ["/api/v1/people/", "/api/v1/audit-events/", "/api/v1/schema/?format=json"])
def test_an_expired_auditor_is_refused_by_the_api_with_a_session(expired_auditor, path):
    client = Client()
    client.force_login(expired_auditor)

    response = client.get(path)

    assert response.status_code == 403
    assert response.json() == {"detail": _expiry_message(expired_auditor.access_expires_on)}
    assert _logged_in_user_id(client) is None


@pytest.mark.parametrize("path", ["/api/v1/people/", "/api/v1/audit-events/", "/api/v1/schema/?format=json"])
def test_an_expired_auditor_is_refused_by_the_api_with_a_token(expired_auditor, path):
    token = Token.objects.create(user=expired_auditor)

    response = Client().get(path, HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 401
    assert response.json() == {"detail": f"Access ended on {expired_auditor.access_expires_on:%Y-%m-%d}."}


def test_an_auditor_on_their_last_day_still_gets_in(last_day_auditor):
    client = Client()
    assert _login(client, "today_auditor", TEST_PASSWORD)["Location"] == "/"

    dashboard = client.get("/")
    audit = client.get("/audit/")
    api_session = client.get("/api/v1/audit-events/")
    token = Token.objects.create(user=last_day_auditor)
    api_token = Client().get("/api/v1/people/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert [dashboard.status_code, audit.status_code, api_session.status_code, api_token.status_code] == [
        200, 200, 200, 200
    ]
    assert dashboard.context["figures"]["access_days_left"] == 0
    assert "(0 days left)" in dashboard.content.decode()


# --- granting roles ---------------------------------------------------------------------------------------------


def test_granting_auditor_without_an_end_date_is_refused_and_changes_nothing(db):
    user = UserFactory(username="alice")

    with pytest.raises(ValidationError) as refusal:
        user_grant_role(user=user, role=Role.AUDITOR)

    assert refusal.value.message_dict == {"expires_on": ["An auditor's access needs an end date."]}
    user = User.objects.get(pk=user.pk)
    assert (user.roles, user.access_expires_on) == (frozenset(), None)
    assert AuditEvent.objects.count() == 0


def test_granting_auditor_with_an_end_date_writes_an_audit_event(db):
    officer = UserFactory(username="olga", first_name="Olga", last_name="Petrov", role=Role.COMPLIANCE_OFFICER)
    user = UserFactory(username="alice", first_name="Alice", last_name="Audit")

    user_grant_role(user=user, role=Role.AUDITOR, granted_by=officer, expires_on=datetime.date(2027, 1, 31))

    user = User.objects.get(pk=user.pk)
    assert (user.roles, user.access_expires_on, user.is_staff) == (
        frozenset({"auditor"}), datetime.date(2027, 1, 31), False
    )
    event = AuditEvent.objects.get()
    assert (event.sequence, event.action, event.actor_id, event.actor_label) == (
        1, "role.granted", officer.pk, "Olga Petrov"
    )
    assert (event.object_type, event.object_id, event.object_repr) == ("portal.user", str(user.pk), "Alice Audit")
    assert event.details == {"role": "auditor", "expires_on": "2027-01-31"}


def test_granting_auditor_keeps_an_end_date_the_user_already_has(db):
    user = UserFactory(username="alice")
    user.access_expires_on = datetime.date(2027, 6, 30)
    user.save()

    user_grant_role(user=user, role=Role.AUDITOR)

    assert User.objects.get(pk=user.pk).roles == frozenset({"auditor"})
    event = AuditEvent.objects.get()
    assert (event.actor_id, event.actor_label) == (None, "system: role grant")
    assert event.details == {"role": "auditor", "expires_on": "2027-06-30"}


def test_granting_admin_makes_a_superuser(db):
    user = UserFactory(username="root")

    user_grant_role(user=user, role=Role.ADMIN)

    user = User.objects.get(pk=user.pk)
    assert (user.is_staff, user.is_superuser, user.roles) == (True, True, frozenset({"admin"}))
    assert AuditEvent.objects.get().details == {"role": "admin", "expires_on": None}


def test_grant_role_command_grants_and_audits(db):
    UserFactory(username="alice")
    out = io.StringIO()

    call_command("grant_role", "alice", "auditor", "--expires", "2027-01-31", stdout=out)

    assert out.getvalue() == "alice is now Auditor.\n"
    user = User.objects.get(username="alice")
    assert (user.roles, user.access_expires_on) == (frozenset({"auditor"}), datetime.date(2027, 1, 31))
    assert list(AuditEvent.objects.values_list("action", "actor_label", "details")) == [
        ("role.granted", "system: role grant", {"role": "auditor", "expires_on": "2027-01-31"})
    ]


def test_grant_role_command_refuses_an_auditor_without_expiry(db):
    UserFactory(username="alice")

    with pytest.raises(CommandError, match=r"^An auditor's access needs an end date\.$"):
        call_command("grant_role", "alice", "auditor")

    assert User.objects.get(username="alice").roles == frozenset()
    assert AuditEvent.objects.count() == 0


def test_grant_role_command_refuses_an_unknown_login(db):
    with pytest.raises(CommandError, match=r"^No login named 'ghost'\.$"):
        call_command("grant_role", "ghost", "manager")

    assert AuditEvent.objects.count() == 0


def test_grant_role_command_refuses_an_unknown_role(db):
    UserFactory(username="alice")

    with pytest.raises(CommandError, match="invalid choice: 'king'"):
        call_command("grant_role", "alice", "king")

    assert Group.objects.filter(user__username="alice").count() == 0


# --- API tokens -------------------------------------------------------------------------------------------------


def test_drf_create_token_makes_a_token_that_opens_the_api(db):
    user = UserFactory(username="alice", role=Role.SECURITY_ADMIN)
    out = io.StringIO()

    call_command("drf_create_token", "alice", stdout=out)

    token = Token.objects.get(user=user)
    assert out.getvalue() == f"Generated token {token.key} for user alice\n"
    response = Client().get("/api/v1/people/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200


def test_drf_create_token_refuses_an_unknown_login(db):
    with pytest.raises(CommandError, match="user ghost does not exist"):
        call_command("drf_create_token", "ghost")

    assert Token.objects.count() == 0



# --- the audit trail of signing in and out -----------------------------------------------------------------------


def test_signing_in_a_refused_attempt_and_signing_out_are_in_the_audit_trail(manager_login, client):
    _login(client, "x" * 400, "not-the-password")
    _login(client, "manager", TEST_PASSWORD)
    client.post("/accounts/logout/")

    events = list(AuditEvent.objects.order_by("sequence").values_list("action", "actor_id", "details"))
    assert [(action, actor) for action, actor, _ in events] == [
        ("auth.login_failed", None), ("auth.login", manager_login.pk), ("auth.logout", manager_login.pk),
    ]
    assert events[0][2] == {"username": "x" * 150 + "…", "address": "127.0.0.1"}
    assert "not-the-password" not in str(events)


def test_the_demo_auditor_and_admin_are_named_in_the_top_bar(db, client):
    demo_people_load()

    _login(client, "auditor", DEMO_PASSWORD)
    html = client.get("/").content.decode()

    assert '<span class="navbar-text me-3 small">Ines Duarte · Auditor</span>' in html
    assert str(User.objects.get(username="admin")) == "Sam Okafor"


def test_the_demo_env_example_copied_to_env_runs_the_demo_settings():
    """People copy .env.example to .env: it must give the demo (debug, SQLite, tasks in-process), not production."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    settings_lines = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    environment = {**os.environ, **settings_lines}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):  # the suite's own, when it runs on PostgreSQL and Redis
        environment.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings as s; "
         "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)"],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=True,
    )
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3", "True"]
    assert "DATABASE_URL" not in settings_lines and "CELERY_BROKER_URL" not in settings_lines
