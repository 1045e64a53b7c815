"""Forms of the portal app."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator

from portal.choices import Role


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
