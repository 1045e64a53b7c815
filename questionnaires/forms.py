"""Forms of the questionnaire pages: shapes only; the rules that span objects live in the services."""

import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms
from django.utils import timezone

from portal.forms import PersonField
from questionnaires.choices import DataCategory, Resolution
from questionnaires.selectors import template_versions_launchable
from questionnaires.services.campaigns import MAX_CADENCE_DAYS, campaign_fields_problems
from questionnaires.services.follow_ups import NOTE_MAX_LENGTH, PURPOSE_MAX_LENGTH

# Days from today to the due date a new campaign's form suggests.
DEFAULT_DUE_IN_DAYS = 28
CASCADE_CHOICES = [
    ("yes", "Yes: assign everybody in the scope's subtree at launch"),
    ("no", "No: assign the head of the scope; each manager delegates to whom they choose"),
]


class CampaignForm(forms.Form):
    """A new campaign's settings, or a draft's. Every problem is named in one round: the service's checks
    (``campaign_fields_problems``) run on whatever fields the form could read."""

    name = forms.CharField(max_length=200, initial="VM discovery")
    version = forms.ModelChoiceField(
        queryset=template_versions_launchable(), label="Questionnaire", empty_label=None,
        help_text="A launched campaign keeps this version, even when the template changes later.",
    )
    scope = PersonField(
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

    def __init__(self, *args, submit_label: str = "Create the draft", **kwargs):
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
            Submit("create", submit_label),
        )

    def error_labels(self) -> list[str]:
        """The labels of the fields with an error, in the form's order, for the summary above it."""
        return [str(field.label) for field in self if field.errors]

    def clean(self):
        data = super().clean()
        checked = ("name", "version", "scope", "due_date", "reminder_every_days", "escalate_after_days")
        problems = campaign_fields_problems(**{key: data[key] for key in checked if data.get(key) is not None})
        for field, message in problems.items():
            if field not in self.errors:
                self.add_error(field, message)
        return data


class ReopenForm(forms.Form):
    due_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="New due date",
        help_text="Required when the old due date has passed.",
    )


class ItemIdsField(forms.Field):
    """The reconciliation items ticked on a page: their ids, as many checkboxes named alike post them."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        if any(not str(item).isdigit() for item in values):
            raise forms.ValidationError("Items are given by their ids.")
        return list(dict.fromkeys(int(item) for item in values))

    def validate(self, value) -> None:
        if not value:
            raise forms.ValidationError("Tick the items to answer first.")


class FollowUpAnswerForm(forms.Form):
    """An answer to one or many reconciliation items; which answers fit which item is the service's rule."""

    item = ItemIdsField(label="Items")
    resolution = forms.ChoiceField(choices=Resolution.choices, label="Answer")
    note = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea)
    vm = forms.IntegerField(required=False, min_value=1, label="The inventory VM it is")
    purpose = forms.CharField(required=False, max_length=PURPOSE_MAX_LENGTH, label="What it is for")
    data_categories = forms.MultipleChoiceField(
        required=False, choices=DataCategory.choices, widget=forms.CheckboxSelectMultiple, label="Data it handles"
    )


class FollowUpRouteForm(forms.Form):
    """Send ticked items to somebody else to answer. Rendered in the bulk form beside the answers, so the browser
    must not require a person to answer: the view does."""

    use_required_attribute = False
    item = ItemIdsField(label="Items")
    to_person = PersonField(datalist="route-people", label="Send to")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_person"].widget.attrs["class"] = "form-control form-control-sm"


class ReassignForm(forms.Form):
    """Give a part to somebody else, picked by name or e-mail with the people search."""

    to_person = PersonField(datalist="reassign-people", label="Give this part to")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_person"].widget.attrs["class"] = "form-control form-control-sm"
