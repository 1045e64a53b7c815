"""``manage.py import_people``: all or nothing, every problem with its line and field, upsert by e-mail."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.models import AuditEvent, Person
from portal.services.people import people_import
from portal.tabular.problems import ImportRefused, Numbering, Problem
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

HEADER = "email,name,title,department,manager_email\n"
# A report is listed before their manager on purpose: the order of rows must not matter.
ORG_CSV = (
    HEADER
    + "lead.a1@example.com,Ann Lead,Lead,Infra,vp.a@example.com\n"
    + "ceo@example.com,Carol CEO,CEO,Board,\n"
    + "vp.a@example.com,Alice VP,VP,Infra,ceo@example.com\n"
    + "vp.b@example.com,Bob VP,VP,Security,ceo@example.com\n"
)
ORG_PEOPLE = {
    "ceo@example.com": ("Carol CEO", "CEO", "Board", "", True),
    "vp.a@example.com": ("Alice VP", "VP", "Infra", "ceo@example.com", True),
    "vp.b@example.com": ("Bob VP", "VP", "Security", "ceo@example.com", True),
    "lead.a1@example.com": ("Ann Lead", "Lead", "Infra", "vp.a@example.com", True),
}


def write_csv(tmp_path: Path, text: str, *, name: str = "people.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run_import(path: Path, *options: str) -> str:
    """Run the command as an operator would; return what it printed."""
    out = io.StringIO()
    call_command("import_people", str(path), *options, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_refused_import(path: Path, *options: str) -> tuple[CommandError, list[str]]:
    """Run the command on a file it must refuse; return the error and the lines it wrote to stderr."""
    err = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("import_people", str(path), *options, stdout=io.StringIO(), stderr=err)
    return refused.value, err.getvalue().splitlines()


def people() -> dict[str, tuple[str, str, str, str, bool]]:
    """Everybody as (name, title, department, manager's e-mail, active), by e-mail."""
    return {
        person.email: (
            person.name,
            person.title,
            person.department,
            person.parent.email if person.parent else "",
            person.active,
        )
        for person in Person.objects.select_related("parent")
    }


def snapshot() -> list[dict]:
    """Every column of every person, in id order: equal snapshots mean nothing was written."""
    return list(Person.objects.order_by("id").values())


def person_writes(queries: CaptureQueriesContext) -> list[str]:
    table = Person._meta.db_table
    return [
        query["sql"]
        for query in queries.captured_queries
        if re.match(rf'\s*(INSERT INTO|UPDATE|DELETE FROM) "?{table}"?\s', query["sql"])
    ]


# --- Creating and updating ------------------------------------------------------------------------------------


def test_first_import_creates_the_tree_with_managers(tmp_path):
    # Given an empty portal and a file of four people
    path = write_csv(tmp_path, ORG_CSV)

    # When it is imported
    printed = run_import(path)

    # Then everybody exists under the right manager, and the counts are printed
    assert printed == "created 4, updated 0, unchanged 0, deactivated 0.\n"
    assert people() == ORG_PEOPLE
    ceo = Person.objects.get(email="ceo@example.com")
    assert sorted(ceo.reports.values_list("email", flat=True)) == ["vp.a@example.com", "vp.b@example.com"]


def test_reimport_of_the_same_file_is_unchanged_and_writes_nothing(tmp_path):
    # Given a file already imported
    path = write_csv(tmp_path, ORG_CSV)
    run_import(path)
    before = snapshot()

    # When it is imported again
    with CaptureQueriesContext(connection) as queries:
        printed = run_import(path)

    # Then every row is unchanged and no person row was inserted, updated or deleted
    assert printed == "created 0, updated 0, unchanged 4, deactivated 0.\n"
    assert person_writes(queries) == []
    assert snapshot() == before


def test_a_changed_title_or_manager_counts_as_updated(tmp_path):
    # Given the org imported
    run_import(write_csv(tmp_path, ORG_CSV))
    ids_before = dict(Person.objects.values_list("email", "id"))

    # When Ann gets a new title and Bob now reports to Alice
    changed = ORG_CSV.replace("Ann Lead,Lead,", "Ann Lead,Principal,").replace(
        "Bob VP,VP,Security,ceo@example.com", "Bob VP,VP,Security,vp.a@example.com"
    )
    printed = run_import(write_csv(tmp_path, changed, name="changed.csv"))

    # Then two people were updated in place, the others untouched
    assert printed == "created 0, updated 2, unchanged 2, deactivated 0.\n"
    assert people() == {
        **ORG_PEOPLE,
        "lead.a1@example.com": ("Ann Lead", "Principal", "Infra", "vp.a@example.com", True),
        "vp.b@example.com": ("Bob VP", "VP", "Security", "vp.a@example.com", True),
    }
    assert dict(Person.objects.values_list("email", "id")) == ids_before


def test_an_existing_person_can_move_under_a_manager_created_by_the_same_file(tmp_path, org):
    # Given Bob in the portal, and a file that puts him under a new CTO listed after him
    path = write_csv(
        tmp_path,
        HEADER
        + "vp.b@example.com,Bob VP,Engineer,Infrastructure,cto@example.com\n"
        + "cto@example.com,Tess CTO,CTO,Tech,ceo@example.com\n",
    )

    # When it is imported
    printed = run_import(path)

    # Then the CTO is created under the CEO and Bob moved under her
    assert printed == "created 1, updated 1, unchanged 0, deactivated 0.\n"
    everybody = people()
    assert everybody["cto@example.com"] == ("Tess CTO", "CTO", "Tech", "ceo@example.com", True)
    assert everybody["vp.b@example.com"] == ("Bob VP", "Engineer", "Infrastructure", "cto@example.com", True)
    assert everybody["lead.b1@example.com"][3] == "vp.b@example.com"


def test_emails_are_matched_and_stored_without_regard_to_case(tmp_path):
    # Given a file whose e-mails are in mixed case
    mixed = HEADER + "CEO@Example.COM,Carol CEO,CEO,Board,\n" + "Vp.A@example.com,Alice VP,VP,Infra,ceo@EXAMPLE.com\n"
    first = run_import(write_csv(tmp_path, mixed))

    # When the same people come back in lower case
    second = run_import(
        write_csv(
            tmp_path,
            HEADER + "ceo@example.com,Carol CEO,CEO,Board,\nvp.a@example.com,Alice VP,VP,Infra,ceo@example.com\n",
            name="lower.csv",
        )
    )

    # Then they are stored in lower case, matched by e-mail, and nothing changed the second time
    assert first == "created 2, updated 0, unchanged 0, deactivated 0.\n"
    assert second == "created 0, updated 0, unchanged 2, deactivated 0.\n"
    assert people() == {
        "ceo@example.com": ("Carol CEO", "CEO", "Board", "", True),
        "vp.a@example.com": ("Alice VP", "VP", "Infra", "ceo@example.com", True),
    }


# --- People missing from the file -----------------------------------------------------------------------------

PARTIAL_ORG_CSV = (
    HEADER
    + "ceo@example.com,Carol CEO,CEO,,\n"
    + "vp.a@example.com,Alice VP,Engineer,Infrastructure,ceo@example.com\n"
    + "lead.a1@example.com,Ann Lead,Engineer,Infrastructure,vp.a@example.com\n"
)


def test_without_deactivate_missing_nobody_is_deactivated(tmp_path, org):
    # Given six people in the portal and a file naming three of them
    path = write_csv(tmp_path, PARTIAL_ORG_CSV)

    # When it is imported without --deactivate-missing
    printed = run_import(path)

    # Then the other three stay active
    assert printed == "created 0, updated 1, unchanged 2, deactivated 0.\n"
    assert Person.objects.filter(active=True).count() == 6


def test_deactivate_missing_deactivates_and_never_deletes(tmp_path, org):
    # Given six people in the portal and a file naming three of them
    path = write_csv(tmp_path, PARTIAL_ORG_CSV)

    # When it is imported with --deactivate-missing
    printed = run_import(path, "--deactivate-missing")

    # Then the three missing people are inactive but still there, with their manager kept
    assert printed == "created 0, updated 1, unchanged 2, deactivated 3.\n"
    everybody = people()
    assert len(everybody) == 6
    assert {email: values[3:] for email, values in everybody.items() if not values[4]} == {
        "vp.b@example.com": ("ceo@example.com", False),
        "lead.a2@example.com": ("vp.a@example.com", False),
        "lead.b1@example.com": ("vp.b@example.com", False),
    }


def test_a_deactivated_person_back_in_the_file_is_reactivated(tmp_path, org):
    # Given Bob deactivated by an earlier import
    org["vp_b"].active = False
    org["vp_b"].save()
    path = write_csv(tmp_path, HEADER + "vp.b@example.com,Bob VP,Engineer,Infrastructure,ceo@example.com\n")

    # When a file lists him again
    printed = run_import(path)

    # Then he is active again, counted as updated
    assert printed == "created 0, updated 1, unchanged 0, deactivated 0.\n"
    assert people()["vp.b@example.com"] == ("Bob VP", "Engineer", "Infrastructure", "ceo@example.com", True)


def test_a_manager_known_only_in_the_portal_is_accepted(tmp_path, org):
    # Given Bob in the portal but not in the file
    path = write_csv(tmp_path, HEADER + "new@example.com,Nina New,Analyst,Security,vp.b@example.com\n")

    # When a new report of his is imported
    printed = run_import(path)

    # Then she is created under him
    assert printed == "created 1, updated 0, unchanged 0, deactivated 0.\n"
    assert Person.objects.get(email="new@example.com").parent == org["vp_b"]


def test_with_deactivate_missing_a_manager_only_in_the_portal_is_unknown(tmp_path, org):
    # Given Bob in the portal but not in the file, which is to deactivate everybody it does not list
    before = snapshot()
    path = write_csv(tmp_path, HEADER + "new@example.com,Nina New,Analyst,Security,vp.b@example.com\n")

    # When it is imported with --deactivate-missing
    error, problems = run_refused_import(path, "--deactivate-missing")

    # Then Bob is an unknown manager, since he would be deactivated, and nothing changed
    assert problems == ["people.csv: line 2, manager_email: unknown manager vp.b@example.com"]
    assert str(error) == "people.csv: 1 problem(s); nothing was imported"
    assert snapshot() == before


# --- Refused files: all or nothing, every problem with its line and field -------------------------------------


def test_a_cycle_an_unknown_manager_and_a_bad_email_are_all_reported_and_nothing_is_written(tmp_path, org):
    # Given the portal's org, and a file with a good row and three kinds of mistake
    before = snapshot()
    path = write_csv(
        tmp_path,
        HEADER
        + "ceo@example.com,Carol Renamed,CEO,Board,\n"
        + "x@example.com,Xavier,,,y@example.com\n"
        + "y@example.com,Yvonne,,,x@example.com\n"
        + "z@example.com,Zed,,,nobody@example.com\n"
        + "not-an-email,Broken,,,ceo@example.com\n",
    )

    # When it is imported
    error, problems = run_refused_import(path)

    # Then the command fails (non-zero exit), names all three with line and field, and writes nothing
    assert error.returncode == 1
    assert str(error) == "people.csv: 3 problem(s); nothing was imported"
    assert problems == [
        "people.csv: line 3, manager_email: cycle in the chain of command: "
        "x@example.com → y@example.com → x@example.com",
        "people.csv: line 5, manager_email: unknown manager nobody@example.com",
        "people.csv: line 6, email: 'not-an-email' is not a valid e-mail address",
    ]
    assert snapshot() == before
    assert AuditEvent.objects.count() == 0


def test_a_cycle_through_a_person_only_in_the_portal_is_refused(tmp_path, org):
    # Given Alice manages Ann in the portal, and a file that makes Ann manage Alice
    path = write_csv(tmp_path, HEADER + "vp.a@example.com,Alice VP,VP,Infra,lead.a1@example.com\n")

    # When it is imported
    _, problems = run_refused_import(path)

    # Then the cycle is named on Alice's line
    assert problems == [
        "people.csv: line 2, manager_email: cycle in the chain of command: "
        "vp.a@example.com → lead.a1@example.com → vp.a@example.com"
    ]


def test_missing_columns_are_named(tmp_path):
    path = write_csv(tmp_path, "Email,Name,Department\nceo@example.com,Carol,Board\n")

    _, problems = run_refused_import(path)

    assert problems == [
        "people.csv: line 1, manager_email: missing column",
        "people.csv: line 1, title: missing column",
    ]
    assert Person.objects.count() == 0


def test_a_duplicate_email_names_both_lines(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER
        + "ceo@example.com,Carol CEO,CEO,Board,\n"
        + "vp.a@example.com,Alice VP,VP,Infra,ceo@example.com\n"
        + "CEO@example.com,Carol Again,CEO,Board,\n",
    )

    _, problems = run_refused_import(path)

    assert problems == ["people.csv: line 4, email: ceo@example.com is already on line 2"]
    assert Person.objects.count() == 0


def test_a_person_cannot_be_their_own_manager(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER + "ceo@example.com,Carol CEO,CEO,Board,\n" + "vp.a@example.com,Alice VP,VP,Infra,VP.A@example.com\n",
    )

    _, problems = run_refused_import(path)

    assert problems == ["people.csv: line 3, manager_email: vp.a@example.com cannot be their own manager"]
    assert Person.objects.count() == 0


def test_required_values_and_bad_manager_addresses_are_named(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER
        + "ceo@example.com,,CEO,Board,\n"
        + ",Nobody,,,ceo@example.com\n"
        + "a@example.com,Ann,,,not-a-manager\n",
    )

    _, problems = run_refused_import(path)

    assert problems == [
        "people.csv: line 2, name: is required",
        "people.csv: line 3, email: is required",
        "people.csv: line 4, manager_email: 'not-a-manager' is not a valid e-mail address",
    ]


def test_single_root_names_the_second_roots_line(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER
        + "ceo@example.com,Carol CEO,CEO,Board,\n"
        + "vp.a@example.com,Alice VP,VP,Infra,ceo@example.com\n"
        + "boss@example.com,Other Boss,CEO,Elsewhere,\n",
    )

    _, problems = run_refused_import(path, "--single-root")

    assert problems == [
        "people.csv: line 4, manager_email: boss@example.com has no manager, but ceo@example.com is already the root"
    ]
    assert Person.objects.count() == 0


def test_single_root_accepts_one_root(tmp_path):
    printed = run_import(write_csv(tmp_path, ORG_CSV), "--single-root")

    assert printed == "created 4, updated 0, unchanged 0, deactivated 0.\n"


def test_single_root_does_not_count_a_person_with_an_unknown_manager_as_a_root(tmp_path):
    path = write_csv(
        tmp_path, HEADER + "ceo@example.com,Carol CEO,CEO,Board,\n" + "a@example.com,Ann,,,nobody@example.com\n"
    )

    _, problems = run_refused_import(path, "--single-root")

    assert problems == ["people.csv: line 3, manager_email: unknown manager nobody@example.com"]


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = write_csv(tmp_path, HEADER + "jose@example.com,José Núñez,,,\n", encoding="latin-1")

    _, problems = run_refused_import(path)

    assert problems == ['people.csv: is not UTF-8 text: save it as "CSV UTF-8"']
    assert Person.objects.count() == 0


def test_an_empty_file_is_refused(tmp_path):
    _, problems = run_refused_import(write_csv(tmp_path, ""))

    assert problems == ["people.csv: is empty; expected the columns email, name, title, department, manager_email"]


def test_a_file_with_a_header_and_nobody_is_refused(tmp_path, org):
    # Given the portal's org; an empty list with --deactivate-missing would otherwise deactivate everybody
    before = snapshot()

    _, problems = run_refused_import(write_csv(tmp_path, HEADER + "\n,,,,\n"), "--deactivate-missing")

    assert problems == ["people.csv: line 1: lists nobody below the header"]
    assert snapshot() == before


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match=r"nowhere\.csv: no such file"):
        call_command("import_people", str(tmp_path / "nowhere.csv"))


# --- File shape -----------------------------------------------------------------------------------------------


def test_a_byte_order_mark_is_ignored(tmp_path):
    path = write_csv(tmp_path, ORG_CSV, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    printed = run_import(path)

    assert printed == "created 4, updated 0, unchanged 0, deactivated 0.\n"
    assert people() == ORG_PEOPLE


def test_blank_lines_are_skipped_and_still_counted_in_line_numbers(tmp_path):
    # Given blank and empty-cell lines between the rows
    text = HEADER + "\nceo@example.com,Carol CEO,CEO,Board,\n\n , , , , \n" + "a@example.com,Ann,,,nobody@example.com\n"
    path = write_csv(tmp_path, text)

    # When imported, the bad row is named by its line in the file
    _, problems = run_refused_import(path)
    assert problems == ["people.csv: line 6, manager_email: unknown manager nobody@example.com"]

    # And once fixed, the blank lines are not people
    printed = run_import(write_csv(tmp_path, text.replace("nobody@", "ceo@"), name="fixed.csv"))
    assert printed == "created 2, updated 0, unchanged 0, deactivated 0.\n"
    assert people() == {
        "ceo@example.com": ("Carol CEO", "CEO", "Board", "", True),
        "a@example.com": ("Ann", "", "", "ceo@example.com", True),
    }


def test_columns_may_come_in_any_order_with_extra_ones_ignored(tmp_path):
    path = write_csv(
        tmp_path,
        "manager_email, Name ,email,department,title,phone\n"
        ",Carol CEO,ceo@example.com,Board,CEO,555\n"
        "ceo@example.com,Alice VP,vp.a@example.com,Infra,VP,556\n",
    )

    printed = run_import(path)

    assert printed == "created 2, updated 0, unchanged 0, deactivated 0.\n"
    assert people() == {
        "ceo@example.com": ("Carol CEO", "CEO", "Board", "", True),
        "vp.a@example.com": ("Alice VP", "VP", "Infra", "ceo@example.com", True),
    }


def test_a_file_saved_by_excel_with_semicolons_and_quotes_is_read(tmp_path):
    # Excel in much of Europe separates with ";"; a title holding the separator is quoted over two lines
    text = ORG_CSV.replace(",", ";").replace("Ann Lead;Lead;", 'Ann Lead;"Lead; Infra\nplatform";')

    printed = run_import(write_csv(tmp_path, text, encoding="utf-8-sig"))

    assert printed == "created 4, updated 0, unchanged 0, deactivated 0.\n"
    assert people()["lead.a1@example.com"][1] == "Lead; Infra\nplatform"


def test_a_row_is_named_by_the_line_where_it_begins(tmp_path):
    text = HEADER + 'a@example.com,Ann,"Chief\nExecutive",,nobody@example.com\n' + "b@example.com,Bo,,,x@example.com\n"

    _, problems = run_refused_import(write_csv(tmp_path, text))

    assert problems == [
        "people.csv: line 2, manager_email: unknown manager nobody@example.com",
        "people.csv: line 4, manager_email: unknown manager x@example.com",
    ]


def test_a_quote_never_closed_refuses_the_file_naming_its_line(tmp_path, org):
    before = snapshot()
    text = HEADER + 'ceo@example.com,"Carol CEO,CEO,Board,\n' + "vp.a@example.com,Alice VP,VP,Infra,ceo@example.com\n"

    _, problems = run_refused_import(write_csv(tmp_path, text))

    assert problems == [
        "people.csv: a quote opened on line 2 is never closed: close it (or remove it); nothing was read"
    ]
    assert snapshot() == before


# --- Dry run and audit ----------------------------------------------------------------------------------------


def test_dry_run_prints_the_counts_and_writes_nothing(tmp_path, org):
    # Given the portal's org and a file that would change, create and deactivate
    before = snapshot()
    path = write_csv(tmp_path, PARTIAL_ORG_CSV + "new@example.com,Nina New,,,ceo@example.com\n")

    # When it is imported with --dry-run
    printed = run_import(path, "--dry-run", "--deactivate-missing")

    # Then the counts are those of a real import, and nothing was written, not even an audit event
    assert printed == "Dry run, nothing written: would have created 1, updated 1, unchanged 2, deactivated 3.\n"
    assert snapshot() == before
    assert AuditEvent.objects.count() == 0


def test_a_successful_import_writes_one_audit_event_with_the_counts(tmp_path, org):
    run_import(write_csv(tmp_path, PARTIAL_ORG_CSV), "--deactivate-missing")

    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.actor_label) == ("people.imported", None, "system: import_people")
    assert event.details == {"file": "people.csv", "created": 0, "updated": 1, "unchanged": 2, "deactivated": 3}


def test_a_refused_import_writes_no_audit_event(tmp_path, org):
    run_refused_import(write_csv(tmp_path, HEADER + "a@example.com,Ann,,,nobody@example.com\n"))

    assert AuditEvent.objects.count() == 0


# --- The service, called directly -----------------------------------------------------------------------------


def test_the_service_raises_every_problem_sorted_by_line(org):
    text = (
        HEADER
        + "b@example.com,Bea,,,a@example.com\n"
        + "a@example.com,Abe,,,b@example.com\n"
        + "a@example.com,Abe Again,,,\n"
        + "c@example.com,Cy,,,c@example.com\n"
    )

    with pytest.raises(ImportRefused) as refused:
        people_import(stream=io.BytesIO(text.encode()))

    assert refused.value.problems == [
        Problem(
            "", 2, "manager_email", "cycle in the chain of command: b@example.com → a@example.com → b@example.com",
            Numbering.LINE,
        ),
        Problem("", 4, "email", "a@example.com is already on line 3", Numbering.LINE),
        Problem("", 5, "manager_email", "c@example.com cannot be their own manager", Numbering.LINE),
    ]
    assert Person.objects.count() == 6


def test_the_service_records_the_acting_user(role_users):
    admin = role_users["admin"]

    result = people_import(stream=io.BytesIO(ORG_CSV.encode()), source_name="upload.csv", actor=admin)

    assert (result.created, result.updated, result.unchanged, result.deactivated) == (4, 0, 0, 0)
    event = AuditEvent.objects.get()
    assert (event.actor, event.details["file"]) == (admin, "upload.csv")


def test_an_existing_person_keeps_their_login_and_id_when_updated(tmp_path, role_users):
    # Given a person with a login
    person = PersonFactory(email="ceo@example.com", name="Carol", user=role_users["manager"])

    run_import(write_csv(tmp_path, ORG_CSV))

    person.refresh_from_db()
    assert (person.name, person.title, person.user) == ("Carol CEO", "CEO", role_users["manager"])


# --- The benchmark command ------------------------------------------------------------------------------------


def test_the_benchmark_command_prints_three_figures_and_leaves_the_database_as_it_was(org):
    before = snapshot()
    out = io.StringIO()

    call_command("benchmark_people_import", "--count", "50", stdout=out)

    counts = r"created \d+, updated \d+, unchanged \d+, deactivated \d+"
    figure = rf"^(.+?): (\d+\.\d{{3}}) s \(({counts})\) +target 10 s +(PASS|FAIL)$"
    figures = re.findall(figure, out.getvalue(), flags=re.MULTILINE)
    assert [(label, counts) for label, _, counts, _ in figures] == [
        ("first import, all created", "created 50, updated 0, unchanged 0, deactivated 0"),
        ("re-import, nothing changed", "created 0, updated 0, unchanged 50, deactivated 0"),
        ("re-import, 1% changed", "created 0, updated 1, unchanged 49, deactivated 0"),
    ]
    assert snapshot() == before
    assert AuditEvent.objects.count() == 0
