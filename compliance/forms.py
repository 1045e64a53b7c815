"""Forms of the compliance pages: a compliance officer assigns a control's owner and threshold; anybody who reads
control status picks the date to read it on."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms

from portal.forms import PersonField


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
