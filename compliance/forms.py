"""Forms of the compliance pages: a compliance officer assigns a control's owner and threshold; anybody who reads
control status picks the date to read it on; packs, samples, grants and evidence requests. Shapes and single
fields only; rules across objects live in the services."""

import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms

from compliance.choices import FrameworkKind
from compliance.models import Framework
from compliance.services.packs import DEFAULT_SAMPLE_SIZE
from compliance.services.sampling import SAMPLE_SIZE_MAX, SEED_BOUND
from portal.forms import PersonField
from portal.models import User

DATE = forms.DateInput(attrs={"type": "date"})


class OptionalPersonField(PersonField):
    """A person field that may be left empty: empty is nobody."""

    def clean(self, value):
        return super().clean(value) if (value or "").strip() else None


class ControlEditForm(forms.Form):
    owner = OptionalPersonField(datalist="control-owner-people", label="Owner", required=False,
                        help_text="The person who operates and tests the control. Leave empty for nobody yet.")
    threshold = forms.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)

    def __init__(self, *args, automated: bool, unit: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if automated:
            self.fields["threshold"].required = True
            self.fields["threshold"].help_text = f"In the metric's unit ({unit})."
        else:
            del self.fields["threshold"]
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.layout = Layout(
            Div(
                Div(Field("owner"), HTML('<datalist id="control-owner-people"></datalist>'), css_class="col-md-6"),
                Div("threshold", css_class="col-md-3") if automated else HTML(""),
                Div(Submit("save", "Save", css_class="mt-md-4"), css_class="col-md-3 pt-md-2"),
                css_class="row",
            ),
        )


class StatusDateForm(forms.Form):
    """``?on=YYYY-MM-DD``: the status as the evaluations stood at the end of that day."""

    on = forms.DateField(required=False, label="Status on", widget=forms.DateInput(attrs={"type": "date"}))


class PackRequestForm(forms.Form):
    framework = forms.ModelChoiceField(Framework.objects.filter(kind=FrameworkKind.REGULATION).order_by("name"),
                                       to_field_name="slug")
    period_start = forms.DateField(widget=DATE)
    period_end = forms.DateField(widget=DATE)
    as_of = forms.DateField(widget=DATE, required=False, help_text="Empty: the end of the period.")
    sample_size = forms.IntegerField(min_value=1, max_value=SAMPLE_SIZE_MAX, initial=DEFAULT_SAMPLE_SIZE)

    def clean(self):
        data = super().clean()
        if data.get("period_start") and data.get("period_end") and data["period_start"] > data["period_end"]:
            self.add_error("period_end", "The end is before the start.")
        return data


class SampleForm(forms.Form):
    size = forms.IntegerField(min_value=1, max_value=SAMPLE_SIZE_MAX, initial=DEFAULT_SAMPLE_SIZE)
    seed = forms.IntegerField(min_value=0, max_value=SEED_BOUND - 1, required=False,
                              help_text="Empty: a new random seed. The same seed draws the same VMs again.")


class GrantForm(forms.Form):
    auditor = forms.ModelChoiceField(User.objects.none(), to_field_name="username")
    framework = forms.ModelChoiceField(Framework.objects.filter(kind=FrameworkKind.REGULATION).order_by("name"),
                                       to_field_name="slug")

    def __init__(self, *args, auditors=None, **kwargs):
        super().__init__(*args, **kwargs)
        if auditors is not None:
            self.fields["auditor"].queryset = auditors


class EvidenceRequestForm(forms.Form):
    framework = forms.ModelChoiceField(Framework.objects.none(), to_field_name="slug")
    control = forms.CharField(max_length=64, required=False, help_text="A citation of the framework, e.g. 164.312(b).")
    vm = forms.CharField(max_length=255, required=False, label="VM", help_text="Or a VM's name.")
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000)
    due_date = forms.DateField(widget=DATE, initial=lambda: datetime.date.today() + datetime.timedelta(days=14))

    def __init__(self, *args, frameworks=None, **kwargs):
        super().__init__(*args, **kwargs)
        if frameworks is not None:
            self.fields["framework"].queryset = frameworks


class AnswerForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000)
    file = forms.FileField(required=False)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("ask_again", "Ask again")])
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=10_000)


class PeriodForm(forms.Form):
    """``?start=YYYY-MM-DD&end=YYYY-MM-DD`` of an export over a period (default: the year so far)."""

    start = forms.DateField(required=False)
    end = forms.DateField(required=False)

    def clean(self):
        data = super().clean()
        today = datetime.date.today()
        data["start"] = data.get("start") or today.replace(month=1, day=1)
        data["end"] = data.get("end") or today
        if data["start"] > data["end"]:
            self.add_error("end", "The end is before the start.")
        return data
