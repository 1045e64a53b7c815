"""Policies: their configuration per kind (validated), their versions, the defaults, and the evaluators.

An evaluator is a function of a policy and the ``EstateFacts`` one evaluation loaded (a few queries for the
whole estate): it returns, for every VM breaking the policy, the evidence of it. ``findings_evaluate`` (in
``findings``) turns that into findings.
"""

import datetime
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from inventory.choices import ChangeKind, PolicyKind, PowerState, RequestState, Sanction, SourceKind, VMStatus
from inventory.models import (
    Baseline,
    BaselineRule,
    DeploymentRequest,
    Host,
    Policy,
    PolicyVersion,
    ScanRun,
    Source,
    VirtualMachine,
    VMChange,
    VMExport,
)
from inventory.observations import EXPORT_TASKS, ObservedEvent, VMEventKind
from inventory.services.approvals import SANCTIONING_STATES
from inventory.services.baselines import DEFAULT_BASELINE_NAME, baseline_failures, baselines_load_shipped
from portal.models import User
from portal.selectors import app_providers
from portal.services.audit import audit_log

# vCenter's guest.toolsVersionStatus2 values that mean "out of date" (guestToolsCurrent, guestToolsUnmanaged
# (OS-packaged open-vm-tools, kept current by the guest's own updates) and guestToolsNotInstalled are not).
TOOLS_OUT_OF_DATE = frozenset({"guestToolsNeedUpgrade", "guestToolsTooOld", "guestToolsSupportedOld",
                               "guestToolsBlacklisted", "guestToolsTooNew"})
# guest.toolsStatus values that mean Tools are not running in the guest (judged for powered-on VMs only: no Tools
# run in a VM that is off), and the one that means they are out of date (RVTools' Tools column says the same).
TOOLS_NOT_RUNNING = frozenset({"toolsNotRunning", "toolsNotInstalled", "guestToolsNotRunning"})
TOOLS_STATUS_OLD = "toolsOld"
NOTIFY_CHOICES = ("owner", "chain", "security_admins")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# The minimum ESXi build per version: the last update of each release line the policy still accepts
# (6.5 U3, 6.7 U3, 7.0 U3, 8.0 U2). A host of a version not listed is not judged by its build.
DEFAULT_MIN_ESXI_BUILD = {"6.5": 13932383, "6.7": 14320388, "7.0": 18644231, "8.0": 22380479}
# The longest look back an exported policy may take: evaluations read exports of that period only.
EXPORT_LOOKBACK_MAX_DAYS = 3650
WINDOW_DEFAULT = {"days": ["sat", "sun"], "start": "22:00", "end": "04:00"}

DEFAULT_POLICIES: list[dict[str, Any]] = [
    {"name": "Rogue VMs", "kind": PolicyKind.ROGUE, "config": {"grace_days": 7},
     "description": "A VM present longer than the grace period without an approved deployment request."},
    {"name": "Dormant VMs", "kind": PolicyKind.DORMANT, "config": {"days": 90, "grace_days": 14},
     "description": "Powered off for at least 90 days, or never powered on since discovery."},
    {"name": "Unpatched VMs", "kind": PolicyKind.UNPATCHED,
     "config": {"grace_days": 14, "min_hardware_version": 14, "min_esxi_build": DEFAULT_MIN_ESXI_BUILD},
     "description": "VMware Tools not running or out of date, an old virtual hardware version, or a host "
                    "below the minimum ESXi build for its version."},
    {"name": "Off-baseline VMs", "kind": PolicyKind.OFF_BASELINE,
     "config": {"baseline": DEFAULT_BASELINE_NAME, "grace_days": 0},
     "description": "Advanced settings that break the hardening baseline (a stricter one for ePHI VMs)."},
    {"name": "Copied VMs", "kind": PolicyKind.COPIED, "config": {"grace_days": 0},
     "description": "Two live VMs with one BIOS UUID: a copy that came back."},
    {"name": "Exported VMs", "kind": PolicyKind.EXPORTED,
     "config": {"grace_days": 0, "lookback_days": 90, "allowed_datastores": []},
     "description": "An OVF/OVA export, or a clone to a host or datastore outside the policy's scope."},
    {"name": "Expired VMs", "kind": PolicyKind.EXPIRED, "config": {"grace_days": 14},
     "description": "Running past the end date of its approved deployment request."},
    {"name": "Undeclared VMs", "kind": PolicyKind.UNDECLARED, "config": {"grace_days": 0},
     "description": "Seen by a scanner in a campaign's scope, declared by nobody (reconciliation)."},
    {"name": "Decommissioned but running", "kind": PolicyKind.RUNNING_BUT_DECOMMISSIONED,
     "config": {"grace_days": 0},
     "description": "Declared decommissioned in a questionnaire, yet powered on (reconciliation)."},
]


# -- configuration ---------------------------------------------------------------------------------------------

def _non_negative_int(value: Any, name: str, errors: dict[str, str], *, maximum: int = 100_000) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        errors[name] = f"must be a whole number from 0 to {maximum}"


def config_errors(kind: str, config: Any) -> dict[str, str]:
    """What is wrong with a policy's configuration for its kind, field by field (empty: nothing)."""
    if not isinstance(config, dict):
        return {"config": "must be an object"}
    errors: dict[str, str] = {}
    allowed = {"grace_days"} | {
        PolicyKind.DORMANT: {"days"},
        PolicyKind.UNPATCHED: {"min_hardware_version", "min_esxi_build"},
        PolicyKind.OFF_BASELINE: {"baseline"},
        PolicyKind.EXPORTED: {"lookback_days", "allowed_datastores"},
    }.get(kind, set())
    for name in sorted(set(config) - allowed):
        errors[name] = f"is not a setting of a {kind} policy (settings: {', '.join(sorted(allowed))})"
    _non_negative_int(config.get("grace_days", 0), "grace_days", errors, maximum=3650)
    if kind == PolicyKind.DORMANT:
        _non_negative_int(config.get("days", 90), "days", errors, maximum=3650)
        if config.get("days") == 0:
            errors["days"] = "must be at least 1"
    if kind == PolicyKind.UNPATCHED:
        _non_negative_int(config.get("min_hardware_version", 0), "min_hardware_version", errors, maximum=100)
        builds = config.get("min_esxi_build", {})
        if not isinstance(builds, dict) or not all(
            isinstance(version, str) and re.fullmatch(r"\d+\.\d+", version) and isinstance(build, int)
            and not isinstance(build, bool) and build > 0 for version, build in builds.items()
        ):
            errors["min_esxi_build"] = 'must map "major.minor" versions to builds, e.g. {"8.0": 22380479}'
    if kind == PolicyKind.EXPORTED:
        _non_negative_int(config.get("lookback_days", 90), "lookback_days", errors, maximum=3650)
        datastores = config.get("allowed_datastores", [])
        if not isinstance(datastores, list) or not all(isinstance(name, str) for name in datastores):
            errors["allowed_datastores"] = "must be a list of datastore names (empty: any)"
    if kind == PolicyKind.OFF_BASELINE:
        name = config.get("baseline", "")
        if not isinstance(name, str) or not Baseline.objects.filter(name=name).exists():
            errors["baseline"] = f"{name!r} is not a baseline"
    return errors


def scope_errors(scope: Any) -> dict[str, str]:
    if not isinstance(scope, dict):
        return {"scope": "must be an object"}
    errors = {}
    for name in sorted(set(scope) - {"sources", "clusters", "folders", "custom_attributes"}):
        errors[name] = "is not a scope (sources, clusters, folders, custom_attributes)"
    for name in ("sources", "clusters", "folders"):
        value = scope.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            errors[name] = "must be a list of names"
    unknown = sorted(set(scope.get("sources", []) if isinstance(scope.get("sources"), list) else [])
                     - set(Source.objects.values_list("name", flat=True)))
    if unknown and "sources" not in errors:
        errors["sources"] = f"no source is named {', '.join(map(repr, unknown))}"
    attributes = scope.get("custom_attributes", {})
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        errors["custom_attributes"] = 'must map attribute names to values, e.g. {"env": "prod"}'
    return errors


def _window_errors(window: Any) -> str:
    if not isinstance(window, dict) or set(window) - {"days", "start", "end"}:
        return "window must be {days: [mon..sun], start: HH:MM, end: HH:MM}"
    days = window.get("days", [])
    if not isinstance(days, list) or not days or not set(days) <= set(WEEKDAYS):
        return f"window days must be a non-empty list of {', '.join(WEEKDAYS)}"
    if not all(isinstance(window.get(name), str) and TIME_OF_DAY.match(window[name]) for name in ("start", "end")):
        return "window start and end must be times HH:MM"
    return ""


def actions_errors(kind: str, actions: Any) -> dict[str, str]:
    if not isinstance(actions, dict):
        return {"actions": "must be an object"}
    errors = {}
    for name in sorted(set(actions) - {"notify", "tag", "power_off", "upgrade_tools"}):
        errors[name] = "is not an action (notify, tag, power_off, upgrade_tools)"
    notify = actions.get("notify", [])
    if not isinstance(notify, list) or not set(notify) <= set(NOTIFY_CHOICES):
        errors["notify"] = f"must be a list of {', '.join(NOTIFY_CHOICES)}"
    if not isinstance(actions.get("tag", False), bool):
        errors["tag"] = "must be true or false"
    for name in ("power_off", "upgrade_tools"):
        action = actions.get(name, {})
        if not isinstance(action, dict) or not isinstance(action.get("enabled", False), bool):
            errors[name] = "must be {enabled: true/false}"
            continue
        if name == "upgrade_tools" and action and kind != PolicyKind.UNPATCHED:
            errors[name] = "only an unpatched policy upgrades VMware Tools"
        elif name == "upgrade_tools" and action.get("enabled") and _window_errors(action.get("window")):
            errors[name] = _window_errors(action.get("window"))
        elif set(action) - {"enabled", "window"}:
            errors[name] = "takes enabled (and, to upgrade Tools, a window)"
    return errors


def default_actions(kind: str) -> dict[str, Any]:
    actions: dict[str, Any] = {"notify": ["security_admins"], "tag": False, "power_off": {"enabled": False}}
    if kind == PolicyKind.UNPATCHED:
        actions["upgrade_tools"] = {"enabled": False, "window": WINDOW_DEFAULT}
    return actions


def in_window(window: dict[str, Any], at: datetime.datetime) -> bool:
    """Whether ``at`` (local time) falls in a maintenance window; a window whose end is before its start runs
    past midnight, into the next day."""
    local = timezone.localtime(at)
    start, end = (datetime.time.fromisoformat(window[name]) for name in ("start", "end"))
    day = WEEKDAYS[local.weekday()]
    previous = WEEKDAYS[(local.weekday() - 1) % 7]
    now = local.time()
    if start <= end:
        return day in window["days"] and start <= now < end
    return (day in window["days"] and now >= start) or (previous in window["days"] and now < end)


# -- writing policies ------------------------------------------------------------------------------------------

def _snapshot(policy: Policy) -> dict[str, Any]:
    return {"enabled": policy.enabled, "config": policy.config, "scope": policy.scope, "actions": policy.actions}


@transaction.atomic
def policy_update(*, policy: Policy, user: User, enabled: bool, config: dict, scope: dict, actions: dict,
                  note: str = "") -> Policy:
    """A security admin's change: validated whole (``ValidationError`` by field, nothing written), stored as a
    new version with who and when, and audited with what changed. An unchanged policy stays at its version."""
    errors = {**config_errors(policy.kind, config), **scope_errors(scope), **actions_errors(policy.kind, actions)}
    if errors:
        raise ValidationError(errors)
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    before = _snapshot(policy)
    after = {"enabled": enabled, "config": config, "scope": scope, "actions": actions}
    if before == after:
        return policy
    policy.enabled, policy.config, policy.scope, policy.actions = enabled, config, scope, actions
    policy.version += 1
    policy.updated_at, policy.updated_by = timezone.now(), user
    policy.save()
    PolicyVersion.objects.create(policy=policy, version=policy.version, changed_at=policy.updated_at,
                                 changed_by=user, note=note[:300], **after)
    audit_log(action="policy.changed", actor=user, obj=policy, details={
        "version": policy.version, "note": note,
        "changed": {name: {"old": before[name], "new": after[name]} for name in after if before[name] != after[name]},
    })
    return policy


@transaction.atomic
def policies_load() -> list[Policy]:
    """Store the shipped baselines and one policy per kind that has none yet; a second load changes nothing."""
    baselines_load_shipped()
    created = []
    now = timezone.now()
    existing = set(Policy.objects.values_list("kind", flat=True))
    for spec in DEFAULT_POLICIES:
        if spec["kind"] in existing:
            continue
        policy = Policy.objects.create(
            name=spec["name"], kind=spec["kind"], description=spec["description"], config=spec["config"],
            actions=default_actions(spec["kind"]), scope={}, updated_at=now,
        )
        PolicyVersion.objects.create(policy=policy, version=1, changed_at=now, note="shipped default",
                                     **_snapshot(policy))
        audit_log(action="policy.created", actor_label="system: policies_load", obj=policy,
                  details={"kind": policy.kind, "config": policy.config})
        created.append(policy)
    return created


# -- the facts evaluators read ---------------------------------------------------------------------------------

VM_FACTS = (
    "id", "name", "source_id", "source__name", "source__kind", "cluster__name", "folder", "custom_attributes",
    "sanction", "first_seen", "power_state", "boot_time", "tools_status", "tools_version_status", "hardware_version",
    "host__version", "host__build", "host__name", "advanced_settings", "data_categories", "bios_uuid", "copied",
    "owner_id", "moref",
)


@dataclass
class EstateFacts:
    """What one evaluation reads, once, for every policy: the live VMs (templates aside), their last power change,
    the copies, the baselines and what other apps (reconciliation, approvals) know of them."""

    now: datetime.datetime
    vms: list[dict[str, Any]]
    last_power_change: dict[int, datetime.datetime]
    copies: dict[str, list[str]]
    baselines: dict[str, tuple[Baseline, list[BaselineRule]]]
    provided: dict[str, dict[int, dict]] = field(default_factory=dict)
    exports: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    host_clusters: dict[tuple[int, str], str] = field(default_factory=dict)
    clones: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    expired: dict[int, dict[str, Any]] = field(default_factory=dict)


def estate_facts(*, source: Source | None = None, now: datetime.datetime | None = None,
                 kinds: frozenset[str] = frozenset(PolicyKind.values)) -> EstateFacts:
    """The facts for an evaluation of ``source`` (all sources when None): a fixed handful of queries."""
    now = now or timezone.now()
    vms = VirtualMachine.objects.filter(status=VMStatus.PRESENT, is_template=False)
    if source is not None:
        vms = vms.filter(source=source)
    rows = list(vms.order_by("id").values(*VM_FACTS))
    power = VMChange.objects.filter(kind=ChangeKind.POWER_CHANGED, vm__status=VMStatus.PRESENT)
    if source is not None:
        power = power.filter(vm__source=source)
    last_power = dict(power.order_by().values("vm_id").annotate(last=Max("at")).values_list("vm_id", "last"))
    copies: dict[str, list[str]] = defaultdict(list)
    if PolicyKind.COPIED in kinds:
        for bios_uuid, name in (VirtualMachine.objects.filter(copied=True, status=VMStatus.PRESENT)
                                .exclude(bios_uuid="").order_by("name").values_list("bios_uuid", "name")):
            copies[bios_uuid].append(name)
    baselines = {}
    if PolicyKind.OFF_BASELINE in kinds:
        rules_of = defaultdict(list)
        for rule in BaselineRule.objects.order_by("baseline_id", "position", "key"):
            rules_of[rule.baseline_id].append(rule)
        baselines = {b.name: (b, rules_of[b.pk]) for b in Baseline.objects.all()}
    facts = EstateFacts(now=now, vms=rows, last_power_change=last_power, copies=dict(copies), baselines=baselines)
    if PolicyKind.EXPORTED in kinds:
        exports = VMExport.objects.filter(at__gte=now - datetime.timedelta(days=EXPORT_LOOKBACK_MAX_DAYS))
        if source is not None:
            exports = exports.filter(source=source)
        for export in exports.order_by("at", "id").values(
                "vm_id", "source_id", "kind", "at", "user", "destination_host_moref", "destination_datastore",
                "clone_name", "clone_moref"):
            facts.exports.setdefault(export["vm_id"], []).append(export)
        if facts.exports:
            facts.host_clusters = {(source_id, moref): cluster or "" for source_id, moref, cluster in
                                   Host.objects.values_list("source_id", "moref", "cluster__name")}
            clones = {export["clone_moref"] for found in facts.exports.values() for export in found} - {""}
            facts.clones = {(row["source_id"], row["moref"]): row for row in VirtualMachine.objects.filter(
                moref__in=clones).exclude(status=VMStatus.REMOVED).values(
                    "source_id", "moref", "cluster__name", "host_id", "datastores", "sanction")}
    if PolicyKind.EXPIRED in kinds:
        held = DeploymentRequest.objects.filter(state__in=SANCTIONING_STATES, vm__isnull=False).values("vm_id")
        for request in (DeploymentRequest.objects.filter(state=RequestState.EXPIRED, vm__isnull=False)
                        .exclude(vm_id__in=held).order_by("vm_id", "-end_date", "-id")
                        .values("id", "vm_id", "end_date", "purpose")):
            facts.expired.setdefault(request["vm_id"], request)
    for provider in app_providers("vm_policy_facts"):
        for kind, found in provider(kinds=kinds).items():
            facts.provided.setdefault(kind, {}).update(found)
    return facts


def vm_in_scope(scope: dict[str, Any], vm: dict[str, Any]) -> bool:
    """Whether a VM (a row of ``VM_FACTS``) is in a policy's scope; an empty scope is the whole estate."""
    if scope.get("sources") and vm["source__name"] not in scope["sources"]:
        return False
    if scope.get("clusters") and vm["cluster__name"] not in scope["clusters"]:
        return False
    if scope.get("folders") and not any(
        (vm["folder"] or "").lower().startswith(prefix.lower()) for prefix in scope["folders"]
    ):
        return False
    attributes = vm["custom_attributes"] or {}
    return all(attributes.get(name) == value for name, value in (scope.get("custom_attributes") or {}).items())


# -- evaluators ------------------------------------------------------------------------------------------------

Evidence = dict[int, dict[str, Any]]


def _days(delta: datetime.timedelta) -> int:
    return int(delta.total_seconds() // 86400)


def evaluate_rogue(policy: Policy, facts: EstateFacts, vms: list[dict]) -> Evidence:
    grace = datetime.timedelta(days=policy.config.get("grace_days", 0))
    return {
        vm["id"]: {"summary": f"{vm['sanction']}, first seen {vm['first_seen']:%Y-%m-%d}, beyond a grace of "
                              f"{grace.days} days",
                   "sanction": vm["sanction"], "first_seen": vm["first_seen"].isoformat()}
        for vm in vms
        if vm["sanction"] != Sanction.APPROVED and facts.now - vm["first_seen"] > grace
    }


def evaluate_dormant(policy: Policy, facts: EstateFacts, vms: list[dict]) -> Evidence:
    days = policy.config.get("days", 90)
    found = {}
    for vm in vms:
        if vm["power_state"] != PowerState.OFF:
            continue
        changed = facts.last_power_change.get(vm["id"])
        judged = [(vm["first_seen"], "never powered on since discovery")] if changed is None else [
            (changed, "powered off, per the power history")]
        if vm["boot_time"] is not None:
            judged.append((vm["boot_time"], "last booted"))
        since, how = max(judged, key=lambda pair: pair[0])
        if _days(facts.now - since) >= days:
            found[vm["id"]] = {"summary": f"off since {since:%Y-%m-%d} ({how}), at least {days} days",
                               "off_since": since.isoformat(), "judged_from": how}
    return found


def _hardware_number(text: str) -> int | None:
    match = re.search(r"(\d+)$", text or "")
    return int(match[1]) if match else None


def evaluate_unpatched(policy: Policy, facts: EstateFacts, vms: list[dict]) -> Evidence:
    minimum_hw = policy.config.get("min_hardware_version", 0)
    builds = policy.config.get("min_esxi_build", {})
    found = {}
    for vm in vms:
        reasons = []
        if vm["tools_status"] in TOOLS_NOT_RUNNING and vm["power_state"] == PowerState.ON:
            reasons.append({"code": "tools_not_running", "message": f"VMware Tools: {vm['tools_status']}"})
        if vm["tools_version_status"] in TOOLS_OUT_OF_DATE or vm["tools_status"] == TOOLS_STATUS_OLD:
            status = vm["tools_version_status"] or vm["tools_status"]
            reasons.append({"code": "tools_out_of_date", "message": f"VMware Tools: {status}"})
        hardware = _hardware_number(vm["hardware_version"])
        if minimum_hw and hardware is not None and hardware < minimum_hw:
            reasons.append({"code": "hardware_version",
                            "message": f"hardware {vm['hardware_version']}, below vmx-{minimum_hw}"})
        version = ".".join((vm["host__version"] or "").split(".")[:2])
        if version in builds and (vm["host__build"] or "").isdigit() and int(vm["host__build"]) < builds[version]:
            reasons.append({"code": "esxi_build", "message": f"host {vm['host__name']} runs ESXi {vm['host__version']}"
                            f" build {vm['host__build']}, below {builds[version]}"})
        if reasons:
            found[vm["id"]] = {"summary": "; ".join(r["message"] for r in reasons), "reasons": reasons,
                               "tools_upgradeable": any(r["code"] == "tools_out_of_date" for r in reasons)}
    return found


def baseline_for(policy: Policy, facts: EstateFacts, vm: dict) -> tuple[Baseline, list[BaselineRule]] | None:
    """The baseline a VM is judged by: the strictest (most rules) of those for its data categories, else the
    policy's."""
    categories = {c.lower() for c in vm["data_categories"] or []}
    special = [pair for pair in facts.baselines.values()
               if categories & {c.lower() for c in pair[0].data_categories}]
    if special:
        return max(special, key=lambda pair: (len(pair[1]), pair[0].name))
    return facts.baselines.get(policy.config.get("baseline", DEFAULT_BASELINE_NAME))


def evaluate_off_baseline(policy: Policy, facts: EstateFacts, vms: list[dict]) -> Evidence:
    """VMs whose advanced settings break their baseline. Only scanned VMs are judged: RVTools and CSV imports
    carry no advanced settings, and settings not collected are unknown, not absent."""
    found = {}
    for vm in vms:
        if vm["source__kind"] != SourceKind.VCENTER:
            continue
        chosen = baseline_for(policy, facts, vm)
        if chosen is None:
            continue
        baseline, rules = chosen
        failures = baseline_failures(rules, vm["advanced_settings"] or {})
        if failures:
            found[vm["id"]] = {"summary": f"{len(failures)} of {len(rules)} settings of {baseline.name} broken: "
                                          + ", ".join(f["key"] for f in failures),
                               "baseline": baseline.name, "failures": failures}
    return found


def evaluate_copied(policy: Policy, facts: EstateFacts, vms: list[dict]) -> Evidence:
    found = {}
    for vm in vms:
        others = [name for name in facts.copies.get(vm["bios_uuid"], []) if name != vm["name"]]
        if vm["copied"] and others:
            found[vm["id"]] = {"summary": f"BIOS UUID {vm['bios_uuid']} also on {', '.join(others)}",
                               "bios_uuid": vm["bios_uuid"], "shared_with": others}
    return found


def _export_outside(policy: Policy, facts: EstateFacts, export: dict[str, Any]) -> str:
    """Why an export or clone left the policy's scope ("" when it stayed inside)."""
    if export["kind"] == VMExport.Kind.OVF_EXPORT:
        return f"exported as OVF / OVA by {export['user'] or 'an unknown user'}"
    where = f"clone {export['clone_name'] or ''} by {export['user'] or 'an unknown user'}".replace("  ", " ")
    clone = facts.clones.get((export["source_id"], export["clone_moref"]))
    if clone is not None and clone["sanction"] == Sanction.APPROVED:
        return ""  # an approved deployment request covers the copy
    if clone is not None:  # the clone is scanned: judged by where it runs now
        cluster = clone["cluster__name"] if clone["host_id"] else None
        datastores = clone["datastores"] or []
    else:  # not (or no longer) in the inventory: judged by the host and datastore of the clone event
        cluster = facts.host_clusters.get((export["source_id"], export["destination_host_moref"]))
        datastores = [export["destination_datastore"]] if export["destination_datastore"] else []
    if cluster is None:
        return f"{where} to a host the inventory does not know ({export['destination_host_moref'] or 'unnamed'})"
    if policy.scope.get("clusters") and cluster not in policy.scope["clusters"]:
        return f"{where} to cluster {cluster}, outside the policy's clusters"
    allowed = policy.config.get("allowed_datastores") or []
    outside = [name for name in datastores if name not in allowed]
    if allowed and (outside or not datastores):
        return f"{where} to datastore {', '.join(outside) or 'unknown'}, not an allowed one"
    return ""


def evaluate_exported(policy: Policy, facts: EstateFacts, vms: list[dict]) -> Evidence:
    since = facts.now - datetime.timedelta(days=policy.config.get("lookback_days", 90))
    found = {}
    for vm in vms:
        copies = []
        for export in facts.exports.get(vm["id"], []):
            why = _export_outside(policy, facts, export) if export["at"] >= since else ""
            if why:
                copies.append({"at": export["at"].isoformat(), "kind": export["kind"], "why": why})
        if copies:
            found[vm["id"]] = {"summary": "; ".join(f"{c['at'][:16]}: {c['why']}" for c in copies),
                               "exports": copies}
    return found


def evaluate_expired(policy: Policy, facts: EstateFacts, vms: list[dict]) -> Evidence:
    """VMs still there after the end date of their approved request (expired, with no other request holding them)."""
    found = {}
    for vm in vms:
        request = facts.expired.get(vm["id"])
        if request is None:
            continue
        number = DeploymentRequest(pk=request["id"]).number
        running = "still runs" if vm["power_state"] == PowerState.ON else "is still there"
        found[vm["id"]] = {"summary": f"{number} ({request['purpose']}) ended on {request['end_date']:%Y-%m-%d}; "
                                      f"the VM {running}",
                           "request": number, "end_date": request["end_date"].isoformat()}
    return found


def _provided(kind: str) -> Callable[[Policy, EstateFacts, list[dict]], Evidence]:
    """An evaluator of facts another app provides (``vm_policy_facts``), cut to the policy's scope."""

    def evaluate(policy: Policy, facts: EstateFacts, vms: list[dict]) -> Evidence:
        found = facts.provided.get(kind, {})
        return {vm["id"]: found[vm["id"]] for vm in vms if vm["id"] in found}

    evaluate.__doc__ = f"The {kind} VMs as their app reports them."
    return evaluate


EVALUATORS: dict[str, Callable[[Policy, EstateFacts, list[dict]], Evidence]] = {
    PolicyKind.ROGUE: evaluate_rogue,
    PolicyKind.DORMANT: evaluate_dormant,
    PolicyKind.UNPATCHED: evaluate_unpatched,
    PolicyKind.OFF_BASELINE: evaluate_off_baseline,
    PolicyKind.COPIED: evaluate_copied,
    PolicyKind.EXPORTED: evaluate_exported,
    PolicyKind.EXPIRED: evaluate_expired,
    PolicyKind.UNDECLARED: _provided(PolicyKind.UNDECLARED),
    PolicyKind.RUNNING_BUT_DECOMMISSIONED: _provided(PolicyKind.RUNNING_BUT_DECOMMISSIONED),
}


def policy_evaluate(policy: Policy, facts: EstateFacts) -> Evidence:
    """The VMs in the policy's scope that break it, with the evidence."""
    scoped = [vm for vm in facts.vms if vm_in_scope(policy.scope, vm)] if any(policy.scope.values()) else facts.vms
    return EVALUATORS[policy.kind](policy, facts, scoped)


# -- what the exported policy reads ----------------------------------------------------------------------------

def vm_exports_record(*, run: ScanRun, events: list[ObservedEvent]) -> int:
    """Keep the scan's export tasks and clones (each event once, by its key) for the ``exported`` policy: an
    export on the exported VM, a clone on its source VM with where the clone went. Returns how many are new."""
    wanted = [e for e in events if (e.kind == VMEventKind.TASK and e.task in EXPORT_TASKS)
              or (e.kind == VMEventKind.CLONED and e.source_vm_moref)]
    if not wanted:
        return 0
    copied_morefs = {e.source_vm_moref if e.kind == VMEventKind.CLONED else e.vm_moref for e in wanted}
    by_moref = dict(VirtualMachine.objects.filter(source=run.source, moref__in=copied_morefs)
                    .values_list("moref", "id"))
    rows = []
    for event in wanted:
        clone = event.kind == VMEventKind.CLONED
        vm_id = by_moref.get(event.source_vm_moref if clone else event.vm_moref)
        if vm_id is None:
            continue
        rows.append(VMExport(
            vm_id=vm_id, source=run.source, scan_run=run, at=event.at, user=event.user[:200], event_key=event.key,
            kind=VMExport.Kind.CLONE if clone else VMExport.Kind.OVF_EXPORT,
            destination_host_moref=event.host_moref if clone else "", destination_datastore=event.datastore[:255],
            clone_name=event.vm_name[:255] if clone else "", clone_moref=event.vm_moref if clone else "",
        ))
    before = VMExport.objects.filter(source=run.source).count()
    VMExport.objects.bulk_create(rows, ignore_conflicts=True)
    return VMExport.objects.filter(source=run.source).count() - before
