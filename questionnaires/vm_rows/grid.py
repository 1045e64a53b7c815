"""The VM list's rows as the page's grid shows them, and the grid's rows as the page sends them (one JSON body)."""

import json
from typing import Any

from inventory.choices import Platform
from portal.tabular.problems import Numbering, Problems
from questionnaires.choices import DECLARED_DISPOSITIONS, DeclaredVMStatus, Disposition, VMPurpose
from questionnaires.models import DeclaredVM
from questionnaires.services.declared_vms import RowChange
from questionnaires.vm_rows.columns import COLUMN_LABELS, COLUMNS, DATA_CATEGORY_NAMES
from questionnaires.vm_rows.parse import MAX_ROWS

# The VM grid's cells: (choices or None, input type) by column. The grid always sends every column of COLUMNS,
# hidden ones too.
GRID_CELLS = {
    "name": (None, "text"),
    "address": (None, "text"),
    "platform": (Platform.choices, "select"),
    "software": (None, "text"),
    "location": (None, "text"),
    "created_on": (None, "date"),
    "created_by": (None, "text"),
    "purpose": (VMPurpose.choices, "select"),
    "purpose_other": (None, "text"),
    "status": (DeclaredVMStatus.choices, "select"),
    "owner": (None, "text"),
    "data_categories": (None, "text"),
    "notes": (None, "text"),
    "uuid": (None, "text"),
    "vm_id": (None, "text"),
    "mac_address": (None, "text"),
}
# (column, heading, choices, input type): headings are COLUMN_LABELS, which problems use too; the name is required.
GRID_COLUMNS = tuple(
    (column, COLUMN_LABELS[column] + (" *" if column == "name" else ""), *GRID_CELLS[column]) for column in COLUMNS
)


# Entries a grid's body may hold, blank rows included (a person adds a few spare rows): beyond this it is not a
# grid a page sent, and it is refused before any cell is read.
GRID_MAX_ENTRIES = 2 * MAX_ROWS


class GridRefused(Exception):
    """A grid's body refused whole: what is wrong with it, by row and column. Nothing was saved."""

    def __init__(self, problems: Problems):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the grid")

    def problem_texts(self) -> list[str]:
        return [problem.text(COLUMN_LABELS) for problem in self.problems]


def _refused(message: str) -> GridRefused:
    problems = Problems()
    problems.add(0, "", message)
    return GridRefused(problems)


def _is_row_id(value: Any) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return False
    return (isinstance(value, int) and value > 0) or (isinstance(value, str) and value.isdigit())


def grid_from_json(body: bytes) -> list[dict[str, Any]]:
    """The grid's rows from the page's JSON body, ``{"rows": [{"id": 12, "name": "web01", ...}, ...]}``.

    The page sends one JSON document, not form fields: a form of 14 fields a row hits Django's
    ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` at about 71 rows. Only its shape is checked here (every row an object of
    known columns with text values, ids whole numbers), each problem naming its row and column; a body that is
    not such a grid raises ``GridRefused``. The cells' values are ``vm_rows_parse``'s to judge. The body's size is
    bounded before it is read (``DATA_UPLOAD_MAX_MEMORY_SIZE``, refused by ``portal.middleware``).
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise _refused("the grid did not come as JSON: reload the page and type the change again") from None
    if not isinstance(document, dict) or not isinstance(document.get("rows"), list):
        raise _refused('the grid comes as {"rows": [...]}: reload the page and type the change again')
    rows = document["rows"]
    if len(rows) > GRID_MAX_ENTRIES:
        raise _refused(f"more than {MAX_ROWS:,} rows: split the list")
    problems = Problems()
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems.add(number, "", "is not a row of cells")
            continue
        for column, value in row.items():
            if column == "id":
                if not _is_row_id(value):
                    problems.add(number, "id", "is not a row id")
            elif column not in COLUMNS:
                problems.add(number, str(column)[:100], "unknown column")
            elif value is not None and not isinstance(value, str):
                problems.add(number, column, "is not text")
    if problems:
        raise GridRefused(problems)
    return rows


def _cell_value(column: str, value: Any) -> Any:
    """A saved value as the grid's cell holds it (a choice keeps its code: the select shows its label)."""
    if column == "created_on":
        return value.isoformat() if value else ""
    if column == "data_categories":
        return "; ".join(DATA_CATEGORY_NAMES.get(code, code) for code in value or [])
    return value


CHOICE_LABELS = {column: dict(choices) for column, (choices, _) in GRID_CELLS.items() if choices}


def cell_text(column: str, value: Any) -> str:
    """A saved value as a person reads it: labels, not codes."""
    text = _cell_value(column, value)
    return str(CHOICE_LABELS.get(column, {}).get(text, text) or "")


def grid_row(declared: DeclaredVM) -> dict[str, Any]:
    """A saved row as the grid's cells hold it (``cells``) and as the read-only list shows it (``texts``)."""
    values = {column: getattr(declared, column) for column in COLUMNS}
    return {
        "id": declared.pk, "declared": declared,
        "cells": {column: _cell_value(column, value) for column, value in values.items()},
        "texts": {column: cell_text(column, value) for column, value in values.items()},
    }


def _change_text(column: str, old: Any, new: Any) -> str:
    label, before, after = COLUMN_LABELS[column], cell_text(column, old), cell_text(column, new)
    if not before:
        return f"{label} set to “{after}”"
    if not after:
        return f"{label} emptied (was “{before}”)"
    return f"{label} changed from “{before}” to “{after}”"


def row_change_texts(changes: list[RowChange], numbering: Numbering) -> list[str]:
    """What a paste or an upload did to each saved row it matched, as the page lists it:
    "line 3 of the file, web01: Purpose changed from “Test” to “Production”; kept: Owner, Data handled"."""
    texts = []
    for change in changes:
        parts = [_change_text(column, old, new) for column, old, new in change.changed] or ["unchanged"]
        text = f"{numbering.format(change.row)}, {change.name}: {'; '.join(parts)}"
        if change.kept:
            text += f"; kept: {', '.join(COLUMN_LABELS[column] for column in change.kept)}"
        texts.append(text)
    return texts


def vm_counts(rows: list[DeclaredVM]) -> dict[str, int]:
    """Rows of a list by disposition, in all, and declared (those that count as the person's)."""
    counts = {value: 0 for value in Disposition.values}
    for declared in rows:
        counts[declared.disposition] += 1
    counts["total"] = len(rows)
    counts["declared"] = sum(counts[disposition] for disposition in DECLARED_DISPOSITIONS)
    return counts
