"""Import of the organisation chart from CSV: validate everything, then write everything or nothing.

The file is read as every table is (``docs/tabular.md``); this module says only which columns it has.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from portal.models import Person, User
from portal.services.audit import audit_log
from portal.tabular import csv
from portal.tabular.files import read_limited
from portal.tabular.problems import ImportRefused, Numbering, Problems
from portal.tabular.sheets import Sheet

COLUMNS = ("email", "name", "title", "department", "manager_email")
# A 10,000-person organisation is about 1 MB of CSV; the file is read into memory whole.
MAX_FILE_BYTES = 64 * 1024 * 1024
REQUIRED_VALUES = ("email", "name")
NUL_PROBLEM = "contains a NUL character (\\x00), which cannot be stored: remove it"
# The columns an import compares and writes on a person already in the portal.
WRITTEN_FIELDS = ["name", "title", "department", "active", "parent_id"]
# Rows per INSERT / UPDATE statement: large enough to keep 10,000 people to a few
# dozen statements, small enough for SQLite's limit on bound parameters.
WRITE_BATCH_SIZE = 500


@dataclass
class PeopleImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0


@dataclass
class _Row:
    line: int
    email: str
    name: str
    title: str
    department: str
    manager_email: str


@dataclass
class _Validation:
    rows: list[_Row] = field(default_factory=list)
    problems: Problems = field(default_factory=lambda: Problems(Numbering.LINE))

    def add(self, line: int, field_name: str, message: str) -> None:
        self.problems.add(line, field_name, message)


def _read_rows(stream: IO[bytes], result: _Validation) -> bool:
    """Read and check every row; True when the whole file could be read, so its chain of command can be checked."""
    data = read_limited(stream, result.problems, max_bytes=MAX_FILE_BYTES)
    text = None if data is None else csv.decode(data, result.problems)
    if text is None:
        return False
    sheet = Sheet(csv.records(text, result.problems, by_line=True), result.problems)
    records = list(sheet.rows())
    if result.problems:  # a quote never closed, a cell too long: the file was not read to the end
        return False
    if sheet.empty:
        result.add(0, "", f"is empty; expected the columns {', '.join(COLUMNS)}")
        return False
    missing = [column for column in COLUMNS if not sheet.has(column)]
    for column in missing:
        sheet.problem(column, "missing column")
    if missing:
        return False
    seen: dict[str, int] = {}
    for record in records:
        values = {column: record.text(column) for column in COLUMNS}
        if not any(values.values()):
            continue
        row = _Row(line=record.number, **values)
        row.email = row.email.lower()
        row.manager_email = row.manager_email.lower()
        _check_row(row, seen, result)
        result.rows.append(row)
    if not result.rows:
        # Refused rather than read as "nobody": with deactivate_missing it would deactivate everybody.
        sheet.problem("", "lists nobody below the header")
        return False
    return True


def _check_row(row: _Row, seen: dict[str, int], result: _Validation) -> None:
    for name in COLUMNS:
        if "\x00" in getattr(row, name):
            result.add(row.line, name, NUL_PROBLEM)
    for name in REQUIRED_VALUES:
        if not getattr(row, name):
            result.add(row.line, name, "is required")
    for name in ("email", "manager_email"):
        value = getattr(row, name)
        if value:
            try:
                validate_email(value)
            except ValidationError:
                result.add(row.line, name, f"{value!r} is not a valid e-mail address")
    if row.email:
        if row.email in seen:
            result.add(row.line, "email", f"{row.email} is already on line {seen[row.email]}")
        else:
            seen[row.email] = row.line
    if row.manager_email and row.manager_email == row.email:
        result.add(row.line, "manager_email", f"{row.email} cannot be their own manager")


def _check_graph(
    rows: list[_Row],
    existing: dict[str, dict],
    *,
    single_root: bool,
    deactivate_missing: bool,
    result: _Validation,
) -> None:
    """Unknown managers, cycles and extra roots, over the org as it would be after the import.

    Runs even when rows have problems, so one pass reports everything; a row whose manager is
    already refused (bad address, themselves) or unknown is left out of the chain, so it is
    neither reported again as a cycle nor counted as a root.
    """
    refused_managers = {problem.row for problem in result.problems if problem.column == "manager_email"}
    in_file: dict[str, _Row] = {}
    for row in rows:
        if row.email:
            in_file.setdefault(row.email, row)  # a later duplicate is the refused one
    email_by_id = {values["id"]: email for email, values in existing.items()}
    # The manager of every person after the import: the file wins, the portal fills in the rest.
    manager_of: dict[str, str] = {}
    if not deactivate_missing:
        for email, values in existing.items():
            if values["active"] and email not in in_file:
                manager_of[email] = email_by_id.get(values["parent_id"], "")
    known = set(in_file) | set(manager_of)
    for row in in_file.values():
        if row.line in refused_managers:
            continue
        if row.manager_email and row.manager_email not in known:
            result.add(row.line, "manager_email", f"unknown manager {row.manager_email}")
            continue
        manager_of[row.email] = row.manager_email

    done: set[str] = set()
    for row in rows:
        path: list[str] = []
        on_path: set[str] = set()
        current = row.email
        while current and current not in done and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = manager_of.get(current, "")
        if current in on_path:
            cycle = path[path.index(current):] + [current]
            first = min((in_file[email].line for email in cycle if email in in_file), default=row.line)
            result.add(first, "manager_email", "cycle in the chain of command: " + " → ".join(cycle))
        done.update(path)

    if single_root:
        roots = sorted(
            (in_file[email].line if email in in_file else 0, email)
            for email, manager in manager_of.items()
            if not manager
        )
        for line, email in roots[1:]:
            where = "" if line else " (already in the portal, not in this file)"
            result.add(
                line, "manager_email", f"{email}{where} has no manager, but {roots[0][1]} is already the root"
            )


def _existing_people() -> dict[str, dict]:
    return {
        values["email"]: values
        for values in Person.objects.values("id", "email", "name", "title", "department", "active", "parent_id")
    }


def _batched(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), WRITE_BATCH_SIZE):
        yield ids[start : start + WRITE_BATCH_SIZE]


def _create_new_people(rows: list[_Row], id_by_email: dict[str, int]) -> int:
    """Insert new people managers first, each with their manager's id, so no second pass updates them.

    One round of INSERTs per level of the new part of the tree; ``id_by_email`` gains the new ids.
    """
    waiting = {row.email: row for row in rows}
    while waiting:
        ready = [row for row in waiting.values() if not row.manager_email or row.manager_email in id_by_email]
        if not ready:  # the chain was checked for unknown managers and cycles before any write
            raise RuntimeError("people_import: managers of " + ", ".join(sorted(waiting)) + " never became known")
        new_people = [
            Person(
                email=row.email,
                name=row.name,
                title=row.title,
                department=row.department,
                active=True,
                parent_id=id_by_email[row.manager_email] if row.manager_email else None,
            )
            for row in ready
        ]
        Person.objects.bulk_create(new_people, batch_size=WRITE_BATCH_SIZE)
        # bulk_create returns primary keys on PostgreSQL and SQLite 3.35+.
        id_by_email.update((person.email, person.id) for person in new_people)
        for row in ready:
            del waiting[row.email]
    return len(rows)


@transaction.atomic
def people_import(
    *,
    stream: IO[bytes],
    source_name: str = "",
    single_root: bool = False,
    deactivate_missing: bool = False,
    actor: User | None = None,
    dry_run: bool = False,
) -> PeopleImportResult:
    """Upsert people by e-mail from a CSV with the columns ``COLUMNS`` (any order; other columns are ignored).

    Raises ``ImportRefused`` listing every problem (line and field) and
    writes nothing when any row is wrong. People missing from the file are
    deactivated only with ``deactivate_missing``; nobody is ever deleted.
    """
    validation = _Validation()
    whole_file = _read_rows(stream, validation)
    existing = _existing_people()
    if whole_file:
        _check_graph(
            validation.rows,
            existing,
            single_root=single_root,
            deactivate_missing=deactivate_missing,
            result=validation,
        )
    if validation.problems:
        raise ImportRefused(validation.problems)

    result = PeopleImportResult()
    rows = validation.rows
    id_by_email = {email: values["id"] for email, values in existing.items()}
    result.created = _create_new_people([row for row in rows if row.email not in existing], id_by_email)

    changed: list[Person] = []
    changed_fields: set[str] = set()
    for row in rows:
        before = existing.get(row.email)
        if before is None:
            continue
        wanted = {
            "name": row.name,
            "title": row.title,
            "department": row.department,
            "active": True,
            "parent_id": id_by_email[row.manager_email] if row.manager_email else None,
        }
        differing = {key for key, value in wanted.items() if before[key] != value}
        if not differing:
            result.unchanged += 1
            continue
        result.updated += 1
        changed_fields |= differing
        changed.append(Person(id=before["id"], **wanted))
    # Only the columns that changed: bulk_update's cost grows with rows times columns.
    if changed:
        fields = [name for name in WRITTEN_FIELDS if name in changed_fields]
        Person.objects.bulk_update(changed, fields, batch_size=WRITE_BATCH_SIZE)

    if deactivate_missing:
        in_file = {row.email for row in rows}
        to_deactivate = [
            values["id"] for email, values in existing.items() if values["active"] and email not in in_file
        ]
        for batch in _batched(to_deactivate):
            Person.objects.filter(id__in=batch).update(active=False)
        result.deactivated = len(to_deactivate)

    if dry_run:
        # Only now: once rollback is flagged, the transaction refuses further queries.
        transaction.set_rollback(True)
    else:
        audit_log(
            action="people.imported",
            actor=actor,
            actor_label="system: import_people",
            details={"file": source_name, **result.__dict__},
        )
    return result


@transaction.atomic
def person_link_login(*, person: Person, user: User | None, linked_by: User) -> Person:
    """Give ``person`` a login (or none): that login then answers the person's questionnaires. Audited."""
    previous = person.user
    if previous == user:
        return person
    person.user = user
    person.save(update_fields=["user"])
    audit_log(
        action="person.login_linked",
        actor=linked_by,
        obj=person,
        details={"login": user.username if user else None, "previous_login": previous.username if previous else None},
    )
    return person
