"""Forms of the inventory pages: shapes only; the rules that span objects live in the services (a source's
settings in services/sources.py)."""

import json

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms

from inventory.choices import DataCategory, Decision, Environment
from inventory.models import AreaMapping, Source
from inventory.services.approvals import SIZE_LIMITS, SUPPORT_TEAMS, TEXT_LIMITS
from inventory.services.sources import (
    HOST_MAX_LENGTH,
    MISSING_SCANS_RANGE,
    NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    USER_MAX_LENGTH,
    vcenter_host_problem,
)
from portal.forms import PersonField, person_from_text


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


class FindingBulkForm(forms.Form):
    """What a security admin does to the findings ticked in the queue (or to one, on its page)."""

    ACTIONS = [("acknowledge", "Acknowledge"), ("except", "Except until a date"), ("assign", "Assign")]

    action = forms.ChoiceField(choices=ACTIONS)
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), error_messages={
        "required": "Tick at least one finding."})
    until = forms.DateField(required=False, label="Excepted until", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(required=False, max_length=1000, label="Reason for the exception")
    person = forms.CharField(max_length=300, required=False, label="Assign to",
                             help_text="A name or e-mail; empty to unassign.")

    def __init__(self, *args, ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ids"].choices = [(pk, pk) for pk in ids]

    def clean(self):
        data = super().clean()
        if data.get("action") == "except" and not data.get("until"):
            self.add_error("until", "Give the date the exception ends.")
        if data.get("action") == "except" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why the exception is granted.")
        if data.get("action") == "assign":
            text = (data.get("person") or "").strip()
            try:
                data["person"] = person_from_text(text) if text else None
            except forms.ValidationError as error:
                self.add_error("person", error)
        else:
            data["person"] = None
        return data


class JSONTextField(forms.CharField):
    """A JSON object typed in a textarea: a syntax error is a form error naming the line."""

    widget = forms.Textarea(attrs={"rows": 5, "class": "font-monospace", "spellcheck": "false"})

    def prepare_value(self, value):
        return value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True)

    def to_python(self, value):
        text = super().to_python(value) or "{}"
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            message = f"Not valid JSON: line {error.lineno}, column {error.colno}: {error.msg}"
            raise forms.ValidationError(message) from error
        if not isinstance(parsed, dict):
            raise forms.ValidationError("Must be a JSON object: {...}.")
        return parsed


class PolicyForm(forms.Form):
    enabled = forms.BooleanField(required=False)
    config = JSONTextField(label="Settings", max_length=20_000, help_text="Per kind: days, grace_days, minimums.")
    scope = JSONTextField(max_length=20_000, required=False,
                          help_text='Empty for the whole estate; else sources, clusters, folders, '
                                    'custom_attributes, e.g. {"clusters": ["Prod"]}.')
    actions = JSONTextField(max_length=20_000, required=False,
                            help_text='notify: ["owner", "chain", "security_admins"]; tag: true; '
                                      'power_off: {"enabled": true}; upgrade_tools: {"enabled", "window"}.')
    note = forms.CharField(max_length=300, required=False, help_text="Why the change (kept with the version).")


class BaselineImportForm(forms.Form):
    name = forms.CharField(max_length=100, required=False,
                           help_text="The baseline to create or replace; empty: the name in the file.")
    file = forms.FileField(help_text="YAML (name, description, data_categories, rules) or CSV with a header "
                                     "key,comparison,expected,absent_means,source.")
class DeploymentRequestForm(forms.Form):
    """What a deployment request asks. Shapes here; the rules across fields (a contact for each engaged team, the
    end after the start) in ``services/approvals.py``, whose errors the page shows on the same fields."""

    purpose = forms.CharField(max_length=TEXT_LIMITS["purpose"], help_text="What the VM is for, in a line.")
    description = forms.CharField(
        max_length=TEXT_LIMITS["description"], required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What it runs, who uses it, why it is needed.",
    )
    environment = forms.ChoiceField(choices=Environment.choices)
    owner = PersonField(datalist="request-owners", label="Owner", help_text="Who answers for the VM once it runs.")
    data_categories = forms.MultipleChoiceField(
        choices=DataCategory.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Data the VM will hold: ePHI brings it under HIPAA, financial reporting under SOX.",
    )
    target_datacenter = forms.CharField(max_length=TEXT_LIMITS["target_datacenter"], required=False,
                                        label="Datacenter")
    target_cluster = forms.CharField(max_length=TEXT_LIMITS["target_cluster"], required=False, label="Cluster")
    vcpu = forms.IntegerField(min_value=1, max_value=SIZE_LIMITS["vcpu"], label="vCPUs")
    memory_gb = forms.IntegerField(min_value=1, max_value=SIZE_LIMITS["memory_gb"], label="Memory (GB)")
    disk_gb = forms.IntegerField(min_value=1, max_value=SIZE_LIMITS["disk_gb"], label="Disk (GB)")
    os = forms.CharField(max_length=TEXT_LIMITS["os"], label="Operating system")
    backup_engaged = forms.BooleanField(required=False, label="Backup team engaged")
    backup_contact = forms.CharField(max_length=TEXT_LIMITS["backup_contact"], required=False,
                                 label="Backup contact")
    monitoring_engaged = forms.BooleanField(required=False, label="Monitoring team engaged")
    monitoring_contact = forms.CharField(max_length=TEXT_LIMITS["monitoring_contact"], required=False,
                                         label="Monitoring contact")
    patching_engaged = forms.BooleanField(required=False, label="Patching team engaged")
    patching_contact = forms.CharField(max_length=TEXT_LIMITS["patching_contact"], required=False,
                                 label="Patching contact")
    security_engaged = forms.BooleanField(required=False, label="Security team engaged")
    security_contact = forms.CharField(max_length=TEXT_LIMITS["security_contact"], required=False,
                                 label="Security contact")
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                               help_text="When the VM is to be decommissioned; its owner is reminded before.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "post"
        self.helper.form_tag = False
        teams = [
            Div(Div(Field(f"{team}_engaged"), css_class="col-md-5 pt-md-4"),
                Div(f"{team}_contact", css_class="col-md-7"), css_class="row")
            for team in SUPPORT_TEAMS
        ]
        self.helper.layout = Layout(
            HTML('<h2 class="h6 text-secondary mt-2">What and who</h2>'),
            "purpose", "description",
            Div(Div("environment", css_class="col-md-4"),
                Div(Field("owner"), HTML('<datalist id="request-owners"></datalist>'), css_class="col-md-8"),
                css_class="row"),
            "data_categories",
            HTML('<h2 class="h6 text-secondary mt-3">Where and how big</h2>'),
            Div(Div("target_datacenter", css_class="col-md-6"), Div("target_cluster", css_class="col-md-6"),
                css_class="row"),
            Div(Div("vcpu", css_class="col-md-3"), Div("memory_gb", css_class="col-md-3"),
                Div("disk_gb", css_class="col-md-3"), Div("os", css_class="col-md-3"), css_class="row"),
            HTML('<h2 class="h6 text-secondary mt-3">Support teams engaged</h2>'),
            *teams,
            HTML('<h2 class="h6 text-secondary mt-3">When</h2>'),
            Div(Div("start_date", css_class="col-md-6"), Div("end_date", css_class="col-md-6"), css_class="row"),
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", f"Ends ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d}).")
        return data

    def request_values(self) -> dict:
        """The cleaned values as the service takes them (the owner apart)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "owner"}


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.HiddenInput)
    comment = forms.CharField(max_length=TEXT_LIMITS["description"], required=False,
                              widget=forms.Textarea(attrs={"rows": 2}), help_text="Required to reject.")


class LinkVMForm(forms.Form):
    vm = forms.IntegerField(min_value=1, label="VM id", help_text="The internal id shown on the VM's page.")
