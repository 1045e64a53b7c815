"""What every evaluator returns, and how the rows it read are described and hashed.

An evaluator is a module with ``collect`` (run its queries: named row lists, each with the query in words and
its parameters) and ``measure`` (the value from those rows). Evaluation stores each query's description,
parameters, row count and SHA-256; a re-check runs ``collect`` again with the stored parameters and compares.
"""

import datetime
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from compliance.choices import Scope
from compliance.evaluators.specs import SCOPE_CATEGORIES

# Hashing the rows of 10,000 VMs a query at a time: rows are encoded and fed to the hash in slices of this many,
# so a large query never builds one huge string.
HASH_SLICE = 2000


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def rows_sha256(rows: list[tuple]) -> str:
    """SHA-256 of rows in their order, each as a JSON array (dates in ISO 8601): what a re-check compares."""
    digest = hashlib.sha256()
    for start in range(0, len(rows), HASH_SLICE):
        chunk = rows[start : start + HASH_SLICE]
        text = "".join(
            json.dumps([_plain(value) for value in row], sort_keys=True, separators=(",", ":"), default=str) + "\n"
            for row in chunk
        )
        digest.update(text.encode())
    return digest.hexdigest()


@dataclass
class QueryRows:
    """One query an evaluator ran: ``query`` says in words what it selects, ``parameters`` with what values."""

    name: str
    query: str
    parameters: dict
    rows: list[tuple]

    def stored(self) -> dict:
        return {
            "name": self.name, "query": self.query, "parameters": {k: _plain(v) for k, v in self.parameters.items()},
            "row_count": len(self.rows), "sha256": rows_sha256(self.rows),
        }


@dataclass
class Measure:
    """The value of a metric, or None with ``summary`` saying why it could not be evaluated."""

    value: Decimal | None
    summary: str
    numerator: int | None = None
    denominator: int | None = None
    details: dict = field(default_factory=dict)


def percent(numerator: int, denominator: int) -> Decimal:
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"))


def scope_words(scope: str) -> str:
    return "" if scope == Scope.ESTATE else f" with data category {SCOPE_CATEGORIES[scope]!r}"


def vm_scope_filter(queryset, scope: str, *, prefix: str = ""):
    """VMs (or rows reaching VMs through ``prefix``) in a framework's scope: their declared data categories hold
    that framework's category. Matched as the JSON text ``"ephi"`` so it reads the same on SQLite and PostgreSQL."""
    if scope == Scope.ESTATE:
        return queryset
    return queryset.filter(**{f"{prefix}data_categories__icontains": f'"{SCOPE_CATEGORIES[scope]}"'})


def ids_sample(ids: list[int], size: int = 20) -> list[int]:
    """The first ids of a list, for an evaluation's details: enough to open, not the whole population."""
    return ids[:size]
