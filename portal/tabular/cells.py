"""One rule for each kind of cell, whatever the input (docs/tabular.md): text, booleans, whole numbers, dates.

A cell comes as it was read: ``str`` from CSV, pasted text and the grid;
``str``, ``int``, ``float``, ``bool``, ``datetime`` (or ``date``, ``time``)
from xlsx. Each reader takes a cell that is not empty and returns its value,
or raises ``ValueError`` with a message that quotes the cell and says how to
write it.
"""

import calendar
import datetime
import re
from typing import Any

from openpyxl.utils.datetime import from_excel

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
MONTH_NUMBERS = {
    **{name.casefold(): number for number, name in enumerate(MONTHS, start=1)},
    **{name[:3].casefold(): number for number, name in enumerate(MONTHS, start=1)},
    "sept": 9,
}
DATE_HELP = "YYYY-MM-DD (2024-03-05), YYYY/MM/DD, D.M.YYYY or 5 Mar 2024"
TIME_HELP = "then the time if any (14:30, 14:30:15 or 2:30 PM)"
# The most a spreadsheet cell holds (Excel's limit): a longer cell was not typed by anybody.
MAX_CELL_CHARACTERS = 32_767
TRUE_TEXTS = ("true", "yes", "1")
FALSE_TEXTS = ("false", "no", "0")
# Excel's serial numbers of 1 January 1970 and of the day after 31 December 9999. A smaller number in a date
# cell is more likely a year or a count typed there (2024 would be 16 July 1905) than a date.
EXCEL_SERIAL_FIRST = 25_569
EXCEL_SERIAL_END = 2_958_466

# Thousands in groups of three, one separator throughout: 4,096 / 4.096 / 4 096 / 4'096.
GROUPED_DIGITS = re.compile(r"\d{1,3}([,. \u00a0\u202f'])\d{3}(?:\1\d{3})*")
# A time after the date: 24-hour, or 12-hour with AM/PM; an offset from UTC only in ISO 8601's spelling.
TIME_OF_DAY = re.compile(
    r"(?:T| )(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,6}))?)?"
    r"(?: ?(?P<half>[ap])\.?m\.?)?(?P<offset>z| ?[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
# Dates with only one reading: year first, day first with dots, or the month named.
DATE_FORMS = (
    re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"),
    re.compile(r"(?P<year>\d{4})/(?P<month>\d{1,2})/(?P<day>\d{1,2})"),
    re.compile(r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})"),
    re.compile(r"(?P<day>\d{1,2})[ -](?P<month>[a-z]{3,9})\.?[ -](?P<year>\d{4})", re.IGNORECASE),
    re.compile(r"(?P<month>[a-z]{3,9})\.? (?P<day>\d{1,2}),? (?P<year>\d{4})", re.IGNORECASE),
)
# D/M/YYYY (most of the world) or M/D/YYYY (the United States): read the one way that is a date.
SLASHED_DATE = re.compile(r"(?P<first>\d{1,2})/(?P<second>\d{1,2})/(?P<year>\d{4})")


# A cell quoted in a message is cut to this many characters: a message names the cell, it does not repeat it.
QUOTED_LENGTH = 60


def quoted(written: str) -> str:
    """A cell as a message quotes it: 'web01', or its start and its length when it is long."""
    if len(written) <= QUOTED_LENGTH:
        return repr(written)
    return f"{written[:QUOTED_LENGTH]!r}… ({len(written):,} characters)"


def key(text: str) -> str:
    """A header or a spelling reduced to its letters and digits in one case: "Hyper-V" and "hyper v" are "hyperv"."""
    return "".join(character for character in text.casefold() if character.isalnum())


def text(raw: Any) -> str:
    """A cell as a person reads it, without the spaces around it: "" when empty, 4 for 4.0, TRUE or FALSE for a
    boolean, 2024-03-05 for a date (with its time, when it has one)."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime.datetime):
        if raw.timetz() == datetime.time():
            return raw.date().isoformat()
        return raw.isoformat(sep=" ")
    if isinstance(raw, datetime.date | datetime.time):
        return raw.isoformat()
    return str(raw).strip()


def is_blank(cells: Any) -> bool:
    """No cell holds anything (an empty list, a grid's empty multiple choice, is blank too)."""
    return all(is_blank(cell) if isinstance(cell, list | tuple) else not text(cell) for cell in cells)


def too_long(cells: Any) -> tuple[int, str] | None:
    """The first cell longer than a spreadsheet cell holds, as (its position, the problem); None when there is none."""
    for position, cell in enumerate(cells):
        if isinstance(cell, str) and len(cell) > MAX_CELL_CHARACTERS:
            return position, f"holds {len(cell):,} characters; a cell holds at most {MAX_CELL_CHARACTERS:,}"
    return None


def boolean(raw: Any) -> bool:
    """True / False, yes / no or 1 / 0 in any case, or a boolean or 0 / 1 cell."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    if text(raw).casefold() in TRUE_TEXTS:
        return True
    if text(raw).casefold() in FALSE_TEXTS:
        return False
    raise ValueError(f"{quoted(text(raw))} is not True or False")


def whole_number(raw: Any) -> int:
    """0 or more; thousands grouped by one separator (4,096, 4.096, 4 096) and a zero fraction (4096.0) are read."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, float) and raw.is_integer() and raw >= 0:
        return int(raw)
    written = text(raw)
    digits = None
    if re.fullmatch(r"\d+", written):
        digits = written
    elif GROUPED_DIGITS.fullmatch(written):
        digits = re.sub(r"\D", "", written)
    elif re.fullmatch(r"\d+[.,]0+", written):
        digits = re.split(r"[.,]", written)[0]
    try:
        return int(digits or "")
    except ValueError:  # not digits, or more digits than Python converts
        raise ValueError(f"{quoted(written)} is not a whole number (0 or more)") from None


def date(raw: Any) -> datetime.date:
    """A date cell, an Excel serial number, or a date written as ``DATE_HELP`` says; a time after it is dropped."""
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    if _is_number(raw):
        return _excel_serial(raw).date()
    written = " ".join(text(raw).split())
    parsed = _date_and_time(written)
    if parsed is None:
        raise ValueError(f"{quoted(written)} is not a date: write it as {DATE_HELP}")
    return parsed[0]


def datetime_utc(raw: Any) -> datetime.datetime:
    """A date and time in UTC: a date cell, an Excel serial number, or text as ``date`` reads it with the time of
    day after it (none is midnight). A time without an offset from UTC is taken as UTC."""
    if isinstance(raw, datetime.datetime):
        value = raw
    elif isinstance(raw, datetime.date):
        value = datetime.datetime.combine(raw, datetime.time())
    elif _is_number(raw):
        value = _excel_serial(raw)
    else:
        written = " ".join(text(raw).split())
        parsed = _date_and_time(written)
        if parsed is None:
            raise ValueError(f"{quoted(written)} is not a date and time: write it as {DATE_HELP}, {TIME_HELP}")
        value = datetime.datetime.combine(*parsed)
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def _is_number(raw: Any) -> bool:
    return isinstance(raw, int | float) and not isinstance(raw, bool)


def _excel_serial(raw: int | float) -> datetime.datetime:
    if not EXCEL_SERIAL_FIRST <= raw < EXCEL_SERIAL_END:
        raise ValueError(
            f"{quoted(text(raw))} is a number, not a date: format the cell as a date, or write {DATE_HELP}"
        )
    return from_excel(raw)


def _date_and_time(written: str) -> tuple[datetime.date, datetime.time] | None:
    """The date and the time of day (midnight when none is written) of a text, None when it is not a date.

    Raises ValueError when it has the shape of a date but names none (2024-02-30), or two (3/5/2024).
    """
    clock = TIME_OF_DAY.search(written)
    if clock is not None and clock.end() != len(written):
        clock = None
    day_part = written[: clock.start()] if clock else written
    half = clock["half"].casefold() if clock and clock["half"] else ""
    day = _calendar_date(written, day_part, us_first=bool(half))
    if day is None:
        return None
    return day, _time_of_day(written, clock, half) if clock else datetime.time()


def _calendar_date(written: str, day_part: str, *, us_first: bool) -> datetime.date | None:
    for form in DATE_FORMS:
        match = form.fullmatch(day_part)
        if match is None:
            continue
        month = MONTH_NUMBERS.get(match["month"].casefold()) if match["month"].isalpha() else int(match["month"])
        if month is None:
            return None
        return _existing(written, int(match["year"]), month, int(match["day"]))
    match = SLASHED_DATE.fullmatch(day_part)
    if match is None:
        return None
    first, second, year = int(match["first"]), int(match["second"]), int(match["year"])
    readings = {(year, second, first), (year, first, second)}  # D/M/YYYY, M/D/YYYY
    dates = {_date_or_none(*reading) for reading in readings} - {None}
    if len(dates) > 1 and us_first:
        return datetime.date(year, first, second)
    if len(dates) > 1:
        raise ValueError(f"{quoted(written)} is ambiguous (D/M/YYYY or M/D/YYYY?): write it as {DATE_HELP}")
    if dates:
        return dates.pop()
    months = [reading for reading in readings if 1 <= reading[1] <= 12]
    reason = _why_not(*months[0]) if months else f"there is no month {' or '.join(sorted({str(first), str(second)}))}"
    raise ValueError(f"{quoted(written)} is not a date that exists ({reason})")


def _existing(written: str, year: int, month: int, day: int) -> datetime.date:
    value = _date_or_none(year, month, day)
    if value is None:
        raise ValueError(f"{quoted(written)} is not a date that exists ({_why_not(year, month, day)})")
    return value


def _date_or_none(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _why_not(year: int, month: int, day: int) -> str:
    if year < 1:
        return "there is no year 0"
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    return f"{MONTHS[month - 1]} {year} has {calendar.monthrange(year, month)[1]} days"


def _time_of_day(written: str, clock: re.Match, half: str) -> datetime.time:
    hour, minute, second = int(clock["hour"]), int(clock["minute"]), int(clock["second"] or 0)
    if half:
        hour = -1 if not 1 <= hour <= 12 else hour % 12 + (12 if half == "p" else 0)
    offset = clock["offset"]
    try:
        zone = _utc_offset(offset.strip()) if offset else None
        return datetime.time(hour, minute, second, int((clock["fraction"] or "0").ljust(6, "0")), tzinfo=zone)
    except ValueError:
        raise ValueError(f"{quoted(written)} is not a time of day that exists") from None


def _utc_offset(offset: str) -> datetime.timezone:
    if offset.casefold() == "z":
        return datetime.UTC
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if minutes > 59:
        raise ValueError(offset)
    sign = -1 if offset[0] == "-" else 1
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
