"""The Content-Security-Policy: on every page, scripts only from the portal's own files, no framing, no plugins;
the API's HTML pages alone allow inline styles. Templates hold no inline script or event handler (the policy
would block them; tests/e2e/test_csp.py watches the browser's console for what a template scan cannot see)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from portal.choices import Role

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def directives(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = set(values)
    return parsed


@pytest.mark.parametrize("url", ["/", "/inventory/vms/", "/inventory/sources/add/", "/questionnaires/"])
def test_pages_carry_the_strict_policy(url, client_for):
    response = client_for(Role.SECURITY_ADMIN).get(url)

    assert response.status_code == 200
    policy = directives(response)
    assert policy["default-src"] == {"'self'"}
    assert policy["script-src"] == {"'self'"}
    assert policy["style-src"] == {"'self'"}
    assert policy["object-src"] == {"'none'"}
    assert policy["frame-ancestors"] == {"'none'"}
    assert policy["base-uri"] == {"'self'"}
    assert policy["form-action"] == {"'self'"}


def test_a_refusal_and_an_anonymous_login_page_carry_it_too(client, client_for):
    assert "script-src 'self'" in client_for("none").get("/inventory/sources/add/")["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in client.get("/accounts/login/")["Content-Security-Policy"]


@pytest.mark.parametrize("url", ["/api/v1/docs/", "/api/v1/vms/"])
def test_the_api_pages_allow_inline_styles_but_still_no_inline_script(url, client_for):
    response = client_for(Role.MANAGER).get(url, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    policy = directives(response)
    assert policy["style-src"] == {"'self'", "'unsafe-inline'"}
    assert policy["script-src"] == {"'self'"}


def test_the_json_api_keeps_the_strict_policy(client_for):
    response = client_for(Role.MANAGER).get("/api/v1/vms/", HTTP_ACCEPT="application/json")
    assert directives(response)["style-src"] == {"'self'"}


def test_templates_have_no_inline_script_or_event_handler():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handler = re.compile(r"<[a-z][^>]*\s(on[a-z]+)\s*=", re.IGNORECASE | re.DOTALL)
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        found += [f"{path.relative_to(TEMPLATES)}: {match.group(0)}" for match in inline_script.finditer(text)]
        found += [f"{path.relative_to(TEMPLATES)}: {match.group(1)}=" for match in handler.finditer(text)]
    assert found == []


def test_templates_use_no_htmx_feature_that_needs_eval():
    """Trigger filters (``hx-trigger="x[...]"``), ``hx-on`` and ``js:`` values run through eval, which the policy
    refuses; htmx is configured with allowEval off, so they would silently do nothing."""
    # A filter follows its event name directly ("input[...]"); "from:find [data-typed]" is a selector.
    evaluated = re.compile(r"""hx-trigger="[^"]*[\w-]\[|hx-on[:-]|hx-(?:vals|headers)='?"?\s*js:""")
    found = [f"{path.relative_to(TEMPLATES)}: {match.group(0)}" for path in sorted(TEMPLATES.rglob("*.html"))
             for match in evaluated.finditer(path.read_text())]
    assert found == []
