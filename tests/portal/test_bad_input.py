"""Input PostgreSQL cannot store, or that would overflow a column, is refused with a clear 400 or a named
problem, never a 500: NUL characters anywhere in a request, an overlong user name at the login form, NUL
characters in the cells of imported files."""

import html
import io
import json

import pytest
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command
from django.test import Client

from inventory.imports.rvtools import parse_rvtools
from inventory.models import VirtualMachine
from portal.choices import Role
from portal.models import Person
from portal.services.people import people_import
from portal.tabular.csv import NUL_PROBLEM
from portal.tabular.problems import ImportRefused
from tests.factories import UserFactory
from tests.inventory.rvtools_files import vinfo_row, write_csv_folder
from tests.inventory.test_vm_csv_parse import HYPERV_ROW, VM_CSV_HEADER, csv_problems

NUL_MESSAGE = "contains a NUL character (\\x00), which cannot be stored: remove it"


# --- NUL characters in requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/people/?q=ab%00c", "the query parameter 'q'"),
        ("/inventory/vms/?q=%00", "the query parameter 'q'"),
        ("/audit/?ac%00tion=x", "the query parameter 'ac\\x00tion'"),
    ],
)
def test_a_page_asked_with_a_nul_in_its_query_is_a_400_page_naming_it(client_for, path, where):
    response = client_for(Role.COMPLIANCE_OFFICER).get(path)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    page = html.unescape(response.content.decode())
    assert f"The request was refused: {where} {NUL_MESSAGE}." in page
    assert "<nav" in page  # the portal's own layout, not a bare error


@pytest.mark.parametrize(
    "path", ["/api/v1/people/?q=%00", "/api/v1/vms/?name=a%00", "/api/v1/audit-events/?action=%00"]
)
def test_the_api_asked_with_a_nul_in_its_query_is_a_json_400(client_for, path):
    response = client_for(Role.COMPLIANCE_OFFICER).get(path)

    assert response.status_code == 400
    assert response.json() == {"detail": f"The request was refused: the query parameter "
                                         f"'{path.split('?')[1].split('=')[0]}' {NUL_MESSAGE}."}


def test_a_json_body_with_a_nul_anywhere_is_a_json_400_naming_where(client_for):
    body = json.dumps({"rows": [{"name": "ok"}, {"name": "a\x00b"}]})

    response = client_for(Role.MANAGER).post("/api/v1/people/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": f"The request was refused: the JSON body at rows[1].name {NUL_MESSAGE}."}


def test_a_login_form_with_a_nul_is_a_400_page_and_counts_no_failed_login(db, client):
    response = client.post("/accounts/login/", {"username": "ad\x00min", "password": "x"})

    assert response.status_code == 400
    assert f"the form field 'username' {NUL_MESSAGE}" in html.unescape(response.content.decode())
    assert AccessAttempt.objects.count() == 0


def test_a_request_without_nul_passes_through(client_for):
    assert client_for(Role.COMPLIANCE_OFFICER).get("/people/?q=ab").status_code == 200


# --- the login form ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [151, 256, 5000])
def test_an_overlong_user_name_at_the_login_form_is_a_form_error(db, length):
    UserFactory(username="manager", role=Role.MANAGER)
    client = Client()

    response = client.post("/accounts/login/", {"username": "m" * length, "password": "whatever-it-is"})

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == [
        f"Ensure this value has at most 150 characters (it has {length})."
    ]
    assert AccessAttempt.objects.count() == 0
    assert "_auth_user_id" not in client.session


# --- NUL characters in imported files: the line is named, nothing is imported ------------------------------------


def test_people_import_names_the_line_holding_a_nul_and_imports_nobody(db):
    text = "email,name,title,department,manager_email\nceo@example.com,Carol\x00 CEO,CEO,,\n"

    with pytest.raises(ImportRefused) as refusal:
        people_import(stream=io.BytesIO(text.encode()))

    assert [(problem.row, problem.message) for problem in refusal.value.problems] == [(2, NUL_PROBLEM)]
    assert Person.objects.count() == 0


def test_import_people_command_refuses_a_nul_without_a_traceback(db, tmp_path):
    path = tmp_path / "org.csv"
    path.write_text("email,name,title,department,manager_email\nceo@example.com,Carol CEO,C\x00EO,,\n")

    errors = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_people", str(path), stdout=io.StringIO(), stderr=errors)

    assert f"org.csv: line 2: {NUL_PROBLEM}" in errors.getvalue()
    assert Person.objects.count() == 0


def test_the_vm_csv_import_names_the_line_holding_a_nul():
    row = HYPERV_ROW.replace("sql01", "sql\x0001", 1)
    assert row != HYPERV_ROW

    problems = csv_problems(VM_CSV_HEADER + row)

    assert [(problem.row, problem.message) for problem in problems] == [(2, NUL_PROBLEM)]


def test_the_import_vms_command_refuses_a_nul_and_imports_nothing(db, tmp_path):
    path = tmp_path / "vms.csv"
    path.write_text(VM_CSV_HEADER + HYPERV_ROW.replace("sql01", "sql\x0001", 1))

    with pytest.raises(CommandError):
        call_command("import_vms", str(path), "--source", "hyperv-estate", stdout=io.StringIO(),
                     stderr=io.StringIO())

    assert VirtualMachine.objects.count() == 0


def test_an_rvtools_csv_folder_names_the_tab_and_line_holding_a_nul(tmp_path):
    folder = write_csv_folder(tmp_path / "csv", {"vInfo": [vinfo_row(Annotation="owner: a\x00b")]})

    with pytest.raises(ImportRefused) as refusal:
        parse_rvtools(folder)

    assert ("vInfo", 2, NUL_PROBLEM) in [(p.sheet, p.row, p.message) for p in refusal.value.problems]
