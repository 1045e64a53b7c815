"""A vCenter (or a proxy in front of it) that echoes the login request in its SOAP fault must not put the
source's password into the scan's error, which every role reads on the scan and source pages and in the API."""

import html

import pytest

from inventory.choices import ScanStatus
from inventory.models import ScanRun
from inventory.services.scan import source_scan
from inventory.vsphere.connection import VSphereError, open_session
from portal.choices import Role
from portal.models import AuditEvent
from tests.factories import SourceFactory
from tests.inventory.test_vsphere_collector import login_fault_proxy, small_sim  # noqa: F401

PASSWORDS = ["pa55-w0rd-never-shown", "p&ss<w0rd>\"q'uote"]


def _fault_echoing(body: bytes) -> bytes:
    """What a badly configured endpoint answers: a SOAP fault whose text is the request it could not handle."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>"
        b"Cannot complete login due to an incorrect request: "
        + html.escape(body.decode(), quote=False).encode()
        + b"</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


@pytest.fixture
def echoing_vcenter(small_sim):  # noqa: F811
    """The simulator behind a proxy that answers Login with a fault echoing the request body."""
    with login_fault_proxy(small_sim, _fault_echoing) as (port, logins):
        yield port, logins


def _forms_of(password: str) -> list[str]:
    """The password as sent, and as XML would carry it."""
    return [password, html.escape(password, quote=False), html.escape(password)]


@pytest.mark.simulator
@pytest.mark.parametrize("password", PASSWORDS)
def test_the_connection_error_never_carries_the_password_the_fault_echoed(echoing_vcenter, password):
    port, logins = echoing_vcenter

    with pytest.raises(VSphereError) as caught, open_session(
        host="127.0.0.1", port=port, user="svc-scan@vsphere.local", password=password, use_http=True, timeout=10
    ):
        pass

    message = str(caught.value)
    # the endpoint really echoed the password (so the test proves something), the message does not
    assert html.escape(password, quote=False).encode() in logins[0]
    assert [form for form in _forms_of(password) if form in message] == []
    assert "svc-scan@vsphere.local" in message and "[password hidden]" in message


@pytest.mark.simulator
@pytest.mark.django_db
@pytest.mark.parametrize("password", PASSWORDS)
def test_a_failed_scan_stores_and_shows_no_password(echoing_vcenter, password, client_for):
    port, _ = echoing_vcenter
    source = SourceFactory(name="vc-echo", host="127.0.0.1", port=port, use_http=True, password=password)

    run = source_scan(source=source)

    assert run.status == ScanStatus.FAILED
    stored = ScanRun.objects.get(pk=run.pk).error
    audited = AuditEvent.objects.get(action="scan.failed").details["error"]
    pages = [
        client_for(Role.MANAGER).get(path).content.decode()
        for path in (f"/inventory/scans/{run.pk}/", f"/inventory/sources/{source.pk}/", "/inventory/scans/")
    ]
    api = client_for(Role.AUDITOR).get(f"/api/v1/scan-runs/{run.pk}/").content.decode()
    assert "Cannot complete login" in stored and "[password hidden]" in stored
    for text in (stored, audited, *pages, api):
        assert [form for form in _forms_of(password) if form in text] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login p%40ss%2Fw0rd failed", "login [password hidden] failed"),
        ('{"pwd": "p@ss/w0rd"}', '{"pwd": "[password hidden]"}'),
        ("<vim25:password>anything else</vim25:password>", "<vim25:password>[password hidden]</vim25:password>"),
        ("&lt;password&gt;other&lt;/password&gt;", "&lt;password&gt;[password hidden]&lt;/password&gt;"),
        ("user svc-scan refused", "user svc-scan refused"),
    ],
)
def test_hide_secret_masks_the_forms_an_endpoint_may_echo_and_keeps_the_rest(text, expected):
    from inventory.vsphere.connection import hide_secret

    assert hide_secret(text, "p@ss/w0rd") == expected
