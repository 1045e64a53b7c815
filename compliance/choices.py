"""Choices of the compliance app: kinds of framework and requirement, HIPAA's Required/Addressable, mapping links."""

from django.db import models


class FrameworkKind(models.TextChoices):
    """A law or rule an organisation must meet, or a catalog of controls other frameworks map to."""

    REGULATION = "regulation", "Regulation"
    CONTROL_CATALOG = "control_catalog", "Control catalog"


class RequirementKind(models.TextChoices):
    """What a catalog row is, in its own framework's words."""

    SECTION = "section", "Section"
    STANDARD = "standard", "Standard"
    IMPLEMENTATION_SPECIFICATION = "implementation_specification", "Implementation specification"
    ELEMENT = "element", "Element"
    DOMAIN = "domain", "Domain"
    OBJECTIVE = "objective", "Control objective"
    FAMILY = "family", "Control family"
    CONTROL = "control", "Control"
    CONTROL_ENHANCEMENT = "control_enhancement", "Control enhancement"


class Implementation(models.TextChoices):
    """How the HIPAA Security Rule labels an implementation specification (45 CFR 164.306(d))."""

    REQUIRED = "required", "Required"
    ADDRESSABLE = "addressable", "Addressable"


class MappingRelationship(models.TextChoices):
    """How a mapped requirement relates to the 800-53 control it points at."""

    INFORMATIVE_REFERENCE = "informative_reference", "Informative reference (NIST OLIR)"
    RELATED = "related", "Related (vmcensus judgment)"


class DecisionOutcome(models.TextChoices):
    """What an organisation decided for a HIPAA addressable implementation specification (45 CFR 164.306(d)(3)):
    implement it; implement an equivalent alternative measure instead; or neither, because it is not reasonable
    and appropriate, with the reason documented."""

    IMPLEMENTED = "implemented", "Implemented as specified"
    ALTERNATIVE = "alternative", "Equivalent alternative measure"
    NOT_REASONABLE = "not_reasonable", "Not reasonable and appropriate"


class ExceptionStatus(models.TextChoices):
    """Where a risk acceptance stands: asked for, accepted by a compliance officer (until its expiry date),
    refused, or past its expiry date (the control or requirement is open again)."""

    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
