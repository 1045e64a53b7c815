"""Tables read by their header: a column is found by what its header says (``cells.key``: any case, spacing or
punctuation), never by its position, and a problem names it as the file spells it."""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from portal.tabular.cells import is_blank, key, text
from portal.tabular.problems import Problems

# The headers one column may have: a name, or its spellings across versions of the writer ("Memory", "Memory MiB").
Names = str | tuple[str, ...]


def _spellings(names: Names) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else names


class Sheet:
    """A table whose first record holding anything is its header; its rows are the records below it."""

    def __init__(self, records: Iterator[tuple[int, Sequence[Any]]], problems: Problems, *, name: str = ""):
        self.name = name
        self.problems = problems
        self._records = records
        self.headers: list[str] = []  # as spelt, by position
        self.header: dict[str, tuple[int, str]] = {}  # by key: (position, as spelt) of the first with that key
        self.header_row = 1
        self.empty = True
        self._found: dict[Names, tuple[int, str] | None] = {}
        for number, values in records:
            if is_blank(values):
                continue
            self.empty = False
            self.header_row = number
            self.headers = [text(value) for value in values]
            for position, spelt in enumerate(self.headers):
                if key(spelt):
                    self.header.setdefault(key(spelt), (position, spelt))
            break

    def find(self, names: Names) -> tuple[int, str] | None:
        """(position, header as spelt) of the first of ``names`` the sheet has."""
        if names not in self._found:
            keys = (key(name) for name in _spellings(names))
            self._found[names] = next((self.header[found] for found in keys if found in self.header), None)
        return self._found[names]

    def column(self, names: Names) -> str | None:
        """The header of the column, as the file spells it; None when the sheet has none of ``names``."""
        found = self.find(names)
        return found[1] if found else None

    def has(self, *names: Names) -> bool:
        """Whether the sheet has any of these columns."""
        return any(self.find(spellings) for spellings in names)

    def problem(self, column: str, message: str) -> None:
        """A problem with the header line."""
        self.problems.add(self.header_row, column, message, sheet=self.name)

    def rows(self) -> Iterator["Row"]:
        """The rows below the header that hold anything, with their numbers in the file."""
        for number, values in self._records:
            if not is_blank(values):
                yield Row(self, number, values)


class Row:
    """One row of a ``Sheet``: its cells by column, and its problems named by its number and the column."""

    def __init__(self, sheet: Sheet, number: int, values: Sequence[Any]):
        self.sheet = sheet
        self.number = number
        self.values = values

    def raw(self, names: Names) -> Any:
        """The cell as read (None when the sheet has no such column, or the row stops before it)."""
        found = self.sheet.find(names)
        if found is None or found[0] >= len(self.values):
            return None
        return self.values[found[0]]

    def text(self, names: Names) -> str:
        return text(self.raw(names))

    def parse(self, parser: Callable[[Any], Any], names: Names, default: Any = None) -> Any:
        """The parsed value of the cell, ``default`` when empty; a bad value is a problem and gives ``default``."""
        raw = self.raw(names)
        if not text(raw):
            return default
        try:
            return parser(raw)
        except ValueError as exc:
            self.problem(self.sheet.column(names) or _spellings(names)[0], str(exc))
            return default

    def beyond_header(self) -> bool:
        """Whether the row holds anything to the right of the last header."""
        return not is_blank(self.values[len(self.sheet.headers) :])

    def problem(self, column: str, message: str) -> None:
        self.sheet.problems.add(self.number, column, message, sheet=self.sheet.name)
