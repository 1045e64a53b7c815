"""Area mappings: which person's area a cluster, folder or resource pool belongs to.

Kept by compliance officers (and admins); each change is in the audit trail.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from inventory.models import AreaMapping
from portal.choices import Role
from portal.models import Person, User
from portal.services.audit import audit_log

# Who keeps the mappings.
MAPPING_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.ADMIN})
PATTERN_MAX_LENGTH = 255


def _require_keeper(user: User) -> None:
    if not (user is not None and user.is_authenticated and user.has_role(*MAPPING_ROLES)):
        raise PermissionDenied("Only a compliance officer or an admin can change the area mappings.")


@transaction.atomic
def area_mapping_create(*, person: Person, scope: str, pattern: str, user: User) -> AreaMapping:
    """Map the VMs of a cluster, folder or resource pool (a name, or the start of a path) to a person's area."""
    _require_keeper(user)
    pattern = (pattern or "").strip()
    errors: dict[str, str] = {}
    if scope not in AreaMapping.Scope.values:
        errors["scope"] = f"{scope!r} is not one of {', '.join(AreaMapping.Scope.values)}."
    if not pattern:
        errors["pattern"] = "Give the name of the cluster or resource pool, or the start of the folder path."
    elif len(pattern) > PATTERN_MAX_LENGTH:
        errors["pattern"] = f"At most {PATTERN_MAX_LENGTH} characters ({len(pattern)})."
    if not person.active:
        errors["person"] = f"{person.name} is no longer active."
    if errors:
        raise ValidationError(errors)
    existing = AreaMapping.objects.filter(scope=scope, pattern__iexact=pattern).select_related("person").first()
    if existing is not None:
        raise ValidationError({"pattern": f"{existing} exists already: delete it first to map it to someone else."})
    try:
        with transaction.atomic():
            mapping = AreaMapping.objects.create(person=person, scope=scope, pattern=pattern)
    except IntegrityError:  # added at the same moment by another request
        raise ValidationError({"pattern": f"{scope} {pattern} is mapped already."}) from None
    audit_log(
        action="area_mapping.created",
        actor=user,
        obj=mapping,
        details={"person": person.email, "scope": scope, "pattern": pattern},
    )
    return mapping


@transaction.atomic
def area_mapping_delete(*, mapping: AreaMapping, user: User) -> None:
    """Remove a mapping; VM lists pre-filled through it keep their rows."""
    _require_keeper(user)
    audit_log(
        action="area_mapping.deleted",
        actor=user,
        obj=mapping,
        details={"person": mapping.person.email, "scope": mapping.scope, "pattern": mapping.pattern},
    )
    mapping.delete()
