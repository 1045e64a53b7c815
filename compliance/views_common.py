"""What the compliance pages share: putting a service's refusal on a form, and a list's CSV / xlsx export."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms import Form

from portal.exports import Export, export_csv_response, export_xlsx_response


def form_refused(form: Form, error: ValidationError) -> None:
    """A service's ValidationError on the form: on its field when the form has it, else above the form."""
    messages = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
    for field, texts in messages.items():
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


def export_response(export: Export, kind: str):
    """The export as ``csv`` or ``xlsx``."""
    return export_xlsx_response(export) if kind == "xlsx" else export_csv_response(export)
