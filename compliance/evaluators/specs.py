"""What each metric is: its unit, which way is better, its settings and whether it counts VMs of a scope.

The control library's loader checks thresholds and parameters against these, and the evaluators read them;
the evaluating functions live in one module per metric beside this one.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from compliance.choices import Metric, Scope

PERCENT = "percent"
COUNT = "count"
BOOLEAN = "boolean"


@dataclass(frozen=True)
class MetricSpec:
    """``higher_is_better``: effective when the value is at least the threshold, else when at most it.
    ``parameters``: each setting a control may give, with its default (its type is the default's type).
    ``scoped``: counted over the VMs of each framework's scope as well as the whole estate."""

    metric: Metric
    unit: str
    higher_is_better: bool
    scoped: bool
    parameters: dict[str, object] = field(default_factory=dict)

    def threshold_problem(self, threshold: Decimal) -> str:
        """Why a threshold cannot be this metric's, or an empty string."""
        if threshold < 0:
            return "is negative"
        if self.unit == PERCENT and threshold > 100:
            return "is a percentage: at most 100"
        if self.unit == BOOLEAN and threshold not in (0, 1):
            return "is 1 (must hold) for this metric"
        if self.unit != PERCENT and threshold != threshold.to_integral_value():
            return "is a count: a whole number"
        return ""

    def effective(self, value: Decimal, threshold: Decimal) -> bool:
        return value >= threshold if self.higher_is_better else value <= threshold


SPECS: dict[str, MetricSpec] = {
    spec.metric: spec
    for spec in (
        MetricSpec(Metric.INVENTORY_COVERAGE, PERCENT, True, True),
        MetricSpec(Metric.APPROVAL_RATE, PERCENT, True, True),
        MetricSpec(Metric.BASELINE_PASS_RATE, PERCENT, True, True, {"settings": {}}),
        MetricSpec(Metric.TOOLS_CURRENCY, PERCENT, True, True),
        MetricSpec(Metric.HARDWARE_CURRENCY, PERCENT, True, True, {"minimum_version": 13}),
        MetricSpec(Metric.HOST_PATCH_CURRENCY, PERCENT, True, True, {"minimum_build": 0}),
        MetricSpec(Metric.ROGUE_COUNT, COUNT, False, True, {"grace_days": 7}),
        MetricSpec(Metric.DORMANT_COUNT, COUNT, False, True, {"review_days": 30}),
        MetricSpec(Metric.COPIED_COUNT, COUNT, False, True, {"grace_days": 7}),
        MetricSpec(Metric.CAMPAIGN_RESPONSE_RATE, PERCENT, True, False),
        MetricSpec(Metric.SCAN_FRESHNESS, PERCENT, True, False, {"max_age_hours": 36}),
        MetricSpec(Metric.AUDIT_CHAIN, BOOLEAN, True, False),
        MetricSpec(Metric.AUDITOR_ACCESS, COUNT, False, False, {"max_days": 90}),
    )
}

# The data categories on VMs that put them in a framework's scope (values of questionnaires' DataCategory).
SCOPE_CATEGORIES = {Scope.HIPAA: "ephi", Scope.SOX: "financial_reporting", Scope.GLBA: "customer_financial"}
