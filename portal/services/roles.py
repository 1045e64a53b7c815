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


@transaction.atomic
def user_revoke_role(*, user: User, role: Role, revoked_by: User | None = None) -> User:
    """Take a role away from ``user``; taking ``admin`` also ends the Django superuser and staff flags."""
    if role not in user.roles:
        raise ValidationError({"role": f"{user} does not have the role {Role(role).label}."})
    user.groups.remove(*Group.objects.filter(name=role.value))
    if role == Role.ADMIN:
        user.is_staff = False
        user.is_superuser = False
        user.save(update_fields=["is_staff", "is_superuser"])
    user.__dict__.pop("_roles_cache", None)
    audit_log(
        action="role.revoked",
        actor=revoked_by,
        actor_label="system: role revoke",
        obj=user,
        details={"role": role.value},
    )
    return user
