"""Forms of the compliance pages: shapes only. The rules (who decides, which text an outcome needs, who may
approve) live in the services, which name the field a refusal is about; the views put that on the form. A
compliance officer assigns a control's owner and threshold; anybody who reads control status picks the date to
read it on; packs, samples, grants and evidence requests."""

import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Submit
from django import forms
from django.conf import settings

from compliance.choices import ControlTestStatus, DecisionOutcome, FrameworkKind
from compliance.evidence_files import ALLOWED_TEXT, ALLOWED_TYPES
from compliance.models import Control, Framework, Requirement
from compliance.selectors import latest_versions
from compliance.services.attestations import RESULTS
from compliance.services.packs import DEFAULT_SAMPLE_SIZE
from compliance.services.plans import PLAN_SECTIONS, SECTION_FIELDS
from compliance.services.sampling import SAMPLE_SIZE_MAX, SEED_BOUND
from compliance.services.texts import PLAN_SECTION_MAX_LENGTH, STATEMENT_MAX_LENGTH
from portal.forms import PersonField
from portal.models import Person, User

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


EVIDENCE_ACCEPT = ",".join(f".{extension}" for extension in ALLOWED_TYPES)
APPLICABLE_CHOICES = [("yes", "Applicable"), ("no", "Not applicable")]


def _statement(label: str, help_text: str = "", rows: int = 4) -> forms.CharField:
    return forms.CharField(
        label=label, required=False, max_length=STATEMENT_MAX_LENGTH, help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


class ApplicabilityForm(forms.Form):
    applicable = forms.ChoiceField(choices=APPLICABLE_CHOICES, widget=forms.RadioSelect)
    justification = _statement("Justification", "Required when the requirement does not apply: say why.")


class AddressableDecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=DecisionOutcome.choices, widget=forms.RadioSelect, label="Decision")
    alternative_measure = _statement(
        "Equivalent alternative measure", "Required for an alternative: which measure, and how it is equivalent."
    )
    rationale = _statement(
        "Why it is not reasonable and appropriate", "Required for that decision: the assessment behind it."
    )


class PlanVersionForm(forms.Form):
    """A new version of the security plan: every section, what changed, the next review and who signs it off."""

    change_summary = _statement("What changed, and why", "The change control record of this version.", rows=3)
    review_due_on = forms.DateField(label="Next review", widget=forms.DateInput(attrs={"type": "date"}))
    stakeholders = forms.ModelMultipleChoiceField(
        queryset=Person.objects.none(), widget=forms.CheckboxSelectMultiple,
        help_text="The people (with a login) whose sign-off puts this version in force.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for section in PLAN_SECTIONS:
            self.fields[section.field] = forms.CharField(
                label=section.title, help_text=section.help, required=False, max_length=PLAN_SECTION_MAX_LENGTH,
                widget=forms.Textarea(attrs={"rows": 5}),
            )
        self.fields["stakeholders"].queryset = Person.objects.filter(active=True, user__isnull=False).order_by("name")
        self.order_fields([*SECTION_FIELDS, "change_summary", "review_due_on", "stakeholders"])


class ExceptionRequestForm(forms.Form):
    """What an exception covers (a control, or a requirement of a framework's newest catalog by citation), why,
    until when."""

    control = forms.ChoiceField(choices=(), required=False, help_text="A control of the library…")
    framework = forms.ChoiceField(choices=(), required=False, label="…or a requirement of")
    citation = forms.CharField(max_length=64, required=False,
                               help_text="As the catalog writes it, e.g. 164.312(a)(2)(iv).")
    reason = _statement("Reason", "The risk accepted, why, and what mitigates it meanwhile.")
    expires_on = forms.DateField(label="Expires on", widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="The requirement is open again the day after.")

    def __init__(self, *args, frameworks: list[tuple[str, str]], controls: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["framework"].choices = [("", "—"), *frameworks]
        self.fields["control"].choices = [("", "—"), *((code, f"{code} {title}") for code, title in controls)]

    def clean(self):
        data = super().clean()
        data["requirement"] = data["control_object"] = None
        if data.get("control"):
            data["control_object"] = Control.objects.get(code=data["control"])
        if data.get("framework") and not data.get("citation"):
            self.add_error("citation", "Give the requirement's citation.")
        if data.get("framework") and data.get("citation"):
            requirement = Requirement.objects.filter(
                version__in=latest_versions().filter(framework__slug=data["framework"]), citation=data["citation"],
            ).first()
            if requirement is None:
                self.add_error("citation", f"{data['framework']} has no requirement {data['citation']!r}.")
            data["requirement"] = requirement
        return data


class ExceptionDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect)
    note = _statement("Note", "Required for a rejection.", rows=3)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceFilesField(forms.FileField):
    """Several files in one input; each at most the evidence size, said by name before anything is read."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": EVIDENCE_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        limit = settings.EVIDENCE_UPLOAD_MAX_BYTES
        for upload in files:
            if upload.size > limit:
                raise forms.ValidationError(
                    f"{upload.name} is {upload.size / 1_048_576:.1f} MB; evidence files are at most "
                    f"{limit / 1_048_576:.0f} MB."
                )
        return [super(EvidenceFilesField, self).clean(upload, initial) for upload in files]


class TestRecordForm(forms.Form):
    result = forms.ChoiceField(choices=[(value, ControlTestStatus(value).label) for value in RESULTS],
                               widget=forms.RadioSelect)
    note = _statement("Note", "What was checked and found. Required for a fail or not applicable.", rows=3)
    files = EvidenceFilesField(required=False, label="Evidence files",
                               help_text=f"{ALLOWED_TEXT}, at most 10 MB each. Required for a pass.")
    expires_on = forms.DateField(required=False, label="Evidence valid until",
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="After this date the control counts as not tested again.")


class EvidenceAddForm(forms.Form):
    files = EvidenceFilesField(label="Evidence files", help_text=f"{ALLOWED_TEXT}, at most 10 MB each. A file "
                               "named as one kept already becomes its next version.")
    expires_on = forms.DateField(label="Valid until", widget=forms.DateInput(attrs={"type": "date"}))


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
