"""Forms of the inventory pages: shapes only; the rules that span objects live in the services (a source's
settings in services/sources.py)."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms

from inventory.models import AreaMapping, Source
from inventory.services.sources import (
    HOST_MAX_LENGTH,
    MISSING_SCANS_RANGE,
    NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    USER_MAX_LENGTH,
    vcenter_host_problem,
)
from portal.forms import PersonField


class VCenterSourceForm(forms.Form):
    """A vCenter / ESXi source's settings. The password is write-only: never rendered back into the page."""

    name = forms.CharField(max_length=NAME_MAX_LENGTH, help_text="How the portal names this source.")
    host = forms.CharField(
        max_length=HOST_MAX_LENGTH, help_text="Host name or IP address of the vCenter or ESXi, without https://.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    port = forms.IntegerField(min_value=1, max_value=65535, initial=443)
    username = forms.CharField(
        max_length=USER_MAX_LENGTH, label="User", help_text="A read-only account is enough to scan.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    password = forms.CharField(
        max_length=PASSWORD_MAX_LENGTH, strip=False,
        # new-password: the browser must not fill in the portal login it remembers.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    use_http = forms.BooleanField(required=False, label="Plain HTTP (a lab or a simulator only)")
    verify_tls = forms.BooleanField(
        required=False, initial=True, label="Verify the TLS certificate",
        help_text="Turn off only for a lab vCenter with a self-signed certificate.",
    )
    missing_scans_before_removed = forms.IntegerField(
        min_value=MISSING_SCANS_RANGE.start, max_value=MISSING_SCANS_RANGE.stop - 1, initial=3,
        label="Missing scans before removed",
        help_text="Complete scans a VM may be missing from before it counts as removed.",
    )
    enabled = forms.BooleanField(
        required=False, initial=True, help_text="A disabled source is not scanned by the schedule.",
    )

    def __init__(self, *args, source: Source | None = None, **kwargs):
        if source is not None:
            stored = {field: getattr(source, field) for field in self.declared_fields if field != "password"}
            kwargs["initial"] = {**stored, **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)
        self.source = source
        if source is not None:
            self.fields["password"].required = False
            self.fields["password"].help_text = (
                "Stored encrypted and never shown. Leave empty to keep it; type a new one to replace it."
            )

    def clean_host(self) -> str:
        host = self.cleaned_data["host"]
        if problem := vcenter_host_problem(host):
            raise forms.ValidationError(problem)
        return host


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
