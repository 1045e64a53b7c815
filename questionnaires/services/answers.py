"""Answers: cleaning a value per question kind, conditional questions, the autosaved draft, checks before submission.

Stored values (``Answer.value``, JSON), per ``QuestionKind``:

=============== ==================================================================
kind            value
=============== ==================================================================
text            a string, stripped, at most ``TEXT_MAX_LENGTH`` characters
long_text       a string, stripped, at most ``LONG_TEXT_MAX_LENGTH`` characters
yes_no          ``"yes"`` or ``"no"`` (from those words in any case, or booleans)
single_choice   one choice value, or ``"other"`` when the question allows other
multiple_choice a list of choice values (and ``"other"``), in the template's order; the choice ``"none"``
                ("None of these") stands alone
date            an ISO date string, ``YYYY-MM-DD``, not after today (the questionnaire asks what has happened)
number          a decimal as a string (``"12"``, ``"3.5"``): exact, no float rounding; never negative (the
                questionnaire counts and measures)
vm_list         no answer value: the rows are ``DeclaredVM`` (``vm_rows/``, ``services/declared_vms.py``)
=============== ==================================================================

An empty answer (``None``, ``""``, ``[]``) is stored as ``None``: it clears
the draft. ``Answer.other_text`` says what "other" is; it is kept only while
"other" is chosen.
"""

import datetime
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from portal.models import User
from portal.services.audit import audit_log
from questionnaires.choices import DECLARED_DISPOSITIONS, AssignmentStatus, CampaignStatus, Disposition, QuestionKind
from questionnaires.models import Answer, Assignment, DeclaredVM, Question
from questionnaires.permissions import assignment_may_edit

YES = "yes"
NO = "no"
# The value of the "other" option of a choice question that allows it.
OTHER_VALUE = "other"
# The value of a multiple choice's "None of these": chosen with anything else, the answer contradicts itself.
NONE_VALUE = "none"
TEXT_MAX_LENGTH = 500
LONG_TEXT_MAX_LENGTH = 10_000
OTHER_TEXT_MAX_LENGTH = 500  # Answer.other_text
# Numbers larger than this are typing accidents, not answers; the bound also keeps Decimal work small.
NUMBER_MAX_ABS = Decimal("1e15")
NUMBER_MAX_CHARS = 40
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Assignments in these states are with a reviewer: their answers are frozen until returned.
READ_ONLY_STATUSES = (AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED)
READ_ONLY_MESSAGE = "submitted answers are read-only until returned"


def _invalid(question: Question, detail: str, code: str) -> ValidationError:
    return ValidationError({question.key: [ValidationError(f"“{question.text}” {detail}", code=code)]})


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or (isinstance(raw, list | tuple) and not raw)


def _clean_text(question: Question, raw: Any, max_length: int) -> str:
    if not isinstance(raw, str):
        raise _invalid(question, "must be text", "invalid")
    value = raw.strip()
    if len(value) > max_length:
        raise _invalid(question, f"is too long: {len(value):,} characters, at most {max_length:,}", "max_length")
    return value


def _clean_yes_no(question: Question, raw: Any) -> str:
    if isinstance(raw, bool):
        return YES if raw else NO
    if isinstance(raw, str) and raw.strip().lower() in (YES, NO):
        return raw.strip().lower()
    raise _invalid(question, f"must be yes or no, not {raw!r}", "invalid_choice")


def _choice_values(question: Question) -> list[str]:
    values = [choice["value"] for choice in question.choices]
    if question.allow_other:
        values.append(OTHER_VALUE)
    return values


def _clean_choice(question: Question, raw: Any, allowed: list[str]) -> str:
    if not isinstance(raw, str):
        raise _invalid(question, f"must be one of its choices, not {raw!r}", "invalid_choice")
    value = raw.strip()
    if value not in allowed:
        raise _invalid(question, f"has no choice {value!r} (choices: {', '.join(allowed)})", "invalid_choice")
    return value


def _clean_multiple(question: Question, raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise _invalid(question, "must be a list of its choices", "invalid")
    allowed = _choice_values(question)
    chosen = {_clean_choice(question, item, allowed) for item in raw if not _is_empty(item)}
    if NONE_VALUE in chosen and len(chosen) > 1:
        labels = {choice["value"]: choice.get("label", choice["value"]) for choice in question.choices}
        others = ", ".join(f"“{labels.get(value, 'Other')}”" for value in allowed if value in chosen - {NONE_VALUE})
        raise _invalid(
            question, f"cannot be “{labels[NONE_VALUE]}” and {others} at once: untick one or the other", "contradiction"
        )
    return [value for value in allowed if value in chosen]


def _clean_date(question: Question, raw: Any) -> str:
    if isinstance(raw, datetime.datetime):
        raise _invalid(question, "must be a date without a time", "invalid")
    if isinstance(raw, datetime.date):
        return _date_not_ahead(question, raw)
    text = raw.strip() if isinstance(raw, str) else ""
    if not ISO_DATE.fullmatch(text):
        raise _invalid(question, f"must be a date written YYYY-MM-DD (e.g. 2024-03-31), not {raw!r}", "invalid_date")
    try:
        value = datetime.date.fromisoformat(text)
    except ValueError:
        raise _invalid(question, f"cannot be {text}: this date does not exist", "invalid_date") from None
    return _date_not_ahead(question, value)


def _date_not_ahead(question: Question, value: datetime.date) -> str:
    today = timezone.localdate()
    if value > today:
        raise _invalid(
            question, f"cannot be {value:%d %b %Y}: that is in the future (today is {today:%d %b %Y})", "future_date"
        )
    return value.isoformat()


def _clean_number(question: Question, raw: Any) -> str:
    if isinstance(raw, bool):
        raise _invalid(question, f"must be a number, not {raw!r}", "invalid_number")
    if isinstance(raw, int | float | Decimal):
        text = str(raw)
    elif isinstance(raw, str):
        text = raw.strip()
    else:
        raise _invalid(question, f"must be a number, not {raw!r}", "invalid_number")
    if len(text) > NUMBER_MAX_CHARS:
        raise _invalid(question, f"is too long a number ({len(text)} characters)", "invalid_number")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise _invalid(
            question, f"must be a number such as 12 or 3.5 (a point for decimals), not {raw!r}", "invalid_number"
        ) from None
    if not number.is_finite():
        raise _invalid(question, f"must be a finite number, not {raw!r}", "invalid_number")
    if abs(number) >= NUMBER_MAX_ABS:
        raise _invalid(question, f"is out of range ({text})", "invalid_number")
    if number < 0:
        raise _invalid(question, f"cannot be negative ({text})", "negative_number")
    if number == 0:
        return "0"
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


def answer_clean(question: Question, raw: Any) -> Any:
    """The value to store for ``raw`` (see the module docstring), or None for an empty answer.

    Raises ``ValidationError`` keyed by the question's key, its message naming the question.
    """
    if question.kind == QuestionKind.VM_LIST:
        raise _invalid(question, "is a VM list: its rows are saved with the list, not as an answer", "vm_list")
    if _is_empty(raw):
        return None
    match question.kind:
        case QuestionKind.TEXT:
            return _clean_text(question, raw, TEXT_MAX_LENGTH)
        case QuestionKind.LONG_TEXT:
            return _clean_text(question, raw, LONG_TEXT_MAX_LENGTH)
        case QuestionKind.YES_NO:
            return _clean_yes_no(question, raw)
        case QuestionKind.SINGLE_CHOICE:
            return _clean_choice(question, raw, _choice_values(question))
        case QuestionKind.MULTIPLE_CHOICE:
            return _clean_multiple(question, raw) or None
        case QuestionKind.DATE:
            return _clean_date(question, raw)
        case QuestionKind.NUMBER:
            return _clean_number(question, raw)
    raise _invalid(question, f"has an unknown kind {question.kind!r}", "invalid")


def _chose_other(value: Any) -> bool:
    return value == OTHER_VALUE or (isinstance(value, list) and OTHER_VALUE in value)


def _answer_value(answer: Any) -> Any:
    return answer.value if isinstance(answer, Answer) else answer


def question_is_visible(
    question: Question, answers_by_key: Mapping[str, Any], *, outside_keys: frozenset[str] = frozenset()
) -> bool:
    """True when the question is shown: it has no condition, or the question it depends on is shown and answered so.

    ``answers_by_key`` maps question keys to stored values (or ``Answer``
    rows). A condition on a question in ``outside_keys`` counts as met: that
    question belongs to a part of the questionnaire this assignment does not
    hold (a manager delegated only the VM list), so nobody here can answer it.
    Follows ``show_if_question``: select or prefetch it to spare the queries.
    """
    seen: set[int] = set()
    current = question
    while current.show_if_question_id is not None:
        if current.pk in seen:  # a cycle cannot be loaded from a file; do not loop on a hand-made one
            return False
        seen.add(current.pk)
        target = current.show_if_question
        if target.key in outside_keys:
            return True
        value = _answer_value(answers_by_key.get(target.key))
        if isinstance(value, list):
            if current.show_if_value not in value:
                return False
        elif value != current.show_if_value:
            return False
        current = target
    return True


def assignment_lock_for_edit(assignment: Assignment, user: User | None) -> Assignment:
    """Lock the assignment row and refuse edits that are not allowed; refresh the caller's instance from it.

    Refused (``ValidationError``) when the campaign is not active or the
    assignment is with its reviewer; ``PermissionDenied`` when ``user`` is
    neither the assignee's login nor the manager the part was delegated from
    (``assignment_may_edit``). ``user=None`` is a system job (demo, import).
    Call inside a transaction.
    """
    locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
    campaign = assignment.campaign
    campaign.refresh_from_db(fields=["status"])
    for name in ("status", "started_at", "submitted_at"):
        setattr(assignment, name, getattr(locked, name))
    if user is not None and not assignment_may_edit(assignment=assignment, user=user):
        raise PermissionDenied("only the assignee, or the manager who delegated the part, may change these answers")
    if campaign.status == CampaignStatus.CLOSED:
        raise ValidationError("the campaign is closed: its answers are frozen", code="campaign_closed")
    if campaign.status != CampaignStatus.ACTIVE:
        raise ValidationError("the campaign has not been launched", code="campaign_not_active")
    if locked.status in READ_ONLY_STATUSES:
        raise ValidationError(READ_ONLY_MESSAGE, code="read_only")
    return locked


def assignment_mark_started(assignment: Assignment) -> None:
    """not_started → in_progress, with ``started_at``; other states are left as they are."""
    if assignment.status != AssignmentStatus.NOT_STARTED:
        return
    assignment.status = AssignmentStatus.IN_PROGRESS
    assignment.started_at = timezone.now()
    assignment.save(update_fields=["status", "started_at"])


def assignment_question_check(assignment: Assignment, question: Question) -> None:
    """Refuse a question that is not part of the assignment (another version, or a section it does not hold)."""
    section = question.section
    if section.version_id != assignment.campaign.version_id:
        raise ValidationError(f"“{question.text}” is not a question of this campaign", code="wrong_question")
    section_ids = set(assignment.sections.values_list("id", flat=True))
    if section_ids and section.pk not in section_ids:
        raise ValidationError(f"“{question.text}” is in a part not assigned to you", code="wrong_question")


@transaction.atomic
def answer_save(
    *, assignment: Assignment, question: Question, raw: Any, other_text: str = "", user: User | None
) -> Answer:
    """Save one answer as a draft (autosave): an empty value clears it; the rest of the form may be incomplete.

    The assignment moves from not started to in progress; a changed answer writes one audit event (who, which
    question, from what to what, summarised). Refused while the
    campaign is not active or the assignment is submitted or accepted
    (``ValidationError``), and for anybody but the assignee (``PermissionDenied``).
    """
    assignment_lock_for_edit(assignment, user)
    assignment_question_check(assignment, question)
    value = answer_clean(question, raw)
    other = other_text.strip() if isinstance(other_text, str) and _chose_other(value) else ""
    if len(other) > OTHER_TEXT_MAX_LENGTH:
        raise _invalid(question, f"other: at most {OTHER_TEXT_MAX_LENGTH} characters ({len(other):,})", "max_length")
    previous = Answer.objects.filter(assignment=assignment, question=question).values("value", "other_text").first()
    answer, _ = Answer.objects.update_or_create(
        assignment=assignment, question=question, defaults={"value": value, "other_text": other}
    )
    assignment_mark_started(assignment)
    before = previous or {"value": None, "other_text": ""}
    if (before["value"], before["other_text"]) != (value, other):
        audit_log(
            action="answer.saved", actor=user, actor_label="system", obj=assignment,
            details={"question": question.key, "from": _audit_text(before["value"], before["other_text"]),
                     "to": _audit_text(value, other)},
        )
    return answer


# How much of an answer its audit event keeps: enough to read what changed, not a copy of every essay.
AUDIT_ANSWER_CHARS = 200


def _audit_text(value: Any, other: str) -> str | None:
    """An answer as its audit event summarises it: the value (a list joined), "other" with its text, cut short."""
    if value is None:
        return None
    text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
    if other:
        text += f" ({other})"
    return text if len(text) <= AUDIT_ANSWER_CHARS else text[: AUDIT_ANSWER_CHARS - 1] + "…"


def _format_rows(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"row {numbers[0]}"
    return "rows " + ", ".join(str(number) for number in numbers[:-1]) + f" and {numbers[-1]}"


# Pending rows named one by one up to this many; more are counted and named as ranges ("rows 8–310").
PENDING_ROWS_LISTED = 10


def _row_ranges(numbers: list[int], limit: int = 5) -> str:
    """Sorted row numbers as runs: "rows 8–310", "rows 2, 5–9 and 12–40"; after ``limit`` runs, "… and N more"."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    texts = [str(first) if first == last else f"{first}–{last}" for first, last in runs]
    if len(texts) > limit:
        return f"rows {', '.join(texts[:limit])}… and {len(texts) - limit} more"
    if len(texts) == 1:
        return f"rows {texts[0]}"
    return "rows " + ", ".join(texts[:-1]) + f" and {texts[-1]}"


class AnswerProblem(str):
    """One line of what stops a submission: its text (the string itself), and the question it is about, so that a
    page can link to the question and say what to do there (``todo``)."""

    question: Question
    todo: str

    def __new__(cls, question: Question, todo: str, *, colon: bool = False) -> "AnswerProblem":
        problem = super().__new__(cls, f"“{question.text}”{':' if colon else ''} {todo}")
        problem.question = question
        problem.todo = todo
        return problem


def assignment_answers_validate(assignment: Assignment) -> list[AnswerProblem]:
    """What stops the assignment being submitted, one line per question, in questionnaire order; empty when none.

    Every visible required question needs an answer; an "other" needs its
    text; a required VM list needs at least one row that counts as declared
    (confirmed, corrected or added), and no pre-filled row may be left to check.
    """
    section_ids = set(assignment.sections.values_list("id", flat=True))
    questions = list(
        Question.objects.filter(section__version_id=assignment.campaign.version_id)
        .select_related("section")
        .order_by("section__order", "order")
    )
    by_id = {question.pk: question for question in questions}
    for question in questions:  # fill the FK cache so visibility costs no query
        if question.show_if_question_id is not None:
            question.show_if_question = by_id[question.show_if_question_id]
    outside = frozenset(q.key for q in questions if section_ids and q.section_id not in section_ids)
    answers = {answer.question_id: answer for answer in assignment.answers.all()}
    values = {by_id[question_id].key: answer.value for question_id, answer in answers.items() if question_id in by_id}
    rows_by_question: dict[int, list[tuple[int, str]]] = {}
    for question_id, row, disposition in DeclaredVM.objects.filter(assignment=assignment).values_list(
        "question_id", "row", "disposition"
    ):
        rows_by_question.setdefault(question_id, []).append((row, disposition))

    problems: list[AnswerProblem] = []
    for question in questions:
        if question.key in outside or not question_is_visible(question, values, outside_keys=outside):
            continue
        if question.kind == QuestionKind.VM_LIST:
            rows = rows_by_question.get(question.pk, [])
            pending = sorted(row for row, disposition in rows if disposition == Disposition.PENDING)
            if len(pending) > PENDING_ROWS_LISTED:
                problems.append(AnswerProblem(
                    question, f"{len(pending):,} rows found by the scanners still to check "
                    f"({_row_ranges(pending)}): confirm, correct or disown each, or confirm them all at once",
                    colon=True,
                ))
            elif pending:
                problems.append(AnswerProblem(
                    question, f"{_format_rows(pending)} found by the scanners "
                    f"{'is' if len(pending) == 1 else 'are'} still to check: confirm, correct or disown each",
                    colon=True,
                ))
            counted = [row for row, disposition in rows if disposition in DECLARED_DISPOSITIONS]
            if question.required and not counted:
                problems.append(AnswerProblem(question, "needs at least one VM"))
            continue
        answer = answers.get(question.pk)
        if answer is None or _is_empty(answer.value):
            if question.required:
                problems.append(AnswerProblem(question, "needs an answer"))
            continue
        if _chose_other(answer.value) and not answer.other_text.strip():
            problems.append(AnswerProblem(question, "you chose other: say what", colon=True))
    return problems
