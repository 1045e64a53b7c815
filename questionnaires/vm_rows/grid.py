"""The VM list's rows as the page's grid shows them, and the grid's rows as the page posts them."""

from collections.abc import Mapping
from typing import Any

from inventory.choices import Platform
from questionnaires.choices import DECLARED_DISPOSITIONS, DeclaredVMStatus, Disposition, VMPurpose
from questionnaires.models import DeclaredVM
from questionnaires.vm_rows.columns import COLUMN_LABELS, COLUMNS, DATA_CATEGORY_NAMES

# The VM grid's cells: (choices or None, input type) by column. The grid always posts every column of COLUMNS
# (a column left out would be saved as empty).
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
}
# (column, heading, choices, input type): headings are COLUMN_LABELS, which problems use too; the name is required.
GRID_COLUMNS = tuple(
    (column, COLUMN_LABELS[column] + (" *" if column == "name" else ""), *GRID_CELLS[column]) for column in COLUMNS
)


def grid_from_post(post: Mapping[str, str]) -> list[dict[str, str]]:
    """The grid's rows as posted: inputs named ``rows-<n>-<column>`` (and ``rows-<n>-id``), in ``n`` order."""
    rows: dict[int, dict[str, str]] = {}
    for key in post:
        parts = key.split("-", 2)
        if len(parts) != 3 or parts[0] != "rows" or not parts[1].isdigit():
            continue
        if parts[2] in COLUMNS or parts[2] == "id":
            rows.setdefault(int(parts[1]), {})[parts[2]] = post.get(key, "")
    return [rows[number] for number in sorted(rows)]


def grid_row(declared: DeclaredVM) -> dict[str, Any]:
    """A saved row as the grid shows it."""
    cells = {}
    for column in COLUMNS:
        value = getattr(declared, column)
        if column == "created_on":
            value = value.isoformat() if value else ""
        elif column == "data_categories":
            value = "; ".join(DATA_CATEGORY_NAMES.get(code, code) for code in value or [])
        cells[column] = value
    return {"id": declared.pk, "cells": cells, "declared": declared}


def vm_counts(rows: list[DeclaredVM]) -> dict[str, int]:
    """Rows of a list by disposition, in all, and declared (those that count as the person's)."""
    counts = {value: 0 for value in Disposition.values}
    for declared in rows:
        counts[declared.disposition] += 1
    counts["total"] = len(rows)
    counts["declared"] = sum(counts[disposition] for disposition in DECLARED_DISPOSITIONS)
    return counts
