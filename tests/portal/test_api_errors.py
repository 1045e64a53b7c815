"""The API answers every error in JSON, and its OpenAPI schema documents what it answers: errors of every
operation, fields that can be null, the limits of its query parameters."""

import json

import pytest
from django.test import Client

from portal.choices import Role
from tests.factories import PersonFactory, UserFactory

SCHEMA_URL = "/api/v1/schema/?format=json"
ERROR_CODES = {"400", "401", "403", "404"}


@pytest.fixture
def schema(client_for) -> dict:
    response = client_for(Role.AUDITOR).get(SCHEMA_URL)
    assert response.status_code == 200
    return response.json()


def test_every_operation_documents_its_errors_with_a_shared_shape(schema):
    operations = [(path, method, operation) for path, methods in schema["paths"].items()
                  for method, operation in methods.items()]

    assert len(operations) >= 30
    for path, method, operation in operations:
        codes = set(operation["responses"])
        assert codes >= ERROR_CODES, f"{method.upper()} {path} documents {sorted(codes)}"
        if "requestBody" in operation:
            assert "415" in codes, f"{method.upper()} {path}"
            assert set(operation["requestBody"]["content"]) == {"application/json"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


def test_the_rows_endpoint_documents_both_of_its_400_shapes(schema):
    refused = schema["paths"]["/api/v1/assignments/{id}/declared-vms/"]["post"]["responses"]["400"]

    assert refused["content"]["application/json"]["schema"] == {"anyOf": [
        {"$ref": "#/components/schemas/DeclaredVMRowsResult"}, {"$ref": "#/components/schemas/ValidationError"},
    ]}


@pytest.mark.parametrize(
    ("component", "fields"),
    [
        ("Person", ["manager", "manager_email"]),
        ("VM", ["datacenter", "cluster", "host"]),
        ("ScanRun", ["requested_by"]),
        ("Assignment", ["parent_person_name", "reviewed_by"]),
    ],
)
def test_fields_that_can_be_null_say_so(schema, component, fields):
    properties = schema["components"]["schemas"][component]["properties"]

    assert {name: properties[name].get("nullable") for name in fields} == dict.fromkeys(fields, True)


def test_choices_a_declared_vm_may_leave_empty_include_the_empty_value(schema):
    properties = schema["components"]["schemas"]["DeclaredVM"]["properties"]

    for name in ("platform", "purpose", "status"):
        assert {"$ref": "#/components/schemas/BlankEnum"} in properties[name]["oneOf"], name


def test_a_person_at_the_top_has_a_null_manager(client_for):
    ceo = PersonFactory(name="Carol CEO", email="ceo@example.com")

    body = client_for(Role.AUDITOR).get(f"/api/v1/people/{ceo.pk}/").json()

    assert (body["manager"], body["manager_email"]) == (None, None)


def test_an_oversize_json_body_is_a_json_400(client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"rows": [{"name": "x" * 2000}]})

    response = client_for(Role.ADMIN).post("/api/v1/campaigns/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "The request was refused: its body is over 1,024 bytes."}


def test_too_many_query_parameters_under_the_api_is_a_json_400(client_for, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10

    response = client_for(Role.ADMIN).get("/api/v1/people/", {f"f{number}": "x" for number in range(20)})

    assert response.status_code == 400
    assert response.json() == {"detail": "The request was refused: it has too many fields or files."}


def test_too_many_form_fields_on_a_page_is_a_400_page(client_for, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10

    response = client_for(Role.ADMIN).post("/people/", {f"f{number}": "x" for number in range(20)})

    assert response.status_code == 400
    assert "it has too many fields or files" in response.content.decode()


def test_a_form_body_is_a_415_the_api_reads_json_only(client_for):
    response = client_for(Role.ADMIN).post("/api/v1/campaigns/", {"name": "x"})

    assert response.status_code == 415
    assert response.json() == {"detail": 'Unsupported media type "multipart/form-data; boundary=BoUnDaRyStRiNg" '
                                         "in request."}


def test_a_body_that_is_not_json_is_a_json_400(client_for):
    response = client_for(Role.ADMIN).post("/api/v1/campaigns/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_an_unknown_api_address_is_a_json_404(client_for):
    response = client_for(Role.ADMIN).get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such endpoint."}


def test_an_unknown_page_address_is_still_an_html_404(client_for):
    response = client_for(Role.ADMIN).get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5"])
def test_a_page_size_that_is_not_a_whole_number_from_one_is_refused(client_for, value):
    response = client_for(Role.AUDITOR).get("/api/v1/people/", {"page_size": value})

    assert response.status_code == 400
    assert response.json() == {"page_size": [f"{value!r} is not a whole number from 1."]}


@pytest.mark.parametrize(("path", "name"), [("/api/v1/people/", "active"), ("/api/v1/vms/", "copied")])
def test_a_yes_no_filter_refuses_a_value_it_does_not_know(client_for, path, name):
    response = client_for(Role.AUDITOR).get(path, {name: "maybe"})

    assert response.status_code == 400
    assert response.json() == {name: ["'maybe' is not true or false."]}


@pytest.mark.parametrize(("value", "count"), [("true", 1), ("false", 0), ("", 1)])
def test_a_yes_no_filter_still_reads_true_false_and_empty(client_for, value, count):
    PersonFactory(name="Carol CEO", email="ceo@example.com")

    assert client_for(Role.AUDITOR).get("/api/v1/people/", {"active": value}).json()["count"] == count


def test_text_fields_take_strings_only(db):
    admin = UserFactory(username="root", role=Role.ADMIN)
    client = Client()
    client.force_login(admin)

    response = client.post("/api/v1/campaigns/", {"name": 2027, "version": 1, "scope": 1, "due_date": "2099-01-01"},
                           content_type="application/json")

    assert response.status_code == 400
    assert response.json()["name"] == ["Not a valid string."]
