"""A security admin adds and edits a vCenter source in the portal, and tests its connection against the simulator.

The password is write-only: never rendered back, never in an audit event or an error message; left empty on
edit it keeps the stored one, but only for the endpoint it was given for. Bad values are named by field and
save nothing. ``manage.py add_vcenter`` goes through the same service.
"""

import http.server
import socket
import threading

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from inventory.choices import SourceKind
from inventory.models import Source
from portal.models import AuditEvent
from tests.factories import SourceFactory
from tests.vsphere_sim import harness

ADD_URL = reverse("inventory:source_add")
# No character that HTML escapes: "not in the page" must not pass because the page holds it escaped.
SECRET = "Tr0ub4dor-3-vcenter-pass"

pytestmark = pytest.mark.django_db


def form_data(**changes) -> dict:
    data = {"name": "vc-lab", "host": "vc-lab.example.com", "port": "443", "username": "svc-scan@vsphere.local",
            "password": SECRET, "verify_tls": "on", "missing_scans_before_removed": "3", "enabled": "on"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def snapshot() -> tuple:
    """Everything a refused or invalid form must leave as it was."""
    return (
        list(Source.objects.order_by("pk").values()),
        [source.password for source in Source.objects.order_by("pk")],
        AuditEvent.objects.count(),
    )


def test_a_security_admin_adds_a_vcenter_and_the_audit_event_leaves_the_password_out(client_for, role_users):
    response = client_for("security_admin").post(ADD_URL, form_data(port="8443"))

    source = Source.objects.get(name="vc-lab")
    assert response.status_code == 302 and response["Location"] == reverse("inventory:source_detail", args=[source.pk])
    assert (source.kind, source.host, source.port, source.username, source.password) == (
        SourceKind.VCENTER, "vc-lab.example.com", 8443, "svc-scan@vsphere.local", SECRET,
    )
    assert (source.use_http, source.verify_tls, source.missing_scans_before_removed, source.enabled) == (
        False, True, 3, True,
    )
    event = AuditEvent.objects.get(action="source.created")
    assert event.actor == role_users["security_admin"]
    assert event.details == {
        "name": "vc-lab", "host": "vc-lab.example.com", "port": 8443, "user": "svc-scan@vsphere.local",
        "http": False, "verify_tls": True, "missing_scans_before_removed": 3, "enabled": True,
        "password_changed": True,
    }
    assert SECRET not in str(event.details)


def test_the_edit_page_never_shows_the_password_and_an_empty_one_keeps_it(client_for):
    source = SourceFactory(name="vc-east", host="vc-east.example.com", password=SECRET)
    url = reverse("inventory:source_edit", args=[source.pk])
    admin = client_for("security_admin")

    page = admin.get(url)
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    assert 'value="vc-east.example.com"' in page.content.decode()

    response = admin.post(url, form_data(name="vc-east", host="vc-east.example.com", password="", enabled=None,
                                         missing_scans_before_removed="5"))

    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.password, source.enabled, source.missing_scans_before_removed) == (SECRET, False, 5)
    event = AuditEvent.objects.get(action="source.updated")
    assert event.details["password_changed"] is False
    assert event.details["changed"] == ["user", "missing_scans_before_removed", "enabled"]


def test_a_new_password_replaces_the_stored_one_and_the_event_says_so(client_for):
    source = SourceFactory(name="vc-east", host="vc-east.example.com", password="old-password-1")
    client_for("admin").post(reverse("inventory:source_edit", args=[source.pk]),
                             form_data(name="vc-east", host="vc-east.example.com"))

    source.refresh_from_db()
    assert source.password == SECRET
    event = AuditEvent.objects.get(action="source.updated")
    assert event.details["password_changed"] is True
    assert SECRET not in str(event.details) and "old-password-1" not in str(event.details)


def test_a_stored_password_is_not_sent_to_a_new_host(client_for):
    source = SourceFactory(name="vc-east", host="vc-east.example.com", password=SECRET)
    before = snapshot()

    response = client_for("security_admin").post(
        reverse("inventory:source_edit", args=[source.pk]), form_data(name="vc-east", host="elsewhere.example.net",
                                                                      password=""),
    )

    assert response.status_code == 200
    assert "Type the password again" in " ".join(response.context["form"].errors["password"])
    assert snapshot() == before


def test_an_import_source_has_no_vcenter_form(client_for):
    source = SourceFactory(name="rvtools-east", kind=SourceKind.RVTOOLS, host="")
    assert client_for("security_admin").get(reverse("inventory:source_edit", args=[source.pk])).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"host": "https://vc-lab.example.com/sdk"}, "host"),
        ({"host": "vc-lab.example.com:443"}, "host"),
        ({"host": "vc lab"}, "host"),
        ({"host": "-vc-.example.com"}, "host"),
        ({"host": "vc\x00lab"}, "host"),
        ({"host": ""}, "host"),
        ({"host": "a" * 254}, "host"),
        ({"port": "0"}, "port"),
        ({"port": "65536"}, "port"),
        ({"port": "https"}, "port"),
        ({"name": "vc-taken"}, "name"),
        ({"name": "vc\x00lab"}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"username": "svc\x00scan"}, "username"),
        ({"username": "u" * 201}, "username"),
        ({"password": "pass\x00word"}, "password"),
        ({"password": "p" * 513}, "password"),
        ({"password": ""}, "password"),
        ({"missing_scans_before_removed": "0"}, "missing_scans_before_removed"),
    ],
)
def test_a_bad_value_is_a_form_error_on_its_field_and_nothing_is_saved(changes, field, client_for):
    SourceFactory(name="vc-taken")
    before = snapshot()

    response = client_for("security_admin").post(ADD_URL, form_data(**changes))

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert SECRET not in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("role", ["manager", "compliance_officer", "auditor", "none"])
def test_other_roles_may_not_add_edit_or_test_a_source(role, client_for):
    source = SourceFactory(name="vc-east", password=SECRET)
    edit_url = reverse("inventory:source_edit", args=[source.pk])
    before = snapshot()
    client = client_for(role)

    assert client.get(ADD_URL).status_code == 403
    assert client.post(ADD_URL, form_data()).status_code == 403
    assert client.post(edit_url, form_data(name="vc-east", host="evil.example.net")).status_code == 403
    assert client.post(edit_url, form_data(name="vc-east", action="test"), HTTP_HX_REQUEST="true").status_code == 403
    assert snapshot() == before


def test_the_sources_page_links_to_the_form_for_those_who_may_use_it(client_for):
    source = SourceFactory(name="vc-east")
    edit_url = reverse("inventory:source_edit", args=[source.pk])
    detail_url = reverse("inventory:source_detail", args=[source.pk])

    assert f'href="{ADD_URL}"' in client_for("security_admin").get(reverse("inventory:source_list")).content.decode()
    assert f'href="{edit_url}"' in client_for("admin").get(detail_url).content.decode()
    assert f'href="{ADD_URL}"' not in client_for("auditor").get(reverse("inventory:source_list")).content.decode()
    assert f'href="{edit_url}"' not in client_for("compliance_officer").get(detail_url).content.decode()


def test_add_vcenter_goes_through_the_same_service(monkeypatch):
    monkeypatch.setenv("VC_PASSWORD", SECRET)
    call_command("add_vcenter", "vc-cli", "--host", "vc-cli.example.com", "--user", "svc", "--password-env",
                 "VC_PASSWORD")
    call_command("add_vcenter", "vc-cli", "--host", "vc-cli.example.com", "--port", "8443", "--user", "svc",
                 "--password-env", "VC_PASSWORD", "--insecure")

    source = Source.objects.get(name="vc-cli")
    assert (source.port, source.verify_tls, source.password) == (8443, False, SECRET)
    created, updated = AuditEvent.objects.filter(action__startswith="source.").order_by("sequence")
    assert (created.action, created.actor_label, created.details["password_changed"]) == (
        "source.created", "system: add_vcenter", True,
    )
    assert (updated.action, updated.details["changed"], updated.details["password_changed"]) == (
        "source.updated", ["port", "verify_tls"], False,
    )


def test_add_vcenter_refuses_a_bad_host_and_saves_nothing(monkeypatch):
    monkeypatch.setenv("VC_PASSWORD", SECRET)
    before = snapshot()
    with pytest.raises(CommandError, match="without http"):
        call_command("add_vcenter", "vc-cli", "--host", "https://vc-cli.example.com/sdk", "--user", "svc",
                     "--password-env", "VC_PASSWORD")
    assert snapshot() == before


# -- "Test connection" -------------------------------------------------------------------------------------


def press_test_connection(client, url: str, data: dict) -> str:
    """The htmx answer of the "Test connection" button, as text."""
    response = client.post(url, {**data, "action": "test"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.simulator
def test_test_connection_reports_the_vcenter_and_saves_nothing(vsphere_simulator_available, client_for):
    admin = client_for("security_admin")
    with harness.Simulator(datacenters=1, clusters=1, cluster_hosts=1, hosts=0, vms=1) as sim:
        before = snapshot()
        answer = press_test_connection(admin, ADD_URL, form_data(host=sim.host, port=str(sim.port), use_http="on"))
        assert snapshot() == before

        assert 'data-connection="ok"' in answer
        # govmomi's simulator says what a vCenter 6.5 says in content.about.fullName.
        assert "VMware vCenter Server 6.5.0" in answer

        # Editing: the stored password is used when the field is left empty and the endpoint is the same.
        source = SourceFactory(name="vc-sim", host=sim.host, port=sim.port, use_http=True, password=harness.PASSWORD)
        answer = press_test_connection(admin, reverse("inventory:source_edit", args=[source.pk]),
                                 form_data(name="vc-sim", host=sim.host, port=str(sim.port), use_http="on",
                                           password=""))
        assert 'data-connection="ok"' in answer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_failed_connection_says_why_without_the_password(client_for):
    port = free_port()  # nothing listens there any more
    answer = press_test_connection(client_for("security_admin"), ADD_URL,
                             form_data(host="127.0.0.1", port=str(port), use_http="on"))
    assert 'data-connection="failed"' in answer
    assert f"connection to 127.0.0.1:{port} refused" in answer
    assert SECRET not in answer


def test_a_server_that_echoes_the_password_never_gets_it_into_the_page(client_for):
    """A hostile or broken endpoint may put anything in its answer; the message shown masks the password."""

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404, SECRET)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = press_test_connection(client_for("security_admin"), ADD_URL,
                                 form_data(host="127.0.0.1", port=str(server.server_port), use_http="on"))
    finally:
        server.shutdown()
        server.server_close()
    assert "answered HTTP 404 [password]" in answer
    assert SECRET not in answer


def test_testing_an_invalid_form_names_the_fields_and_connects_nowhere(client_for):
    answer = press_test_connection(client_for("security_admin"), ADD_URL, form_data(host="https://vc/", port="0"))
    assert 'data-connection="failed"' in answer
    assert "Fix the form first" in answer and "Host:" in answer and "Port:" in answer
