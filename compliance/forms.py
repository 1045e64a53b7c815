"""Forms of the compliance pages: shapes only. The rules (who decides, which text an outcome needs, who may
approve) live in the services, which name the field a refusal is about; the views put that on the form."""

from django import forms

from compliance.choices import DecisionOutcome
from compliance.services.texts import STATEMENT_MAX_LENGTH

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
