"""Who may use which page: every view declares ``allowed_roles``; nothing is open by default."""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied


class RoleRequiredMixin(AccessMixin):
    """Sends anonymous users to the login page and refuses (403) users without an allowed role.

    ``allowed_roles`` may use a page (read); ``write_roles`` may also POST to it
    and defaults to no one, so a read-only role never changes data by accident.
    """

    allowed_roles: frozenset[str] | None = None
    write_roles: frozenset[str] = frozenset()

    def dispatch(self, request, *args, **kwargs):
        if self.allowed_roles is None:
            raise ImproperlyConfigured(f"{type(self).__name__} must declare allowed_roles.")
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        roles = self.write_roles if request.method not in ("GET", "HEAD", "OPTIONS") else self.allowed_roles
        if not request.user.has_role(*roles):
            raise PermissionDenied("Your role does not give access to this page.")
        return super().dispatch(request, *args, **kwargs)
