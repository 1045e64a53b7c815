"""The VM list's rows as cells of an export (CSV or xlsx), safe to open in a spreadsheet."""

from typing import Any

from questionnaires.models import DeclaredVM
from questionnaires.vm_rows.columns import COLUMNS

EXPORT_COLUMNS = (*COLUMNS, "disposition", "inventory_vm_id")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _export_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def vm_rows_export_cells(value: Any) -> Any:
    """Neutralise formula injection in exported cells: a text starting with =, +, -, @, tab or CR gets a leading '.

    Takes one cell, or a row (list or tuple) of cells and returns a list;
    numbers, dates and None pass unchanged.
    """
    if isinstance(value, list | tuple):
        return [_export_cell(cell) for cell in value]
    return _export_cell(value)


def declared_vm_export_cells(declared_vm: DeclaredVM) -> list[Any]:
    """One row of an export, in ``EXPORT_COLUMNS`` order, safe to write to CSV or xlsx."""
    cells: list[Any] = []
    for name in EXPORT_COLUMNS:
        value = getattr(declared_vm, name)
        if name == "data_categories":
            value = "; ".join(value or [])
        elif name == "created_on":
            value = value.isoformat() if value else ""
        elif value is None:
            value = ""
        cells.append(value)
    return vm_rows_export_cells(cells)
