"""Evaluators: one module per metric, each reading the other apps' data through their selectors and models
(never their views). ``EVALUATORS`` maps a metric to its module; ``specs`` says what each metric is."""

from compliance.choices import Metric
from compliance.evaluators import (
    approval,
    audit_chain,
    auditor_access,
    baseline,
    campaign_response,
    copied,
    coverage,
    dormant,
    hardware,
    host_patch,
    rogue,
    scan_freshness,
    tools,
)

EVALUATORS = {
    Metric.INVENTORY_COVERAGE: coverage,
    Metric.APPROVAL_RATE: approval,
    Metric.BASELINE_PASS_RATE: baseline,
    Metric.TOOLS_CURRENCY: tools,
    Metric.HARDWARE_CURRENCY: hardware,
    Metric.HOST_PATCH_CURRENCY: host_patch,
    Metric.ROGUE_COUNT: rogue,
    Metric.DORMANT_COUNT: dormant,
    Metric.COPIED_COUNT: copied,
    Metric.CAMPAIGN_RESPONSE_RATE: campaign_response,
    Metric.SCAN_FRESHNESS: scan_freshness,
    Metric.AUDIT_CHAIN: audit_chain,
    Metric.AUDITOR_ACCESS: auditor_access,
}
