"""What is wrong with an input, and where: the sheet, the row and the column a person fixes."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Numbering(StrEnum):
    """How a problem names its row, in the words of the input it comes from."""

    ROW = "row {}"  # a sheet's row as Excel numbers it, or a grid's row as the page does
    LINE = "line {}"  # the line of a text file where the record begins, as a text editor numbers it
    # The VM list shows its own grid rows beside problems of an upload: an upload says whose numbers it uses.
    FILE_LINE = "line {} of the file"
    SHEET_ROW = "row {} of the sheet"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing to fix. ``row`` 0 is the sheet (or, without a sheet, the input) as a whole; ``column`` is the
    column as the input spells it, or empty for a whole row."""

    sheet: str
    row: int
    column: str
    message: str
    numbering: Numbering = Numbering.ROW

    def text(self, labels: Mapping[str, str] | None = None) -> str:
        """The problem as a person reads it: "vInfo row 3, CPUs: …"; ``labels`` renames columns ("Created on")."""
        place = " ".join(part for part in (self.sheet, self.numbering.format(self.row) if self.row else "") if part)
        column = (labels or {}).get(self.column, self.column)
        where = ", ".join(part for part in (place, column) if part)
        return f"{where}: {self.message}" if where else self.message

    def __str__(self) -> str:
        return self.text()


class Problems(list[Problem]):
    """The problems of one input, collected as it is read, each numbered as that input numbers its rows."""

    def __init__(self, numbering: Numbering = Numbering.ROW):
        super().__init__()
        self.numbering = numbering

    def add(self, row: int, column: str, message: str, *, sheet: str = "") -> None:
        self.append(Problem(sheet, row, column, message, self.numbering))


class ImportRefused(Exception):
    """A file refused whole: every problem found in it, sorted; nothing was written."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s); nothing was imported")
