"""Forms of the portal app."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    """Refuses a login whose access has ended, at the door rather than on the next page."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if user.access_expired():
            raise forms.ValidationError(
                f"Your access to vmcensus ended on {user.access_expires_on:%d %B %Y}. "
                "Ask a compliance officer to extend it.",
                code="access_expired",
            )
