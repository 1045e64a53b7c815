"""Query helpers every app shares."""

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

T = TypeVar("T")

# Values bound in one ``WHERE id IN (...)`` or one multi-row INSERT: under the 999 bound parameters the
# oldest SQLite builds allow, so one constant serves SQLite and PostgreSQL alike.
QUERY_CHUNK_SIZE = 900


def chunked(items: Iterable[T], size: int = QUERY_CHUNK_SIZE) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, for statements whose parameters must stay bounded."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert many rows of ``columns`` (attribute names: ``campaign_id``, not ``campaign``) as fast as the database
    takes them: PostgreSQL's COPY, a parameterised multi-row insert elsewhere. For hot paths that create tens of
    thousands of rows at once, where building a model instance per row costs more than the insert itself.

    Values go in as given, JSON fields serialised here; only text, numbers, booleans, None and JSON are supported
    (no dates: each database stores them its own way). Returns how many rows were inserted.
    """
    fields = [model._meta.get_field(column.removesuffix("_id") if column.endswith("_id") else column)
              for column in columns]
    names = [field.column for field in fields]
    as_json = [isinstance(field, models.JSONField) for field in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(name) for name in names)
    count = 0

    def prepared() -> Iterator[tuple]:
        for row in rows:
            yield tuple(json.dumps(value, cls=DjangoJSONEncoder) if is_json else value
                        for value, is_json in zip(row, as_json, strict=True))

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in prepared():
                    copy.write_row(row)
                    count += 1
            return count
        placeholders = "(" + ", ".join(["%s"] * len(names)) + ")"
        per_statement = max(1, QUERY_CHUNK_SIZE // len(names))
        for chunk in chunked(prepared(), per_statement):
            cursor.execute(  # table and columns are the model's own names, quoted; values are parameters
                f"INSERT INTO {table} ({quoted}) VALUES {', '.join([placeholders] * len(chunk))}",  # noqa: S608
                [value for row in chunk for value in row],
            )
            count += len(chunk)
    return count


def rows_update(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Set ``columns`` of many rows at once, each row ``(pk, value, ...)``: on PostgreSQL the values are copied
    into a temporary table and joined in one UPDATE (Django's bulk_update builds a CASE per row and column, which
    took minutes for 100,000 rows); elsewhere one parameterised UPDATE per row, in one executemany.

    Values as for ``rows_insert``. Returns how many rows were given.
    """
    rows = list(rows)
    if not rows:
        return 0
    fields = [model._meta.pk, *(model._meta.get_field(column.removesuffix("_id") if column.endswith("_id")
                                                       else column) for column in columns)]
    names = [connection.ops.quote_name(field.column) for field in fields]
    as_json = [isinstance(field, models.JSONField) for field in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    prepared = [tuple(json.dumps(value, cls=DjangoJSONEncoder) if is_json else value
                      for value, is_json in zip(row, as_json, strict=True)) for row in rows]
    # Table and column names below are the model's own, quoted; every value is a parameter or copied data.
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{name} = %s" for name in names[1:])
            cursor.executemany(
                f"UPDATE {table} SET {assignments} WHERE {names[0]} = %s",  # noqa: S608
                [(*row[1:], row[0]) for row in prepared],
            )
            return len(rows)
        scratch = connection.ops.quote_name(f"rows_update_{model._meta.db_table}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {scratch} AS SELECT {', '.join(names)} FROM {table} WITH NO DATA"  # noqa: S608
        )
        try:
            with cursor.cursor.copy(f"COPY {scratch} ({', '.join(names)}) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
            assignments = ", ".join(f"{name} = {scratch}.{name}" for name in names[1:])
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM {scratch} WHERE {table}.{names[0]} = {scratch}.{names[0]}"  # noqa: S608
            )
        finally:
            cursor.execute(f"DROP TABLE {scratch}")
    return len(rows)
