"""Writes of the statement of applicability and of the HIPAA addressable-specification decisions.

Compliance officers (and admins) decide; every decision writes an audit event with the values before and after,
so the trail is the history of the statement. A refused decision changes nothing.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from compliance.choices import DecisionOutcome, Implementation, RequirementKind
from compliance.models import AddressableDecision, Applicability, Requirement
from compliance.services.texts import text_checked
from portal.choices import Role
from portal.models import User
from portal.services.audit import audit_log

# Who writes the statement of applicability and the addressable decisions; auditors and security admins read.
APPLICABILITY_EDIT_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.ADMIN})


def _check_editor(user: User) -> None:
    if not user.has_role(*APPLICABILITY_EDIT_ROLES):
        raise PermissionDenied("Only compliance officers decide applicability.")


@transaction.atomic
def applicability_set(*, requirement: Requirement, applicable: bool, justification: str, user: User) -> Applicability:
    """Record whether ``requirement`` applies; not applicable needs a justification."""
    _check_editor(user)
    justification = text_checked(
        justification, field="justification", required=not applicable,
        required_message="Say why the requirement does not apply.",
    )
    row = Applicability.objects.select_for_update().filter(requirement=requirement).first()
    before = {"applicable": row.applicable, "justification": row.justification} if row else None
    if row is None:
        row = Applicability(requirement=requirement)
    row.applicable, row.justification = applicable, justification
    row.decided_by, row.decided_at = user, timezone.now()
    row.save()
    audit_log(
        action="compliance.applicability_set", actor=user, obj=row,
        details={"framework": requirement.version.framework.slug, "citation": requirement.citation,
                 "before": before, "applicable": applicable, "justification": justification},
    )
    return row


def _check_addressable(requirement: Requirement) -> None:
    if not (requirement.kind == RequirementKind.IMPLEMENTATION_SPECIFICATION
            and requirement.implementation == Implementation.ADDRESSABLE):
        raise ValidationError(
            {"requirement": f"{requirement.citation} is not an addressable implementation specification."}
        )


@transaction.atomic
def addressable_decision_set(
    *, requirement: Requirement, outcome: str, alternative_measure: str = "", rationale: str = "", user: User
) -> AddressableDecision:
    """Record the 164.306(d)(3) decision on an addressable specification: implemented; an equivalent alternative
    (which one, required); or not reasonable and appropriate (why, required). A text the outcome does not use is
    not kept, so a decision never carries a stale reason."""
    _check_editor(user)
    _check_addressable(requirement)
    if outcome not in DecisionOutcome.values:
        choices = ", ".join(DecisionOutcome.values)
        raise ValidationError({"outcome": f"{outcome!r} is not a decision: pick one of {choices}."})
    errors = {}
    texts = {}
    for field, needed_for, message in (
        ("alternative_measure", DecisionOutcome.ALTERNATIVE, "Name the equivalent alternative measure."),
        ("rationale", DecisionOutcome.NOT_REASONABLE, "Say why the specification is not reasonable and appropriate."),
    ):
        value = alternative_measure if field == "alternative_measure" else rationale
        try:
            texts[field] = text_checked(value, field=field, required=outcome == needed_for, required_message=message)
        except ValidationError as error:
            errors.update(error.message_dict)
        if outcome != needed_for:
            texts[field] = ""
    if errors:
        raise ValidationError(errors)
    row = AddressableDecision.objects.select_for_update().filter(requirement=requirement).first()
    before = ({"outcome": row.outcome, "alternative_measure": row.alternative_measure, "rationale": row.rationale}
              if row else None)
    if row is None:
        row = AddressableDecision(requirement=requirement)
    row.outcome = outcome
    row.alternative_measure, row.rationale = texts["alternative_measure"], texts["rationale"]
    row.decided_by, row.decided_at = user, timezone.now()
    row.save()
    audit_log(
        action="compliance.addressable_decision_set", actor=user, obj=row,
        details={"citation": requirement.citation, "before": before, "outcome": outcome, **texts},
    )
    return row
