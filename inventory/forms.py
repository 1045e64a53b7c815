"""Forms of the inventory pages: shapes only; the rules that span objects live in the services."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms

from inventory.models import AreaMapping
from portal.forms import PersonField


class AreaMappingForm(forms.Form):
    person = PersonField(datalist="mapping-people", label="Person whose area it is")
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
