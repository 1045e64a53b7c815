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


class PackState(models.TextChoices):
    """Where an evidence pack's build stands; only a ready pack is shown to auditors."""

    QUEUED = "queued", "Queued"
    BUILDING = "building", "Building"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class EvidenceRequestState(models.TextChoices):
    """An auditor's request for evidence ("provided by client" list), as audit firms track it."""

    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered, to review"
    ACCEPTED = "accepted", "Accepted"
    ASKED_AGAIN = "asked_again", "Asked again"
