"""Logins: created and edited by an admin, always audited. Roles are not set here (see ``roles.py``)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from portal.models import User
from portal.services.audit import audit_log

# What an admin may change on a login outside the role services; roles, privileges and the access end date
# are only changed by granting and revoking roles.
USER_EDITABLE_FIELDS = frozenset({"username", "first_name", "last_name", "email", "is_active"})


@transaction.atomic
def user_create(*, user: User, created_by: User) -> User:
    """Save a new login built by a form (user name and password): it starts with no role and no privilege."""
    user.is_staff = user.is_superuser = False
    user.access_expires_on = None
    user.save()
    audit_log(action="user.created", actor=created_by, obj=user, details={"username": user.username})
    return user


@transaction.atomic
def user_update(*, user: User, changes: dict[str, Any], updated_by: User) -> User:
    """Change a login's name, e-mail or active flag; writes one audit event naming the new values."""
    refused = sorted(set(changes) - USER_EDITABLE_FIELDS)
    if refused:
        raise ValidationError(f"{', '.join(refused)} cannot be changed here; roles are granted and revoked.")
    changed = {name: value for name, value in changes.items() if getattr(user, name) != value}
    if not changed:
        return user
    for name, value in changed.items():
        setattr(user, name, value)
    user.save(update_fields=sorted(changed))
    audit_log(action="user.updated", actor=updated_by, obj=user, details=changed)
    return user
