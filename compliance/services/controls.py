"""The control library (``compliance/data/controls/*.csv``): read and check it, then load all of it or nothing.

A library file is CSV (UTF-8, header first; rows whose first cell starts with ``#`` are comments)::

    code,title,owner_role,frequency,metric,threshold,parameters,nist_800_53,requirements,description,...

``code`` (``VMC-01``), ``title``, ``owner_role`` (a portal role), ``frequency``, ``description``,
``test_procedure`` and ``evidence`` are required. ``metric`` (blank: tested by attestation) needs a
``threshold`` in the metric's unit; ``parameters`` is a JSON object of the metric's settings. ``nist_800_53``
lists 800-53 controls separated by spaces, ``requirements`` direct links as ``framework:citation`` (e.g.
``hipaa:164.312(b)``); each must exist in the newest loaded catalogs, and a control needs at least one link.

Loading compares each row's SHA-256 with the control's ``definition_hash``: an unchanged row changes nothing
(not even an owner or threshold set in the portal), a changed row updates the control, bumps its version and
writes an audit event, a control no longer in the file is retired. Mappings are re-pointed, with an audit event,
when a catalog got a new version. Any problem in the file means nothing is written.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from compliance.choices import ControlFrequency, MappingRelationship, Metric
from compliance.evaluators.specs import SPECS
from compliance.models import Control, ControlMapping, Framework, Requirement
from compliance.selectors import latest_versions
from compliance.services.catalogs import HUB_KINDS, HUB_SLUG
from portal.choices import Role
from portal.models import Person, User
from portal.services.audit import audit_log
from portal.tabular.csv import decode, records
from portal.tabular.problems import ImportRefused, Numbering, Problems

LIBRARY_DIR = Path(__file__).resolve().parent.parent / "data" / "controls"
REQUIRED_COLUMNS = ("code", "title", "owner_role", "frequency", "description", "test_procedure", "evidence")
OPTIONAL_COLUMNS = ("metric", "threshold", "parameters", "nist_800_53", "requirements")
CODE = re.compile(r"VMC-\d{2,3}")
DIRECT = re.compile(r"(?P<slug>[a-z0-9-]+):(?P<citation>\S+)")
# Lengths of the model fields the values go to.
TITLE_MAX = 200
# Fields a changed row rewrites; ``owner`` is only ever set in the portal.
DEFINED_FIELDS = (
    "title", "description", "owner_role", "frequency", "test_procedure", "evidence", "metric", "threshold",
    "parameters",
)


@dataclass
class _Row:
    line: int
    values: dict
    targets: list[tuple[str, str, int]] = field(default_factory=list)  # (framework slug, citation, requirement id)
    definition_hash: str = ""


@dataclass(frozen=True)
class ControlLoadResult:
    """What a load did: codes created, updated (row changed), re-mapped (a catalog changed) and retired."""

    created: list[str]
    updated: list[str]
    remapped: list[str]
    retired: list[str]
    unchanged: int


def library_files(directory: Path = LIBRARY_DIR) -> list[Path]:
    return sorted(directory.glob("*.csv"))


def _catalog_index() -> dict[tuple[str, str], int]:
    """(framework slug, citation) → requirement id in each framework's newest version."""
    rows = Requirement.objects.filter(version__in=latest_versions()).values_list(
        "version__framework__slug", "citation", "kind", "id"
    )
    return {(slug, citation): pk for slug, citation, kind, pk in rows if slug != HUB_SLUG or kind in HUB_KINDS}


def _parameters(raw: str, metric: str, add) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        add("parameters", f"is not JSON ({exc.msg}): write an object such as {{\"grace_days\": 7}}")
        return {}
    if not isinstance(value, dict):
        add("parameters", "is a JSON object such as {\"grace_days\": 7}")
        return {}
    spec = SPECS.get(metric)
    if spec is None:
        add("parameters", "only a control with a metric has parameters")
        return {}
    for key, given in value.items():
        if key not in spec.parameters:
            known = ", ".join(spec.parameters) or "none"
            add("parameters", f"{key!r} is not a setting of {metric} (its settings: {known})")
            continue
        default = spec.parameters[key]
        if isinstance(default, int) and (not isinstance(given, int) or isinstance(given, bool) or given < 0):
            add("parameters", f"{key} is a whole number of at least 0")
        elif isinstance(default, dict) and not (
            isinstance(given, dict) and all(isinstance(v, str) for v in given.values())
        ):
            add("parameters", f"{key} is an object of setting names to their text values")
    return value


def _read_row(line: int, values: dict[str, str], index, seen: dict[str, int], problems: Problems, sheet: str):
    def add(column: str, message: str) -> None:
        problems.add(line, column, message, sheet=sheet)

    code = values["code"]
    if not CODE.fullmatch(code):
        add("code", f"{code!r} is not a control code such as VMC-01")
    elif code in seen:
        add("code", f"{code} is listed twice (first on line {seen[code]})")
    else:
        seen[code] = line
    for column in REQUIRED_COLUMNS:
        if not values[column]:
            add(column, "is required")
    if len(values["title"]) > TITLE_MAX:
        add("title", f"is longer than {TITLE_MAX} characters")
    if values["owner_role"] and values["owner_role"] not in Role.values:
        add("owner_role", f"{values['owner_role']!r} is not a role ({', '.join(Role.values)})")
    if values["frequency"] and values["frequency"] not in ControlFrequency.values:
        add("frequency", f"{values['frequency']!r} is not one of {', '.join(ControlFrequency.values)}")
    metric, threshold = values.get("metric", ""), None
    if metric and metric not in Metric.values:
        add("metric", f"{metric!r} is not a metric (blank for attestation, or one of {', '.join(Metric.values)})")
    raw_threshold = values.get("threshold", "")
    if metric in SPECS:
        try:
            threshold = Decimal(raw_threshold)
        except InvalidOperation:
            add("threshold", f"{raw_threshold!r} is not a number: a control with a metric needs its threshold")
        else:
            if not threshold.is_finite():
                add("threshold", "is not a number")
                threshold = None
            elif problem := SPECS[metric].threshold_problem(threshold):
                add("threshold", problem)
    elif raw_threshold:
        add("threshold", "only a control with a metric has a threshold")
    parameters = _parameters(values.get("parameters", ""), metric, add)
    targets = []
    for citation in values.get("nist_800_53", "").split():
        if (HUB_SLUG, citation) not in index:
            add("nist_800_53", f"{citation!r} is not a control of the loaded {HUB_SLUG} catalog")
        else:
            targets.append((HUB_SLUG, citation, index[(HUB_SLUG, citation)]))
    for written in values.get("requirements", "").split():
        match = DIRECT.fullmatch(written)
        if not match:
            add("requirements", f"{written!r} is not framework:citation, e.g. hipaa:164.312(b)")
        elif (match["slug"], match["citation"]) not in index or match["slug"] == HUB_SLUG:
            add("requirements", f"{written!r} is not a requirement of a loaded catalog (800-53 goes in nist_800_53)")
        else:
            targets.append((match["slug"], match["citation"], index[(match["slug"], match["citation"])]))
    if len({target[2] for target in targets}) != len(targets):
        add("nist_800_53", "names a requirement twice")
    if not targets and not any(p.row == line and p.column in OPTIONAL_COLUMNS for p in problems):
        add("nist_800_53", "a control maps to at least one 800-53 control or requirement")
    defined = {
        "title": values["title"], "description": values["description"], "owner_role": values["owner_role"],
        "frequency": values["frequency"], "test_procedure": values["test_procedure"],
        "evidence": values["evidence"], "metric": metric, "threshold": threshold, "parameters": parameters,
    }
    row = _Row(line, {"code": code, **defined}, targets)
    canonical = {**defined, "threshold": str(threshold) if threshold is not None else None,
                 "targets": sorted(f"{slug}:{citation}" for slug, citation, _ in targets)}
    row.definition_hash = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
    return row


def controls_check(paths: list[Path]) -> list[_Row]:
    """Every row of the files, checked; raises ``ImportRefused`` naming each problem by file, line and column."""
    problems = Problems(Numbering.LINE)
    index = _catalog_index()
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    if not paths:
        problems.add(0, "", f"no control library file (*.csv) in {LIBRARY_DIR}")
    for path in paths:
        sheet = path.name
        text = decode(path.read_bytes(), problems, sheet=sheet)
        if text is None:
            continue
        names: list[str] | None = None
        for line, record in records(text, problems, by_line=True, sheet=sheet):
            if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
                continue
            if names is None:
                names = [cell.strip().lower() for cell in record]
                known = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
                for name in names:
                    if name not in known:
                        problems.add(line, name or "header", f"unknown column (expected {', '.join(known)})",
                                     sheet=sheet)
                    elif names.count(name) > 1:
                        problems.add(line, name, "column given twice", sheet=sheet)
                for name in REQUIRED_COLUMNS:
                    if name not in names:
                        problems.add(line, name, "missing column", sheet=sheet)
                if any(p.sheet == sheet for p in problems):
                    break
                continue
            if len(record) != len(names):
                problems.add(line, "", f"has {len(record)} fields where the header has {len(names)}: "
                                       "a comma not quoted?", sheet=sheet)
                continue
            values = {name: cell.strip() for name, cell in zip(names, record, strict=True)}
            for name in OPTIONAL_COLUMNS:
                values.setdefault(name, "")
            rows.append(_read_row(line, values, index, seen, problems, sheet))
        if names is None and not any(p.sheet == sheet for p in problems):
            problems.add(0, "", "has no header row", sheet=sheet)
    if not rows and not problems:
        problems.add(0, "", "lists no controls")
    if problems:
        raise ImportRefused(problems)
    return rows


def _mappings_set(control: Control, row: _Row) -> None:
    control.mappings.all().delete()
    frameworks = dict(Framework.objects.filter(slug__in={t[0] for t in row.targets}).values_list("slug", "id"))
    ControlMapping.objects.bulk_create(
        ControlMapping(
            control=control, target_id=pk, framework_id=frameworks[slug], citation=citation,
            relationship=MappingRelationship.RELATED if slug == HUB_SLUG else MappingRelationship.DIRECT,
        )
        for slug, citation, pk in row.targets
    )


def _details(control: Control) -> dict:
    return {
        "version": control.version, "definition_hash": control.definition_hash, "metric": control.metric,
        "threshold": str(control.threshold) if control.threshold is not None else None,
    }


@transaction.atomic
def controls_load(*, paths: list[Path] | None = None, actor: User | None = None) -> ControlLoadResult:
    """Load the library (by default every file in ``compliance/data/controls/``): all of it, or on any problem
    nothing (``ImportRefused`` names each by file, line and column)."""
    rows = controls_check(library_files() if paths is None else paths)
    now = timezone.now()
    existing = {control.code: control for control in Control.objects.select_for_update().order_by("code")}
    current = {}
    for control_id, target_id in ControlMapping.objects.values_list("control_id", "target_id"):
        current.setdefault(control_id, set()).add(target_id)
    created, updated, remapped = [], [], []
    label = "system: control library load"
    for row in rows:
        code = row.values["code"]
        control = existing.get(code)
        defined = {name: row.values[name] for name in DEFINED_FIELDS}
        if control is None:
            control = Control.objects.create(
                code=code, definition_hash=row.definition_hash, loaded_at=now, **defined
            )
            _mappings_set(control, row)
            audit_log(action="compliance.control_created", actor=actor, actor_label=label, obj=control,
                      details=_details(control))
            created.append(code)
        elif control.definition_hash != row.definition_hash or control.retired_at is not None:
            changed = sorted(name for name, value in defined.items() if getattr(control, name) != value)
            for name, value in defined.items():
                setattr(control, name, value)
            control.version += 1
            control.definition_hash, control.loaded_at, control.retired_at = row.definition_hash, now, None
            control.save()
            _mappings_set(control, row)
            audit_log(action="compliance.control_updated", actor=actor, actor_label=label, obj=control,
                      details={**_details(control), "fields": changed})
            updated.append(code)
        elif current.get(control.pk, set()) != {target[2] for target in row.targets}:
            _mappings_set(control, row)
            audit_log(action="compliance.control_remapped", actor=actor, actor_label=label, obj=control,
                      details={"reason": "a catalog has a new version",
                               "targets": [f"{slug}:{citation}" for slug, citation, _ in row.targets]})
            remapped.append(code)
    codes = {row.values["code"] for row in rows}
    retired = []
    for code, control in existing.items():
        if code not in codes and control.retired_at is None:
            control.retired_at = now
            control.save(update_fields=["retired_at"])
            audit_log(action="compliance.control_retired", actor=actor, actor_label=label, obj=control,
                      details={"version": control.version})
            retired.append(code)
    unchanged = len(rows) - len(created) - len(updated) - len(remapped)
    return ControlLoadResult(created, updated, remapped, retired, unchanged)


@transaction.atomic
def control_update(*, control: Control, owner: Person | None, threshold: Decimal | None, user: User) -> Control:
    """A compliance officer assigns the control's owner and, for an automated control, its threshold (in the
    metric's unit); the change is audited with the values before and after. The next evaluation uses it."""
    control = Control.objects.select_for_update().get(pk=control.pk)
    if control.metric:
        if threshold is None:
            raise ValidationError({"threshold": "An automated control needs a threshold."})
        if problem := SPECS[control.metric].threshold_problem(threshold):
            raise ValidationError({"threshold": f"The threshold {problem}."})
    elif threshold is not None:
        raise ValidationError({"threshold": "A control tested by attestation has no threshold."})
    before = {"owner": control.owner_id, "threshold": str(control.threshold) if control.threshold is not None else None}
    control.owner, control.threshold = owner, threshold
    after = {"owner": control.owner_id, "threshold": str(threshold) if threshold is not None else None}
    if before == after:
        return control
    control.save(update_fields=["owner", "threshold"])
    audit_log(action="compliance.control_edited", actor=user, obj=control, details={"before": before, "after": after})
    return control
