"""Roles are Django groups; granting one is an audited act."""

import datetime

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from portal.choices import Role
from portal.models import User
from portal.services.audit import audit_log


def roles_sync() -> None:
    """Create the group of every role (idempotent; runs after each migrate)."""
    for role in Role:
        Group.objects.get_or_create(name=role.value)


@transaction.atomic
def user_grant_role(
    *, user: User, role: Role, granted_by: User | None = None, expires_on: datetime.date | None = None
) -> User:
    """Give ``user`` a role. Auditors must have an end date; admins become Django superusers."""
    if role == Role.AUDITOR:
        expires_on = expires_on or user.access_expires_on
        if expires_on is None:
            raise ValidationError({"expires_on": "An auditor's access needs an end date."})
    if expires_on is not None:
        user.access_expires_on = expires_on
    if role == Role.ADMIN:
        user.is_staff = True
        user.is_superuser = True
    user.save()
    roles_sync()
    user.groups.add(Group.objects.get(name=role.value))
    user.__dict__.pop("_roles_cache", None)
    audit_log(
        action="role.granted",
        actor=granted_by,
        actor_label="system: role grant",
        obj=user,
        details={"role": role.value, "expires_on": expires_on},
    )
    return user
