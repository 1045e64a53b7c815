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
    DIRECT = "direct", "Direct (a control of the library to a requirement)"


class ControlFrequency(models.TextChoices):
    """How often a control operates and is tested; automated controls are evaluated at least daily."""

    CONTINUOUS = "continuous", "Continuous"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMIANNUAL = "semiannual", "Every six months"
    ANNUAL = "annual", "Annual"


class Metric(models.TextChoices):
    """What an automated control measures; one evaluator module each in ``compliance/evaluators/``."""

    INVENTORY_COVERAGE = "inventory_coverage", "Inventory coverage (share of scanned VMs declared and matched)"
    APPROVAL_RATE = "approval_rate", "Approval rate (share of running VMs approved)"
    BASELINE_PASS_RATE = "baseline_pass_rate", "Hardening baseline pass rate"
    TOOLS_CURRENCY = "tools_currency", "VMware Tools currency (share of VMs with current Tools)"
    HARDWARE_CURRENCY = "hardware_currency", "Virtual hardware currency (share at or above the minimum version)"
    HOST_PATCH_CURRENCY = "host_patch_currency", "Host patch currency (share of hosts at or above the minimum build)"
    ROGUE_COUNT = "rogue_count", "Rogue VM findings unresolved past the grace period"
    DORMANT_COUNT = "dormant_count", "Dormant VM findings not reviewed within the review period"
    COPIED_COUNT = "copied_count", "Copied VM findings (a BIOS UUID shared) unresolved past the grace period"
    CAMPAIGN_RESPONSE_RATE = "campaign_response_rate", "Campaign response rate (share of assignments submitted)"
    SCAN_FRESHNESS = "scan_freshness", "Scan freshness (sources with a complete scan within the window)"
    AUDIT_CHAIN = "audit_chain", "Audit trail intact (hash chain verifies)"
    AUDITOR_ACCESS = "auditor_access", "Auditor access expires (auditor logins without an expiry date or past it)"


class EvaluationStatus(models.TextChoices):
    """A control's status from one evaluation."""

    EFFECTIVE = "effective", "Effective"
    DEFICIENT = "deficient", "Deficient"
    NOT_EVALUATED = "not_evaluated", "Not evaluated"


class RollUpStatus(models.TextChoices):
    """A control's or requirement's status in a framework roll-up: its evaluations' status, or excepted when an
    approved exception in force accepts the risk of it not being effective. Never stored on an evaluation."""

    EFFECTIVE = EvaluationStatus.EFFECTIVE.value, EvaluationStatus.EFFECTIVE.label
    DEFICIENT = EvaluationStatus.DEFICIENT.value, EvaluationStatus.DEFICIENT.label
    NOT_EVALUATED = EvaluationStatus.NOT_EVALUATED.value, EvaluationStatus.NOT_EVALUATED.label
    EXCEPTED = "excepted", "Excepted"


class EvaluationBasis(models.TextChoices):
    """Where an evaluation's status comes from: a metric over the portal's data, or a person's attested test."""

    METRIC = "metric", "Metric over the portal's data"
    ATTESTATION = "attestation", "Attested test"


class EvaluationTrigger(models.TextChoices):
    SCAN = "scan", "After a complete scan"
    RECONCILIATION = "reconciliation", "After a reconciliation run"
    CAMPAIGN_CLOSE = "campaign_close", "When a campaign closed"
    POLICY_EVALUATION = "policy_evaluation", "After a policy evaluation"
    DAILY = "daily", "Daily schedule"
    COMMAND = "command", "Command line"
    USER = "user", "Asked for in the portal"


class Scope(models.TextChoices):
    """Which VMs an evaluation counts: the whole estate, or those in one framework's scope by data category."""

    ESTATE = "estate", "Whole estate"
    HIPAA = "hipaa", "HIPAA scope (ePHI)"
    SOX = "sox", "SOX scope (financial reporting)"
    GLBA = "glba", "GLBA scope (customer financial data)"


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


class ControlTestStatus(models.TextChoices):
    """Where a control test stands: on the calendar, recorded with its result, or past its due date unrecorded."""

    SCHEDULED = "scheduled", "Scheduled"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    MISSED = "missed", "Missed"


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
