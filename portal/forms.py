"""Forms of the portal app, and the person field every app's forms use."""

import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.urls import reverse_lazy

from portal.choices import Role
from portal.models import Person

# Namesakes a refusal lists so the person can tell them apart.
NAMESAKES_LISTED = 5


def person_from_text(value: str) -> Person:
    """An active person from what was typed: "Name <e-mail>" (as the search list offers it), an e-mail, or a
    full name that only one active person has."""
    text = " ".join((value or "").split())
    match = re.search(r"<([^<>]+)>$", text)
    if match or "@" in text:
        email = (match.group(1) if match else text).strip().lower()
        person = Person.objects.filter(email=email, active=True).first()
        if person is None:
            raise forms.ValidationError(f"Nobody active has the e-mail {email!r}: type a name and pick from the list.")
        return person
    namesakes = list(Person.objects.filter(name__iexact=text, active=True).order_by("email")[: NAMESAKES_LISTED + 1])
    if len(namesakes) == 1:
        return namesakes[0]
    if namesakes:
        emails = ", ".join(person.email for person in namesakes[:NAMESAKES_LISTED])
        raise forms.ValidationError(
            f"Several people are called {text!r} ({emails}): pick the one you mean from the list."
        )
    raise forms.ValidationError(
        f"Nobody active is called {text!r}: type part of a name or e-mail and pick from the list."
    )


class PersonField(forms.CharField):
    """A person chosen by name or e-mail, with suggestions from the people search as the user types."""

    def __init__(self, *, datalist: str, **kwargs):
        super().__init__(max_length=300, **kwargs)
        self.widget.attrs.update(
            {
                "list": datalist,
                "autocomplete": "off",
                "placeholder": "Type a name or e-mail",
                "hx-get": reverse_lazy("people:search"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": f"#{datalist}",
                "hx-swap": "innerHTML",
            }
        )

    def clean(self, value):
        return person_from_text(super().clean(value))


class LoginForm(AuthenticationForm):
    """Refuses a login whose access has ended, at the door rather than on the next page.

    A user name longer than any login's is a form error before authentication: Django's form only sets the
    field's ``max_length`` without validating it, and the lockout's record of a failed attempt cannot hold it.
    """

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].validators.append(MaxLengthValidator(self.fields["username"].max_length))

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if user.access_expired():
            raise forms.ValidationError(
                f"Your access to vmcensus ended on {user.access_expires_on:%d %B %Y}. "
                "Ask a compliance officer to extend it.",
                code="access_expired",
            )


class PersonRoleForm(forms.Form):
    """An admin grants or revokes one role of a person's login; ``expires_on`` is an auditor's last day."""

    action = forms.ChoiceField(choices=[("grant", "Grant"), ("revoke", "Revoke")])
    role = forms.ChoiceField(choices=Role.choices)
    expires_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
