"""Hardening baselines: reading them from YAML or CSV, storing them, and judging a VM's advanced settings.

A baseline file is refused whole when any rule is wrong: every problem names its line and field, and the
stored baseline stays as it was. The default baseline (the vSphere 8 Security Configuration Guide VM settings)
ships as data in ``inventory/data/baselines/``.
"""

import fnmatch
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from inventory.choices import Comparison
from inventory.models import Baseline, BaselineRule
from portal.models import User
from portal.services.audit import audit_log
from portal.tabular.csv import decode, records
from portal.tabular.problems import ImportRefused, Numbering, Problems

BASELINE_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "baselines"
DEFAULT_BASELINE_NAME = "vSphere 8 SCG"
# A baseline file larger than this is not a baseline (the shipped one is 4 kB).
MAX_BASELINE_BYTES = 1024 * 1024
RULE_FIELDS = ("key", "comparison", "expected", "absent_means", "source")
FIELD_LENGTHS = {name: BaselineRule._meta.get_field(name).max_length for name in RULE_FIELDS}
NUMERIC = (Comparison.AT_LEAST, Comparison.AT_MOST)


@dataclass(frozen=True)
class RuleSpec:
    """One rule as read from a file, before it is stored."""

    key: str
    comparison: str
    expected: str
    absent_means: str
    source: str


@dataclass(frozen=True)
class BaselineSpec:
    name: str
    description: str
    data_categories: list[str]
    rules: list[RuleSpec]


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None


def _rule(values: dict[str, Any], line: int, field_lines: dict[str, int], problems: Problems) -> RuleSpec | None:
    """A rule from its fields, or None with a problem per wrong field."""
    before = len(problems)
    cleaned = {}
    for name in RULE_FIELDS:
        raw = values.get(name, "")
        text = "" if raw is None else (("TRUE" if raw else "FALSE") if isinstance(raw, bool) else str(raw)).strip()
        if len(text) > FIELD_LENGTHS[name]:
            problems.add(field_lines.get(name, line), name, f"is longer than {FIELD_LENGTHS[name]} characters")
        cleaned[name] = text
    unknown = sorted(set(values) - set(RULE_FIELDS))
    for name in unknown:
        problems.add(field_lines.get(name, line), name, f"is not a rule field (expected {', '.join(RULE_FIELDS)})")
    if not cleaned["key"]:
        problems.add(field_lines.get("key", line), "key", "is empty: name the advanced setting")
    comparison = cleaned["comparison"].lower() or Comparison.EQUALS
    if comparison not in Comparison.values:
        problems.add(field_lines.get("comparison", line), "comparison",
                     f"{cleaned['comparison']!r} is not one of {', '.join(Comparison.values)}")
    elif comparison in NUMERIC:
        for name in ("expected", "absent_means"):
            if (cleaned[name] or name == "expected") and _number(cleaned[name]) is None:
                problems.add(field_lines.get(name, line), name, f"{cleaned[name]!r} is not a number ({comparison})")
    elif comparison == Comparison.EQUALS and not cleaned["expected"]:
        problems.add(field_lines.get("expected", line), "expected", "is empty: say which value the key must have")
    if not cleaned["source"]:
        problems.add(field_lines.get("source", line), "source", "is empty: cite where the rule comes from")
    if len(problems) > before:
        return None
    return RuleSpec(cleaned["key"], comparison, cleaned["expected"], cleaned["absent_means"], cleaned["source"])


def _duplicates(rules: list[tuple[int, RuleSpec]], problems: Problems) -> None:
    seen: dict[str, int] = {}
    for line, rule in rules:
        if rule.key in seen:
            problems.add(line, "key", f"{rule.key!r} is already a rule on line {seen[rule.key]}")
        seen.setdefault(rule.key, line)


def _yaml_value(node: yaml.Node) -> Any:
    """The Python value of one composed node (composing keeps the lines that loading forgets)."""
    return yaml.safe_load(yaml.serialize(node))


def parse_yaml(text: str) -> tuple[dict[str, Any], list[tuple[int, RuleSpec]], Problems]:
    """The header fields and the rules of a YAML baseline, each rule with its line (lines as an editor counts)."""
    problems = Problems(Numbering.LINE)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problems.add(mark.line + 1 if mark else 0, "", f"is not valid YAML: {getattr(error, 'problem', error)}")
        return {}, [], problems
    if not isinstance(root, yaml.MappingNode):
        problems.add(1, "", "must be a mapping with name, description, data_categories and rules")
        return {}, [], problems
    header: dict[str, Any] = {}
    rules: list[tuple[int, RuleSpec]] = []
    for key_node, value_node in root.value:
        name = key_node.value
        if name != "rules":
            header[name] = (_yaml_value(value_node), key_node.start_mark.line + 1)
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            problems.add(key_node.start_mark.line + 1, "rules", "must be a list of rules")
            continue
        for item in value_node.value:
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.MappingNode):
                problems.add(line, "", "a rule must be a mapping of key, comparison, expected, absent_means, source")
                continue
            values = {k.value: _yaml_value(v) for k, v in item.value}
            field_lines = {k.value: k.start_mark.line + 1 for k, _v in item.value}
            rule = _rule(values, line, field_lines, problems)
            if rule is not None:
                rules.append((line, rule))
    return header, rules, problems


def parse_csv(text: str) -> tuple[list[tuple[int, RuleSpec]], Problems]:
    """Rules from a CSV with a header row naming the rule fields (key, comparison, expected, absent_means,
    source), each with its line."""
    problems = Problems(Numbering.LINE)
    rows = iter(records(text, problems, by_line=True))
    header = next(rows, None)
    if header is None:
        if not problems:
            problems.add(0, "", "is empty: expected a header row " + ",".join(RULE_FIELDS))
        return [], problems
    columns = [cell.strip().lower() for cell in header[1]]
    missing = [name for name in ("key", "source") if name not in columns]
    if missing:
        problems.add(header[0], "", f"the header lacks {', '.join(missing)} (expected {','.join(RULE_FIELDS)})")
        return [], problems
    rules = []
    for line, record in rows:
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(columns):
            problems.add(line, "", f"has {len(record)} cells, the header {len(columns)}")
            continue
        values = dict(zip(columns, record, strict=False))
        rule = _rule(values, line, {}, problems)
        if rule is not None:
            rules.append((line, rule))
    return rules, problems


def baseline_file_parse(*, data: bytes, filename: str, name: str = "") -> BaselineSpec:
    """A baseline from an uploaded file (``.yaml``/``.yml`` or ``.csv``); raises ``ImportRefused`` naming every
    problem by line and field. ``name`` (from the form) wins over the file's."""
    problems = Problems(Numbering.LINE)
    suffix = Path(filename).suffix.lower()
    if len(data) > MAX_BASELINE_BYTES:
        problems.add(0, "", f"is larger than {MAX_BASELINE_BYTES // 1024} kB; a baseline is a short list of rules")
        raise ImportRefused(problems)
    if suffix not in (".yaml", ".yml", ".csv"):
        problems.add(0, "", f"{filename!r}: a baseline is a .yaml, .yml or .csv file")
        raise ImportRefused(problems)
    text = decode(data, problems)
    if text is None:
        raise ImportRefused(problems)
    header: dict[str, tuple[Any, int]] = {}
    if suffix == ".csv":
        rules, problems = parse_csv(text)
    else:
        header, rules, problems = parse_yaml(text)
    _duplicates(rules, problems)
    file_name, name_line = header.get("name", ("", 0))
    name = (name or str(file_name or "")).strip()
    if not name:
        problems.add(name_line, "name", "the baseline needs a name (in the form, or name: in the file)")
    elif len(name) > Baseline._meta.get_field("name").max_length:
        problems.add(name_line, "name", "is longer than 100 characters")
    categories, categories_line = header.get("data_categories", ([], 0))
    if not isinstance(categories, list) or not all(isinstance(item, str) for item in categories):
        problems.add(categories_line, "data_categories", "must be a list of names, e.g. [ePHI]")
        categories = []
    if not rules and not problems:
        problems.add(0, "rules", "there is no rule in the file")
    if problems:
        raise ImportRefused(problems)
    description, _line = header.get("description", ("", 0))
    return BaselineSpec(name, str(description or "").strip(), [c.strip() for c in categories if c.strip()],
                        [rule for _line, rule in rules])


@transaction.atomic
def baseline_save(*, spec: BaselineSpec, user: User | None, actor_label: str = "") -> Baseline:
    """Create or replace the baseline named ``spec.name`` with ``spec``'s rules, and audit it."""
    baseline, created = Baseline.objects.get_or_create(name=spec.name)
    before = list(baseline.rules.values_list("key", "comparison", "expected", "absent_means", "source"))
    after = [(r.key, r.comparison, r.expected, r.absent_means, r.source) for r in spec.rules]
    if (not created and before == after and baseline.description == spec.description
            and baseline.data_categories == spec.data_categories):
        return baseline
    baseline.description, baseline.data_categories, baseline.updated_by = (
        spec.description, spec.data_categories, user)
    baseline.save()
    baseline.rules.all().delete()
    BaselineRule.objects.bulk_create(
        BaselineRule(baseline=baseline, position=index, key=r.key, comparison=r.comparison, expected=r.expected,
                     absent_means=r.absent_means, source=r.source)
        for index, r in enumerate(spec.rules)
    )
    audit_log(action="baseline.created" if created else "baseline.replaced", actor=user, actor_label=actor_label,
              obj=baseline, details={"rules": len(after), "removed": sorted({b[0] for b in before} -
                                                                             {a[0] for a in after})})
    return baseline


def baseline_import(*, data: bytes, filename: str, name: str = "", user: User) -> Baseline:
    """A security admin's upload: parse it whole (``ImportRefused`` changes nothing), then store it."""
    return baseline_save(spec=baseline_file_parse(data=data, filename=filename, name=name), user=user)


def baselines_load_shipped() -> list[Baseline]:
    """Store the baselines shipped in ``inventory/data/baselines``; a second load changes nothing."""
    loaded = []
    for path in sorted(BASELINE_DATA_DIR.glob("*.yaml")):
        spec = baseline_file_parse(data=path.read_bytes(), filename=path.name)
        loaded.append(baseline_save(spec=spec, user=None, actor_label="system: policies_load"))
    return loaded


# -- judging a VM ------------------------------------------------------------------------------------------------

def _matches(rule: BaselineRule | RuleSpec, value: str) -> bool:
    if rule.comparison == Comparison.EQUALS:
        return value.strip().lower() == rule.expected.strip().lower()
    number, limit = _number(value), _number(rule.expected)
    if number is None or limit is None:
        return False
    return number >= limit if rule.comparison == Comparison.AT_LEAST else number <= limit


def baseline_failures(rules: list[BaselineRule], settings: dict[str, str]) -> list[dict[str, str]]:
    """The rules a VM's advanced settings break, each with what was expected and what the VM has (a key the VM
    does not set is judged by the rule's installation default, ``absent_means``; none means it fails)."""
    failures = []
    for rule in rules:
        if rule.comparison == Comparison.ABSENT:
            present = sorted(key for key in settings if fnmatch.fnmatchcase(key, rule.key))
            if present:
                failures.append({"key": rule.key, "expected": "absent", "actual": ", ".join(present)})
            continue
        if rule.key in settings:
            value, actual = str(settings[rule.key]), str(settings[rule.key])
        elif rule.absent_means:
            value, actual = rule.absent_means, f"not set (default {rule.absent_means})"
        else:
            failures.append({"key": rule.key, "expected": _expected(rule), "actual": "not set"})
            continue
        if not _matches(rule, value):
            failures.append({"key": rule.key, "expected": _expected(rule), "actual": actual})
    return failures


def _expected(rule: BaselineRule) -> str:
    prefix = {Comparison.AT_LEAST: "≥ ", Comparison.AT_MOST: "≤ "}.get(rule.comparison, "")
    return prefix + rule.expected
