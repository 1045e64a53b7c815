"""The read-only REST API under /api/v1/: authentication, people and their subtrees, paging,
the audit trail for oversight roles, the OpenAPI schema and its offline docs."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from portal.choices import Role
from portal.models import AuditEvent, Person
from portal.services.audit import audit_log
from tests.factories import PersonFactory, UserFactory

PEOPLE_URL = "/api/v1/people/"
AUDIT_URL = "/api/v1/audit-events/"


def _token_client(user) -> Client:
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def _names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def _ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


# --- authentication ---------------------------------------------------------------------------------------------


def _expected_people(org) -> list[dict]:
    def row(key, manager=None):
        person = org[key]
        return {
            "id": person.pk, "name": person.name, "email": person.email, "title": person.title,
            "department": "Infrastructure", "active": True,
            "manager": org[manager].pk if manager else None,
            "manager_email": org[manager].email if manager else None,
        }

    return [
        row("lead_a2", "vp_a"), row("vp_a", "ceo"), row("lead_a1", "vp_a"), row("lead_b1", "vp_b"),
        row("vp_b", "ceo"), row("ceo"),
    ]


def test_people_with_token_authentication(org, role_users):
    response = _token_client(role_users[Role.MANAGER]).get(PEOPLE_URL)

    assert response.status_code == 200
    assert response.json() == {"count": 6, "next": None, "previous": None, "results": _expected_people(org)}


def test_people_with_session_authentication(org, client_for):
    response = client_for(Role.AUDITOR).get(PEOPLE_URL)

    assert response.status_code == 200
    assert response.json()["results"] == _expected_people(org)


def test_people_without_credentials_is_401(org, client):
    response = client.get(PEOPLE_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_people_with_an_unknown_token_is_401(org):
    response = Client(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567").get(PEOPLE_URL)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_people_with_a_token_of_a_login_without_role_is_403(org, role_users):
    response = _token_client(role_users["none"]).get(PEOPLE_URL)

    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not give access to this endpoint."}


def test_person_detail(org, client_for):
    response = client_for(Role.SECURITY_ADMIN).get(f"{PEOPLE_URL}{org['lead_b1'].pk}/")

    assert response.json() == {
        "id": org["lead_b1"].pk, "name": "Ben Lead", "email": "lead.b1@example.com", "title": "Engineer",
        "department": "Infrastructure", "active": True, "manager": org["vp_b"].pk, "manager_email": "vp.b@example.com",
    }


# --- filters ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "members"),
    [
        ("ceo", {"ceo", "vp_a", "vp_b", "lead_a1", "lead_a2", "lead_b1"}),
        ("vp_a", {"vp_a", "lead_a1", "lead_a2"}),
        ("vp_b", {"vp_b", "lead_b1"}),
        ("lead_a1", {"lead_a1"}),
    ],
)
def test_subtree_returns_exactly_that_persons_subtree(org, client_for, head, members):
    PersonFactory(name="Other Root", email="other@example.com")

    response = client_for(Role.MANAGER).get(PEOPLE_URL, {"subtree": org[head].pk})

    assert response.status_code == 200
    assert response.json()["count"] == len(members)
    assert _ids(response) == {org[key].pk for key in members}


def test_subtree_is_not_fooled_by_ids_that_contain_the_heads_id(db, client_for):
    # given a head with no reports, and people elsewhere whose ids contain the head's id as digits
    head = PersonFactory(name="Head", email="head@example.com")
    other_root = PersonFactory(name="Other", email="other@example.com")
    lookalikes = [
        PersonFactory(id=int(f"{head.pk}0"), parent=other_root),
        PersonFactory(id=int(f"9{head.pk}"), parent=other_root),
        PersonFactory(id=int(f"9{head.pk}9"), parent=other_root),
    ]

    response = client_for(Role.MANAGER).get(PEOPLE_URL, {"subtree": head.pk})

    assert _ids(response) == {head.pk}
    other = client_for(Role.MANAGER).get(PEOPLE_URL, {"subtree": other_root.pk, "page_size": 1000})
    assert {person.pk for person in lookalikes} <= _ids(other)
    assert head.pk not in _ids(other)


def test_subtree_includes_inactive_people_unless_asked_not_to(org, client_for):
    gone = PersonFactory(name="Gone Lead", email="gone@example.com", parent=org["vp_b"], active=False)

    everyone = client_for(Role.MANAGER).get(PEOPLE_URL, {"subtree": org["vp_b"].pk})
    active = client_for(Role.MANAGER).get(PEOPLE_URL, {"subtree": org["vp_b"].pk, "active": "true"})

    assert _ids(everyone) == {org["vp_b"].pk, org["lead_b1"].pk, gone.pk}
    assert _ids(active) == {org["vp_b"].pk, org["lead_b1"].pk}


def test_subtree_of_an_unknown_person_is_a_400(org, client_for):
    response = client_for(Role.MANAGER).get(PEOPLE_URL, {"subtree": 999999})

    assert response.status_code == 400
    assert list(response.json()) == ["subtree"]


@pytest.fixture
def finance_lead(org):
    org["lead_b1"].title = "Storage Architect"
    org["lead_b1"].department = "Finance"
    org["lead_b1"].save()
    return org


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "lead"}, ["Abe Lead", "Ann Lead", "Ben Lead"]),
        ({"q": "vp.a@"}, ["Alice VP"]),
        ({"q": "architect"}, ["Ben Lead"]),
        ({"q": "FINANCE"}, ["Ben Lead"]),
        ({"q": "lead infra"}, ["Abe Lead", "Ann Lead"]),
        ({"q": "nobody"}, []),
        ({"department": "finance"}, ["Ben Lead"]),
        ({"department": "Infrastructure"}, ["Abe Lead", "Alice VP", "Ann Lead", "Bob VP", "Carol CEO"]),
        ({"department": "Infra"}, []),
        ({"q": "a", "subtree": "vp_a"}, ["Abe Lead", "Alice VP", "Ann Lead"]),
    ],
)
def test_people_filters(finance_lead, client_for, params, expected):
    org = finance_lead
    params = {key: org[value].pk if key == "subtree" else value for key, value in params.items()}

    response = client_for(Role.COMPLIANCE_OFFICER).get(PEOPLE_URL, params)

    assert response.status_code == 200
    assert _names(response) == expected


# --- paging -----------------------------------------------------------------------------------------------------


@pytest.fixture
def many_people(db) -> int:
    Person.objects.bulk_create(
        Person(name=f"Person {number:04d}", email=f"person.{number:04d}@example.com") for number in range(1005)
    )
    return 1005


@pytest.mark.parametrize(
    ("params", "page_length", "has_next"),
    [
        ({}, 100, True),
        ({"page_size": 10}, 10, True),
        ({"page_size": 1000}, 1000, True),
        ({"page_size": 1001}, 1000, True),
        ({"page_size": 100000}, 1000, True),
        ({"page_size": 1000, "page": 2}, 5, False),
    ],
)
def test_people_pages_hold_up_to_a_thousand(many_people, role_users, params, page_length, has_next):
    response = _token_client(role_users[Role.ADMIN]).get(PEOPLE_URL, params)

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 1005
    assert len(body["results"]) == page_length
    assert (body["next"] is not None) == has_next


def test_people_pages_are_in_name_order_without_overlap(many_people, role_users):
    client = _token_client(role_users[Role.ADMIN])

    first = client.get(PEOPLE_URL, {"page_size": 1000}).json()["results"]
    second = client.get(PEOPLE_URL, {"page_size": 1000, "page": 2}).json()["results"]

    names = [row["name"] for row in first + second]
    assert names == [f"Person {number:04d}" for number in range(1005)]


# --- the audit trail --------------------------------------------------------------------------------------------


@pytest.fixture
def events(org, role_users) -> list[AuditEvent]:
    return [
        audit_log(action="role.granted", actor=role_users[Role.ADMIN], obj=org["vp_a"], details={"role": "manager"}),
        audit_log(action="people.imported", actor_label="system: import_people", details={"file": "org.csv"}),
    ]


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.ADMIN])
def test_audit_events_for_oversight_roles(events, client_for, role):
    response = client_for(role).get(AUDIT_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [row["sequence"] for row in body["results"]] == [2, 1]
    first = events[0]
    assert body["results"][1] == {
        "sequence": 1,
        "at": first.at.isoformat().replace("+00:00", "Z"),
        "actor_label": "admin",
        "action": "role.granted",
        "object_type": "portal.person",
        "object_id": str(first.object_id),
        "object_repr": "Alice VP <vp.a@example.com>",
        "details": {"role": "manager"},
        "previous_hash": "0" * 64,
        "hash": first.hash,
    }


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SECURITY_ADMIN, "none"])
def test_audit_events_are_refused_to_other_roles(events, client_for, role_users, role):
    by_session = client_for(role).get(AUDIT_URL)
    by_token = _token_client(role_users[role]).get(AUDIT_URL)
    detail = client_for(role).get(f"{AUDIT_URL}1/")

    assert [by_session.status_code, by_token.status_code, detail.status_code] == [403, 403, 403]
    assert "role.granted" not in by_session.content.decode() + by_token.content.decode()


def test_audit_event_detail_is_by_sequence(events, role_users):
    response = _token_client(role_users[Role.AUDITOR]).get(f"{AUDIT_URL}2/")

    assert response.status_code == 200
    assert (response.json()["sequence"], response.json()["action"]) == (2, "people.imported")


def test_audit_events_filter(events, client_for):
    response = client_for(Role.AUDITOR).get(AUDIT_URL, {"action": "role.", "actor": "adm"})

    assert [row["sequence"] for row in response.json()["results"]] == [1]


# --- schema and docs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.MANAGER, Role.AUDITOR])
def test_schema_is_an_openapi_3_document(db, client_for, role):
    response = client_for(role).get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "vmcensus API"
    assert {"/api/v1/people/", "/api/v1/people/{id}/", "/api/v1/audit-events/",
            "/api/v1/audit-events/{sequence}/"} <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/people/"]) == {"get"}
    parameters = {parameter["name"] for parameter in schema["paths"]["/api/v1/people/"]["get"]["parameters"]}
    assert {"q", "subtree", "department", "page", "page_size"} <= parameters
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_schema_as_yaml_by_default(db, role_users):
    response = _token_client(role_users[Role.SECURITY_ADMIN]).get("/api/v1/schema/")

    assert response.status_code == 200
    assert response.content.decode().startswith("openapi: 3.0.3\n")


def test_schema_is_refused_without_a_role(db, client, role_users):
    assert client.get("/api/v1/schema/").status_code == 401
    assert _token_client(role_users["none"]).get("/api/v1/schema/").status_code == 403


def test_docs_page_serves_swagger_from_local_assets(db, client_for):
    response = client_for(Role.MANAGER).get("/api/v1/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert '<div id="swagger-ui"></div>' in html
    assert re.findall(r"""(?:src|href)\s*=\s*["']?https?://""", html) == []
    assert re.findall(r"https?://", html) == []
    assets = re.findall(r"""(?:src|href)="/static/([^"]+)\"""", html)
    assert {"drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
            "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"} <= set(assets)
    assert [asset for asset in assets if finders.find(asset) is None] == []
    # Its start-up script is a file of its own (the Content-Security-Policy allows no inline script).
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    script = client_for(Role.MANAGER).get("/api/v1/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert '"/api/v1/schema/"' in script.content.decode()


# --- queries do not grow with rows ------------------------------------------------------------------------------


def _queries(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), len(response.json()["results"])


def _grow(size: int, prefix: str) -> None:
    root = PersonFactory(name=f"{prefix} root", email=f"{prefix}.root@example.com")
    manager = root
    for number in range(size - 1):
        manager = PersonFactory(name=f"{prefix} {number}", email=f"{prefix}.{number}@example.com", parent=manager)
        audit_log(action="person.updated", actor=UserFactory(username=f"{prefix}{number}"), obj=manager)


@pytest.mark.parametrize("url", [PEOPLE_URL, f"{PEOPLE_URL}?q=example", AUDIT_URL])
@pytest.mark.parametrize("auth", ["session", "token"])
def test_api_list_queries_do_not_grow_with_rows(db, role_users, client_for, url, auth):
    client = client_for(Role.ADMIN) if auth == "session" else _token_client(role_users[Role.ADMIN])
    _grow(5, "small")
    small_queries, small_rows = _queries(client, url)

    _grow(50, "big")
    big_queries, big_rows = _queries(client, url)

    assert big_rows > small_rows
    assert big_queries == small_queries


def test_subtree_query_count_does_not_grow_with_rows(db, client_for):
    client = client_for(Role.MANAGER)
    _grow(5, "small")
    small_head = Person.objects.get(email="small.root@example.com")
    small_queries, _ = _queries(client, f"{PEOPLE_URL}?subtree={small_head.pk}")

    _grow(50, "big")
    big_head = Person.objects.get(email="big.root@example.com")
    big_queries, big_rows = _queries(client, f"{PEOPLE_URL}?subtree={big_head.pk}")

    assert big_rows == 50
    assert big_queries == small_queries


# --- the API is read-only ---------------------------------------------------------------------------------------


def _snapshot() -> tuple[list, list]:
    return list(Person.objects.order_by("pk").values()), list(AuditEvent.objects.order_by("pk").values())


@pytest.mark.parametrize("auth", ["session", "token"])
@pytest.mark.parametrize("role", [Role.ADMIN, Role.COMPLIANCE_OFFICER, Role.MANAGER, Role.AUDITOR])
def test_writes_to_the_read_only_endpoints_are_refused_and_change_nothing(events, org, role_users, client_for,
                                                                          auth, role):
    client = client_for(role) if auth == "session" else _token_client(role_users[role])
    person_url = f"{PEOPLE_URL}{org['vp_a'].pk}/"
    new_person = {"name": "Mallory", "email": "mallory@example.com"}
    before = _snapshot()

    responses = [
        client.post(PEOPLE_URL, new_person, content_type="application/json"),
        client.put(person_url, {**new_person, "name": "Alice Renamed"}, content_type="application/json"),
        client.patch(person_url, {"name": "Alice Renamed"}, content_type="application/json"),
        client.delete(person_url),
        client.post(AUDIT_URL, {"action": "forged.event"}, content_type="application/json"),
        client.put(f"{AUDIT_URL}1/", {"action": "role.revoked"}, content_type="application/json"),
        client.patch(f"{AUDIT_URL}1/", {"action": "role.revoked"}, content_type="application/json"),
        client.delete(f"{AUDIT_URL}1/"),
    ]

    assert [response.status_code for response in responses] == [403] * 8
    assert _snapshot() == before


def test_an_unknown_query_parameter_is_a_400_naming_the_valid_ones(org, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)

    response = client.get("/api/v1/people/", {"search": "Alice", "colour": "red"})

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"search", "colour"}
    assert body["search"] == [
        "Not a query parameter of this endpoint (did you mean 'q'?). Valid: active, department, page, page_size, "
        "parent, q, subtree."
    ]
    assert body["colour"][0].startswith("Not a query parameter of this endpoint. Valid: active,")
    assert client.get("/api/v1/people/", {"q": "Alice", "page_size": 5, "format": "json"}).status_code == 200


def test_every_list_of_the_api_refuses_an_unknown_parameter(db, client_for):
    client = client_for(Role.ADMIN)
    for url in ("/api/v1/vms/", "/api/v1/campaigns/", "/api/v1/assignments/", "/api/v1/audit-events/",
                "/api/v1/reconciliation-items/"):
        response = client.get(url, {"search": "x"})
        assert response.status_code == 400, url
        assert "Valid:" in response.json()["search"][0], url
