"""API permissions: every endpoint declares ``allowed_roles`` (read) and ``write_roles`` (write)."""

from rest_framework import permissions


class RolePermission(permissions.BasePermission):
    """Fail closed: an endpoint that declares no roles is refused to everybody."""

    message = "Your role does not give access to this endpoint."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            roles = getattr(view, "allowed_roles", None)
        else:
            roles = getattr(view, "write_roles", None)
        return bool(roles) and user.has_role(*roles)

