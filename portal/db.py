"""Query helpers every app shares."""

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

# Values bound in one ``WHERE id IN (...)`` or one multi-row INSERT: under the 999 bound parameters the
# oldest SQLite builds allow, so one constant serves SQLite and PostgreSQL alike.
QUERY_CHUNK_SIZE = 900


def chunked(items: Iterable[T], size: int = QUERY_CHUNK_SIZE) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, for statements whose parameters must stay bounded."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
