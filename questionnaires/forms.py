"""Forms of the questionnaire pages: shapes only; the rules that span objects live in the services."""

import datetime
import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms
from django.urls import reverse_lazy
from django.utils import timezone

from portal.models import Person
from questionnaires.models import AreaMapping
from questionnaires.selectors import template_versions_launchable
from questionnaires.services.campaigns import MAX_CADENCE_DAYS

# Days from today to the due date a new campaign's form suggests.
DEFAULT_DUE_IN_DAYS = 28
CASCADE_CHOICES = [
    ("yes", "Yes: assign everybody in the scope's subtree at launch"),
    ("no", "No: assign the head of the scope; each manager delegates to whom they choose"),
]


def _person_by_email(value: str) -> Person:
    """An active person from an e-mail, or from "Name <e-mail>" as the search list offers it."""
    text = (value or "").strip()
    match = re.search(r"<([^>]+)>\s*$", text)
    email = (match.group(1) if match else text).strip().lower()
    person = Person.objects.filter(email=email, active=True).first()
    if person is None:
        raise forms.ValidationError(f"Nobody active has the e-mail {email!r}: type a name and pick from the list.")
    return person


class PersonEmailField(forms.CharField):
    """A person chosen by e-mail, with suggestions from the people search as the user types."""

    def __init__(self, *, datalist: str, **kwargs):
        super().__init__(max_length=300, **kwargs)
        self.widget.attrs.update(
            {
                "list": datalist,
                "autocomplete": "off",
                "placeholder": "Type a name or e-mail",
                "hx-get": reverse_lazy("questionnaires:person_search"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": f"#{datalist}",
                "hx-swap": "innerHTML",
            }
        )

    def clean(self, value):
        return _person_by_email(super().clean(value))


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200, initial="VM discovery")
    version = forms.ModelChoiceField(
        queryset=template_versions_launchable(), label="Questionnaire", empty_label=None,
        help_text="A launched campaign keeps this version, even when the template changes later.",
    )
    scope = PersonEmailField(
        datalist="scope-people", label="Scope: the head of the subtree asked",
        help_text="This person and, depending on the cascade, everybody below them is asked.",
    )
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    reminder_every_days = forms.IntegerField(
        min_value=0, max_value=MAX_CADENCE_DAYS, initial=7, label="Reminder every (days)",
        help_text="Reminders before the due date; 0 sends none.",
    )
    escalate_after_days = forms.IntegerField(
        min_value=1, max_value=MAX_CADENCE_DAYS, initial=3, label="Escalate after (days late)",
        help_text="Then the assignee's manager is told, and on up the chain after each further delay.",
    )
    cascade = forms.TypedChoiceField(
        choices=CASCADE_CHOICES, coerce=lambda value: value == "yes", initial="yes", widget=forms.RadioSelect,
        label="Cascade",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["due_date"].initial = timezone.localdate() + datetime.timedelta(days=DEFAULT_DUE_IN_DAYS)
        self.fields["version"].label_from_instance = lambda version: f"{version.template.name} v{version.number}"
        self.fields["version"].initial = self.fields["version"].queryset.first()
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            "name",
            "version",
            Field("scope"),
            HTML('<datalist id="scope-people"></datalist>'),
            Div(
                Div("due_date", css_class="col-md-4"),
                Div("reminder_every_days", css_class="col-md-4"),
                Div("escalate_after_days", css_class="col-md-4"),
                css_class="row",
            ),
            "cascade",
            Submit("create", "Create the draft"),
        )


class AreaMappingForm(forms.Form):
    person = PersonEmailField(datalist="mapping-people", label="Person whose area it is")
    scope = forms.ChoiceField(choices=AreaMapping.Scope.choices)
    pattern = forms.CharField(
        max_length=255, help_text="A cluster or resource pool name, or the start of a folder path (any case)."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            Div(
                Div(Field("person"), HTML('<datalist id="mapping-people"></datalist>'), css_class="col-md-5"),
                Div("scope", css_class="col-md-2"),
                Div("pattern", css_class="col-md-3"),
                Div(Submit("add", "Add the mapping", css_class="mt-md-4"), css_class="col-md-2 pt-md-2"),
                css_class="row",
            ),
        )


class ReopenForm(forms.Form):
    due_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="New due date",
        help_text="Required when the old due date has passed.",
    )
