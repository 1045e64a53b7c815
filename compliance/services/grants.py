"""Frameworks granted to auditors: which packs an auditor may read while their access lasts."""

from django.db import transaction
from django.utils import timezone

from compliance.models import Framework, FrameworkGrant
from portal.choices import Role
from portal.models import User
from portal.services.audit import audit_log


class GrantRefused(ValueError):
    """A grant that cannot be made; ``str()`` says why."""


@transaction.atomic
def framework_grant(*, auditor: User, framework: Framework, user: User) -> FrameworkGrant:
    """Give an auditor a framework's packs; granting one already held changes nothing."""
    if not auditor.has_role(Role.AUDITOR):
        raise GrantRefused(f"{auditor} is not an auditor")
    if auditor.access_expires_on is None or auditor.access_expired():
        raise GrantRefused(f"{auditor}'s access has no end date or has ended: set one in the roles first")
    grant = FrameworkGrant.objects.filter(auditor=auditor, framework=framework, revoked_at__isnull=True).first()
    if grant is not None:
        return grant
    grant = FrameworkGrant.objects.create(auditor=auditor, framework=framework, granted_by=user,
                                          granted_at=timezone.now())
    audit_log(action="pack.access_granted", actor=user, obj=grant,
              details={"auditor": auditor.username, "framework": framework.slug,
                       "access_expires_on": auditor.access_expires_on})
    return grant


@transaction.atomic
def framework_grant_revoke(*, grant: FrameworkGrant, user: User) -> FrameworkGrant:
    """End a grant (its row stays, for the trail); revoking one already ended changes nothing."""
    if grant.revoked_at is None:
        grant.revoked_at = timezone.now()
        grant.save(update_fields=["revoked_at"])
        audit_log(action="pack.access_revoked", actor=user, obj=grant,
                  details={"auditor": grant.auditor.username, "framework": grant.framework.slug})
    return grant
