"""Catalog files (``compliance/data/*.csv``): read and check them all, then load them all or nothing.

A catalog file is CSV with a head of ``# key: value`` lines describing it::

    # framework: hipaa                       the framework's slug (one file per framework)
    # name: HIPAA Security Rule
    # kind: regulation                       a FrameworkKind value
    # description: ...                       optional
    # source S1: 45 CFR 164.308 ...          one or more; rows name their source by key
    # mapping-source: NIST OLIR ...          required when a row maps to 800-53
    # mapping-relationship: informative_reference
    # note: ...                              any number: what the file could not confirm, and why
    citation,parent,kind,implementation,title,source,nist_800_53,text

Columns ``citation``, ``parent``, ``kind``, ``title`` and ``source`` are required; ``implementation``
(required / addressable, on implementation specifications only), ``references``, ``nist_800_53`` (800-53
control IDs separated by spaces) and ``text`` are optional. A parent is listed before its children. Below the
column header, lines starting with ``#`` are comments. Values hold no line breaks, so every problem is named
by its line and field.

Versions: the SHA-256 of a file's bytes is its content hash. A framework gets a new ``CatalogVersion`` when
its file's hash differs from the latest version's, or, for a framework that maps to 800-53, when 800-53 got a
new version (its mappings must point at the new version's controls). Versions are never edited. Loading is one
transaction: any problem in any file means nothing is written.
"""

import csv
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from compliance.choices import FrameworkKind, Implementation, MappingRelationship, RequirementKind
from compliance.models import CatalogVersion, Framework, Mapping, Requirement
from portal.models import User
from portal.services.audit import audit_log

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
HUB_SLUG = "nist-800-53"
HUB_COLUMN = "nist_800_53"
REQUIRED_COLUMNS = ("citation", "parent", "kind", "title", "source")
OPTIONAL_COLUMNS = ("implementation", "references", HUB_COLUMN, "text")
SINGLE_DIRECTIVES = ("framework", "name", "kind", "description", "mapping-source", "mapping-relationship")
REQUIRED_DIRECTIVES = ("framework", "name", "kind")
DIRECTIVE = re.compile(r"#\s*(?P<key>[a-z][a-z-]*)(?:\s+(?P<arg>[A-Za-z0-9_-]+))?\s*:\s*(?P<value>.*)")
CONTROL_ID = re.compile(r"[A-Z]{2}-\d+(\(\d+\))?")
HUB_KINDS = {RequirementKind.CONTROL, RequirementKind.CONTROL_ENHANCEMENT}
# Lengths of the model fields the values go to.
CITATION_MAX = 64
TITLE_MAX = 300
SOURCE_MAX = 300
NAME_MAX = 200


@dataclass(frozen=True, order=True)
class CatalogProblem:
    """One reason the load was refused, pointing at the file, line and field to fix."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}, {self.field}: {self.message}"


class CatalogFileError(Exception):
    """Catalog files that cannot be loaded; ``problems`` names every one, and nothing was written."""

    def __init__(self, problems: list[CatalogProblem]):
        self.problems = sorted(problems)
        super().__init__(f"{len(self.problems)} problem(s); nothing was loaded")


@dataclass(frozen=True)
class CatalogLoadResult:
    """What loading did for one framework: its latest version, and whether this load created it."""

    slug: str
    number: int
    created: bool
    requirements: int = 0
    mappings: int = 0
    reason: str = ""


@dataclass
class _Row:
    line: int
    citation: str
    parent: str
    kind: str
    implementation: str
    title: str
    source: str
    references: str
    text: str
    controls: list[str]


@dataclass
class _Catalog:
    file_name: str
    content_hash: str
    directives: dict[str, tuple[int, str]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)
    last_line: int = 0

    @property
    def slug(self) -> str:
        return self.directives.get("framework", (0, ""))[1]

    def directive(self, key: str) -> str:
        return self.directives.get(key, (0, ""))[1]

    @property
    def maps_to_hub(self) -> bool:
        return any(row.controls for row in self.rows)


class _Reader:
    """Reads one file into a ``_Catalog``, adding every problem it finds."""

    def __init__(self, path: Path, problems: list[CatalogProblem]):
        self.path = path
        self.name = path.name
        self.problems = problems

    def add(self, line: int, field_name: str, message: str) -> None:
        self.problems.append(CatalogProblem(self.name, line, field_name, message))

    def read(self) -> _Catalog | None:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            self.add(1, "file", f"cannot be read: {exc.strerror or exc}")
            return None
        catalog = _Catalog(self.name, hashlib.sha256(raw).hexdigest())
        if b"\x00" in raw:
            self.add(raw[: raw.index(b"\x00")].count(b"\n") + 1, "file", "contains a NUL byte: not a text file")
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.add(raw[: exc.start].count(b"\n") + 1, "file", "is not UTF-8 text")
            return None
        lines = text.splitlines()
        catalog.last_line = max(len(lines), 1)
        columns = self._read_head(lines, catalog)
        if columns is None:
            return catalog
        header_line, names = columns
        seen: dict[str, int] = {}
        for number, line in enumerate(lines[header_line:], start=header_line + 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            values = self._fields(number, line, len(names))
            if values is not None:
                self._read_row(number, dict(zip(names, values, strict=True)), catalog, seen)
        if not catalog.rows and not any(p.file == self.name for p in self.problems):
            self.add(header_line, "file", "lists no requirements below the column header")
        self._check_directives(catalog)
        return catalog

    def _read_head(self, lines: list[str], catalog: _Catalog) -> tuple[int, list[str]] | None:
        """The directives above the column header, then the header itself: (its line number, its columns)."""
        for number, line in enumerate(lines, start=1):
            stripped = line.strip()
            if not stripped or stripped == "#":
                continue
            if stripped.startswith("#"):
                self._read_directive(number, stripped, catalog)
                continue
            values = self._fields(number, line, None)
            if values is None:
                return None
            names = [value.strip().lower() for value in values]
            known = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
            ok = True
            for name in names:
                if name not in known:
                    self.add(number, name or "header", f"unknown column (expected {', '.join(known)})")
                    ok = False
                elif names.count(name) > 1:
                    self.add(number, name, "column given twice")
                    ok = False
            for name in REQUIRED_COLUMNS:
                if name not in names:
                    self.add(number, name, "missing column")
                    ok = False
            return (number, names) if ok else None
        self.add(catalog.last_line, "header", "no column header row: is the file empty or truncated?")
        return None

    def _read_directive(self, number: int, line: str, catalog: _Catalog) -> None:
        match = DIRECTIVE.fullmatch(line)
        if not match:
            self.add(number, "header", "above the column header, a comment line is '# key: value'")
            return
        key, arg, value = match["key"], match["arg"], match["value"].strip()
        if key == "source":
            if not arg:
                self.add(number, "source", "name the source's key: '# source S1: title'")
            elif arg in catalog.sources:
                self.add(number, "source", f"source key {arg!r} declared twice")
            elif not value or len(value) > SOURCE_MAX:
                self.add(number, "source", f"a source needs a title of at most {SOURCE_MAX} characters")
            else:
                catalog.sources[arg] = value
        elif key == "note":
            if value:
                catalog.notes.append(value)
        elif key in SINGLE_DIRECTIVES and not arg:
            if key in catalog.directives:
                self.add(number, key, f"given twice (first on line {catalog.directives[key][0]})")
            else:
                catalog.directives[key] = (number, value)
        else:
            allowed = ", ".join((*SINGLE_DIRECTIVES, "source KEY", "note"))
            self.add(number, "header", f"unknown key {key!r} (expected {allowed})")

    def _fields(self, number: int, line: str, expected: int | None) -> list[str] | None:
        try:
            values = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            self.add(number, "file", f"is not valid CSV ({exc}): a quote left open, or the file cut short?")
            return None
        if expected is not None and len(values) != expected:
            self.add(number, "file", f"has {len(values)} fields where the header has {expected}: "
                                     "a comma not quoted, or the file cut short?")
            return None
        return values

    def _read_row(self, number: int, raw: dict[str, str], catalog: _Catalog, seen: dict[str, int]) -> None:
        values = {name: value.strip() for name, value in raw.items()}
        row = _Row(
            line=number,
            citation=values["citation"],
            parent=values["parent"],
            kind=values["kind"],
            implementation=values.get("implementation", ""),
            title=values["title"],
            source=values["source"],
            references=values.get("references", ""),
            text=values.get("text", ""),
            controls=values.get(HUB_COLUMN, "").split(),
        )
        if not row.citation:
            self.add(number, "citation", "is required")
        elif len(row.citation) > CITATION_MAX:
            self.add(number, "citation", f"is longer than {CITATION_MAX} characters")
        elif row.citation in seen:
            self.add(number, "citation", f"duplicate citation {row.citation!r} (first on line {seen[row.citation]})")
        if row.parent and row.parent not in seen:
            self.add(number, "parent", f"unknown parent {row.parent!r}: a parent's row comes before its children's")
        if row.kind not in RequirementKind.values:
            self.add(number, "kind", f"unknown kind {row.kind!r} (expected one of {', '.join(RequirementKind.values)})")
        is_specification = row.kind == RequirementKind.IMPLEMENTATION_SPECIFICATION
        if row.implementation and row.implementation not in Implementation.values:
            self.add(number, "implementation", f"{row.implementation!r} is not required or addressable")
        elif is_specification and not row.implementation:
            self.add(number, "implementation", "an implementation specification is required or addressable")
        elif row.implementation and not is_specification:
            self.add(number, "implementation", "only implementation specifications are required or addressable")
        if not row.title:
            self.add(number, "title", "is required")
        elif len(row.title) > TITLE_MAX:
            self.add(number, "title", f"is longer than {TITLE_MAX} characters")
        if row.source not in catalog.sources:
            declared = ", ".join(catalog.sources) or "none"
            self.add(number, "source", f"unknown source key {row.source!r} (declared: {declared})")
        for control in row.controls:
            if not CONTROL_ID.fullmatch(control):
                self.add(number, HUB_COLUMN, f"{control!r} is not an 800-53 control ID such as AC-2 or CP-9(1)")
        if len(set(row.controls)) != len(row.controls):
            self.add(number, HUB_COLUMN, "names a control twice")
        if row.citation and row.citation not in seen:
            seen[row.citation] = number
        catalog.rows.append(row)

    def _check_directives(self, catalog: _Catalog) -> None:
        for key in REQUIRED_DIRECTIVES:
            if not catalog.directive(key):
                self.add(1, key, f"missing '# {key}: ...' line")
        line, slug = catalog.directives.get("framework", (1, ""))
        if slug and slugify(slug) != slug:
            self.add(line, "framework", f"{slug!r} is not a slug (lower-case letters, digits and '-')")
        line, name = catalog.directives.get("name", (1, ""))
        if len(name) > NAME_MAX:
            self.add(line, "name", f"is longer than {NAME_MAX} characters")
        line, kind = catalog.directives.get("kind", (1, ""))
        if kind and kind not in FrameworkKind.values:
            self.add(line, "kind", f"unknown kind {kind!r} (expected one of {', '.join(FrameworkKind.values)})")
        if not catalog.sources:
            self.add(1, "source", "declare at least one '# source KEY: title' line")
        if not catalog.maps_to_hub:
            return
        first = next(row.line for row in catalog.rows if row.controls)
        if slug == HUB_SLUG:
            self.add(first, HUB_COLUMN, f"{HUB_SLUG} is the hub: its rows map to nothing")
        line, source = catalog.directives.get("mapping-source", (first, ""))
        if not source or len(source) > SOURCE_MAX:
            self.add(line, "mapping-source", f"rows map to 800-53: say who publishes the links "
                                             f"(at most {SOURCE_MAX} characters)")
        line, relationship = catalog.directives.get("mapping-relationship", (first, ""))
        if relationship not in MappingRelationship.values:
            self.add(line, "mapping-relationship",
                     f"{relationship!r} is not one of {', '.join(MappingRelationship.values)}")


def catalog_files(directory: Path = DATA_DIR) -> list[Path]:
    """The catalog files of a directory, in name order."""
    return sorted(directory.glob("*.csv"))


def _hub_citations(catalogs: list[_Catalog]) -> set[str] | None:
    """The 800-53 controls mappings may point at: those of the hub file being loaded, else of the latest hub."""
    hub = next((catalog for catalog in catalogs if catalog.slug == HUB_SLUG), None)
    if hub is not None:
        return {row.citation for row in hub.rows if row.kind in HUB_KINDS}
    latest = CatalogVersion.objects.filter(framework__slug=HUB_SLUG).order_by("-number").first()
    if latest is None:
        return None
    return set(latest.requirements.filter(kind__in=HUB_KINDS).values_list("citation", flat=True))


def catalogs_check(paths: list[Path]) -> list[_Catalog]:
    """Read and check every file, and the files against each other; raises ``CatalogFileError``."""
    problems: list[CatalogProblem] = []
    catalogs = [catalog for path in paths if (catalog := _Reader(path, problems).read()) is not None]
    by_slug: dict[str, str] = {}
    for catalog in catalogs:
        if catalog.slug and catalog.slug in by_slug:
            line = catalog.directives["framework"][0]
            message = f"{catalog.slug!r} is also the framework of {by_slug[catalog.slug]}"
            problems.append(CatalogProblem(catalog.file_name, line, "framework", message))
        by_slug.setdefault(catalog.slug, catalog.file_name)
    if any(catalog.maps_to_hub for catalog in catalogs):
        controls = _hub_citations(catalogs)
        for catalog in catalogs:
            for row in catalog.rows:
                for control in filter(CONTROL_ID.fullmatch, row.controls):
                    if controls is None:
                        message = f"no {HUB_SLUG} catalog is loaded or being loaded to map to"
                    elif control in controls:
                        continue
                    else:
                        message = f"unknown 800-53 control {control!r}: add it to the {HUB_SLUG} catalog"
                    problems.append(CatalogProblem(catalog.file_name, row.line, HUB_COLUMN, message))
    if problems:
        raise CatalogFileError(problems)
    return catalogs


def _tree_order(rows: list[_Row]) -> list[tuple[_Row, int]]:
    """The rows in depth-first order (siblings in file order), each with its depth."""
    children: dict[str, list[_Row]] = defaultdict(list)
    for row in rows:
        children[row.parent].append(row)
    ordered: list[tuple[_Row, int]] = []
    stack = [(row, 0) for row in reversed(children[""])]
    while stack:
        row, depth = stack.pop()
        ordered.append((row, depth))
        stack.extend((child, depth + 1) for child in reversed(children[row.citation]))
    return ordered


def _version_create(
    *, framework: Framework, catalog: _Catalog, number: int, hub_version: CatalogVersion | None
) -> tuple[CatalogVersion, int, int]:
    """Write one version with its requirements (a level at a time, so parents have ids) and its mappings."""
    version = CatalogVersion.objects.create(
        framework=framework,
        number=number,
        content_hash=catalog.content_hash,
        file_name=catalog.file_name,
        loaded_at=timezone.now(),
        source_documents=[{"key": key, "title": title} for key, title in catalog.sources.items()],
        notes=catalog.notes,
        mapping_source=catalog.directive("mapping-source") if catalog.maps_to_hub else "",
        hub_version=hub_version if catalog.maps_to_hub else None,
    )
    saved: dict[str, Requirement] = {}
    by_depth: dict[int, list[tuple[_Row, Requirement]]] = defaultdict(list)
    for order, (row, depth) in enumerate(_tree_order(catalog.rows), start=1):
        requirement = Requirement(
            version=version,
            citation=row.citation,
            kind=row.kind,
            implementation=row.implementation or None,
            title=row.title,
            text=row.text,
            references=row.references,
            source_document=catalog.sources[row.source],
            order=order,
            depth=depth,
        )
        by_depth[depth].append((row, requirement))
    for depth in sorted(by_depth):
        for row, requirement in by_depth[depth]:
            requirement.parent = saved[row.parent] if row.parent else None
        Requirement.objects.bulk_create([requirement for _, requirement in by_depth[depth]])
        saved.update({row.citation: requirement for row, requirement in by_depth[depth]})
    mappings = []
    if catalog.maps_to_hub:
        controls = {r.citation: r for r in hub_version.requirements.filter(kind__in=HUB_KINDS)}
        relationship, source = catalog.directive("mapping-relationship"), catalog.directive("mapping-source")
        mappings = [
            Mapping(requirement=saved[row.citation], target=controls[control], relationship=relationship, source=source)
            for row in catalog.rows
            for control in row.controls
        ]
        Mapping.objects.bulk_create(mappings)
    return version, len(saved), len(mappings)


def _catalog_apply(
    catalog: _Catalog, hub_version: CatalogVersion | None, actor: User | None
) -> tuple[CatalogLoadResult, CatalogVersion]:
    framework, _ = Framework.objects.get_or_create(
        slug=catalog.slug, defaults={"name": catalog.directive("name"), "kind": catalog.directive("kind")}
    )
    framework = Framework.objects.select_for_update().get(pk=framework.pk)
    described = {key: catalog.directive(key) for key in ("name", "kind", "description")}
    if any(getattr(framework, key) != value for key, value in described.items()):
        for key, value in described.items():
            setattr(framework, key, value)
        framework.save(update_fields=list(described))
    latest = framework.versions.order_by("-number").first()
    if latest is None:
        reason = "first load"
    elif latest.content_hash != catalog.content_hash:
        reason = "file changed"
    elif catalog.maps_to_hub and latest.hub_version_id != hub_version.pk:
        reason = f"{HUB_SLUG} changed"
    else:
        return CatalogLoadResult(catalog.slug, latest.number, created=False), latest
    number = latest.number + 1 if latest else 1
    version, requirements, mappings = _version_create(
        framework=framework, catalog=catalog, number=number, hub_version=hub_version
    )
    audit_log(
        action="compliance.catalog_loaded",
        actor=actor,
        actor_label="system: catalog load",
        obj=version,
        details={
            "file": catalog.file_name, "number": number, "content_hash": catalog.content_hash, "reason": reason,
            "requirements": requirements, "mappings": mappings,
            "hub_version": str(version.hub_version) if version.hub_version else None,
        },
    )
    return CatalogLoadResult(catalog.slug, number, True, requirements, mappings, reason), version


@transaction.atomic
def catalogs_load(*, paths: list[Path] | None = None, actor: User | None = None) -> list[CatalogLoadResult]:
    """Load catalog files (by default every file in ``compliance/data/``): all of them or, on a problem, none.

    Each framework whose file changed gets a new version (800-53 first, so the others map into its newest
    version); an unchanged file changes nothing. Returns one result per file, in load order. Raises
    ``CatalogFileError`` naming every problem by file, line and field; then nothing was written.
    """
    catalogs = catalogs_check(catalog_files() if paths is None else paths)
    catalogs.sort(key=lambda catalog: (catalog.slug != HUB_SLUG, catalog.file_name))
    hub_version = CatalogVersion.objects.filter(framework__slug=HUB_SLUG).order_by("-number").first()
    results = []
    for catalog in catalogs:
        result, version = _catalog_apply(catalog, hub_version, actor)
        if catalog.slug == HUB_SLUG:
            hub_version = version
        results.append(result)
    return results
