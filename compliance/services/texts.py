"""The one check of a text a person writes into the compliance records (justifications, reasons, plan sections).

Texts are stored as typed: HTML stays text and every page escapes it. A text is stripped, must not be empty when
required, and has a length limit so that a pasted 10 MB document is a form error, not a stored row.
"""

from django.core.exceptions import ValidationError

# A justification, a reason, a decision note: a few paragraphs.
STATEMENT_MAX_LENGTH = 5_000
# A section of the security plan: a few pages.
PLAN_SECTION_MAX_LENGTH = 20_000


def text_checked(value: str | None, *, field: str, required: bool, max_length: int = STATEMENT_MAX_LENGTH,
                 required_message: str = "This field is required.") -> str:
    """``value`` stripped; a ``ValidationError`` keyed by ``field`` when it is empty but required, or too long."""
    text = (value or "").strip()
    if required and not text:
        raise ValidationError({field: required_message})
    if len(text) > max_length:
        raise ValidationError({field: f"At most {max_length:,} characters (this one has {len(text):,})."})
    return text
