"""Loading catalogs: one line per framework, nothing changes on a second run, a changed file is a new version,
and a malformed file is refused by line and field with nothing written."""

import io

import pytest
from django.core.management import CommandError, call_command

from compliance.models import CatalogVersion, Framework, Mapping, Requirement
from compliance.services.catalogs import CatalogFileError, catalogs_load
from portal.models import AuditEvent
from tests.compliance.conftest import HUB_HEAD, HUB_ROWS, RULE_HEAD, RULE_ROWS, write_catalog
from tests.compliance.test_catalog_data import HIPAA_RULE, HIPAA_SECTIONS

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command("load_catalogs", *args, stdout=out)
    return out.getvalue().splitlines()


def counts() -> tuple[int, ...]:
    return (
        Framework.objects.count(), CatalogVersion.objects.count(), Requirement.objects.count(),
        Mapping.objects.count(), AuditEvent.objects.count(),
    )


def test_the_command_loads_every_catalog_then_a_second_run_changes_nothing():
    first = run()
    after_first = counts()
    second = run()

    hipaa_rows = len(HIPAA_RULE) + len(HIPAA_SECTIONS)
    assert f"hipaa v1: {hipaa_rows} requirements loaded, 279 mappings to nist-800-53 (first load)" in first
    assert [line.split(":")[0] for line in first] == ["nist-800-53 v1", "glba v1", "hipaa v1", "sox v1"]
    assert second == ["nist-800-53 v1: unchanged", "glba v1: unchanged", "hipaa v1: unchanged", "sox v1: unchanged"]
    assert counts() == after_first
    assert after_first[0] == 4 and after_first[1] == 4
    assert AuditEvent.objects.filter(action="compliance.catalog_loaded").count() == 4


def test_each_new_version_is_in_the_audit_trail(small_dir):
    catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    event = AuditEvent.objects.get(action="compliance.catalog_loaded", object_repr="rule v1")
    assert event.actor_label == "system: catalog load"
    assert event.details["file"] == "rule.csv"
    assert (event.details["requirements"], event.details["mappings"]) == (4, 3)
    assert event.details["hub_version"] == "nist-800-53 v1"


def test_a_changed_file_becomes_version_2_and_version_1_is_kept(small_dir):
    run("--dir", str(small_dir))
    changed = [row.replace("Risk analysis", "Risk analysis (edited)") for row in RULE_ROWS]
    write_catalog(small_dir, "rule.csv", RULE_HEAD, changed)

    lines = run("--dir", str(small_dir))

    assert lines == [
        "nist-800-53 v1: unchanged", "rule v2: 4 requirements loaded, 3 mappings to nist-800-53 (file changed)"
    ]
    versions = {v.number: v for v in CatalogVersion.objects.filter(framework__slug="rule")}
    assert sorted(versions) == [1, 2]
    assert versions[1].content_hash != versions[2].content_hash
    titles = {n: v.requirements.get(citation="164.308(a)(1)(ii)(A)").title for n, v in versions.items()}
    assert titles == {1: "Risk analysis", 2: "Risk analysis (edited)"}


def test_a_new_800_53_version_gives_the_mapping_frameworks_a_new_version_into_it(small_dir):
    run("--dir", str(small_dir))
    write_catalog(small_dir, "hub.csv", HUB_HEAD, [*HUB_ROWS, "AU-12,AU,control,Audit Record Generation,N1"])

    lines = run("--dir", str(small_dir))

    assert lines == [
        f"nist-800-53 v2: {len(HUB_ROWS) + 1} requirements loaded (file changed)",
        "rule v2: 4 requirements loaded, 3 mappings to nist-800-53 (nist-800-53 changed)",
    ]
    rule = CatalogVersion.objects.get(framework__slug="rule", number=2)
    assert str(rule.hub_version) == "nist-800-53 v2"
    assert {m.target.version.number for m in Mapping.objects.filter(requirement__version=rule)} == {2}
    old = CatalogVersion.objects.get(framework__slug="rule", number=1)
    assert {m.target.version.number for m in Mapping.objects.filter(requirement__version=old)} == {1}


def test_a_catalog_may_map_into_the_800_53_already_loaded(small_dir):
    run("--dir", str(small_dir))
    (small_dir / "hub.csv").unlink()
    write_catalog(small_dir, "rule.csv", RULE_HEAD, [*RULE_ROWS, "164.308(a)(8),164.308,standard,,Evaluation,S1,AC-2,"])

    assert run("--dir", str(small_dir)) == ["rule v2: 5 requirements loaded, 4 mappings to nist-800-53 (file changed)"]


def test_rows_are_stored_in_tree_order_with_their_depth(tmp_path):
    write_catalog(tmp_path, "hub.csv", HUB_HEAD, HUB_ROWS)
    # A second root listed between a parent and a late child: the tree order still keeps children under parents.
    rows = [RULE_ROWS[0], RULE_ROWS[1], "164.310,,section,,Physical safeguards,S1,,", RULE_ROWS[2]]
    write_catalog(tmp_path, "rule.csv", RULE_HEAD, rows)
    catalogs_load(paths=sorted(tmp_path.glob("*.csv")))

    tree = list(Requirement.objects.filter(version__framework__slug="rule").values_list("citation", "depth"))
    assert tree == [("164.308", 0), ("164.308(a)(1)(i)", 1), ("164.308(a)(1)(ii)(A)", 2), ("164.310", 0)]


# --- refused files --------------------------------------------------------------------------------------------


def _replace(rows: list[str], index: int, row: str) -> list[str]:
    return [*rows[:index], row, *rows[index + 1:]]


# (what is wrong, the rule file's lines after its head, expected line, field, words of the message)
HEAD_LINES = RULE_HEAD.count("\n")
BAD_FILES = [
    ("unknown parent", _replace(RULE_ROWS, 2, RULE_ROWS[2].replace("164.308(a)(1)(i),impl", "164.308(a)(9),impl")),
     HEAD_LINES + 3, "parent", "unknown parent '164.308(a)(9)'"),
    ("duplicate citation", [*RULE_ROWS, RULE_ROWS[3]], HEAD_LINES + 5, "citation", "duplicate citation"),
    ("bad R/A value", _replace(RULE_ROWS, 2, RULE_ROWS[2].replace(",required,", ",Optional,")),
     HEAD_LINES + 3, "implementation", "'Optional' is not required or addressable"),
    ("R/A on a standard", _replace(RULE_ROWS, 1, RULE_ROWS[1].replace("standard,,", "standard,required,")),
     HEAD_LINES + 2, "implementation", "only implementation specifications"),
    ("specification without R/A", _replace(RULE_ROWS, 2, RULE_ROWS[2].replace(",required,", ",,")),
     HEAD_LINES + 3, "implementation", "required or addressable"),
    ("unknown kind", _replace(RULE_ROWS, 1, RULE_ROWS[1].replace(",standard,", ",rule,")),
     HEAD_LINES + 2, "kind", "unknown kind 'rule'"),
    ("unknown source key", _replace(RULE_ROWS, 1, RULE_ROWS[1].replace(",S1,", ",S9,")),
     HEAD_LINES + 2, "source", "unknown source key 'S9' (declared: S1)"),
    ("unknown control", _replace(RULE_ROWS, 3, RULE_ROWS[3].replace("AC-3", "AC-99")),
     HEAD_LINES + 4, "nist_800_53", "unknown 800-53 control 'AC-99'"),
    ("not a control ID", _replace(RULE_ROWS, 3, RULE_ROWS[3].replace("AC-3", "access")),
     HEAD_LINES + 4, "nist_800_53", "not an 800-53 control ID"),
    ("missing title", _replace(RULE_ROWS, 1, RULE_ROWS[1].replace("Security management process", "")),
     HEAD_LINES + 2, "title", "is required"),
    ("truncated in a row", [*RULE_ROWS[:3], RULE_ROWS[3][:25]],
     HEAD_LINES + 4, "file", "has 2 fields where the header has 8"),
    ("truncated in a quote", [*RULE_ROWS[:3], '164.308(a)(8),164.308,standard,,"Evaluat'],
     HEAD_LINES + 4, "file", "not valid CSV"),
]


@pytest.mark.parametrize(("case", "rows", "line", "field", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_a_bad_row_is_named_by_line_and_field_and_nothing_is_loaded(small_dir, case, rows, line, field, message):
    write_catalog(small_dir, "rule.csv", RULE_HEAD, rows)
    before = counts()

    with pytest.raises(CatalogFileError) as refused:
        catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    assert [(p.file, p.line, p.field) for p in refused.value.problems] == [("rule.csv", line, field)]
    assert message in refused.value.problems[0].message
    assert counts() == before == (0, 0, 0, 0, 0)


def test_an_unknown_or_missing_column_is_named_in_the_header(small_dir):
    head = RULE_HEAD.replace("implementation,title", "implementation,heading")
    write_catalog(small_dir, "rule.csv", head, RULE_ROWS)

    with pytest.raises(CatalogFileError) as refused:
        catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    header_line = HEAD_LINES
    assert [(p.line, p.field) for p in refused.value.problems] == [(header_line, "heading"), (header_line, "title")]
    assert [p.message for p in refused.value.problems][1] == "missing column"
    assert counts() == (0, 0, 0, 0, 0)


def test_a_nul_byte_is_refused_with_its_line(small_dir):
    path = small_dir / "rule.csv"
    rows = _replace(RULE_ROWS, 1, RULE_ROWS[1].replace("Security", "Secu\x00rity"))
    write_catalog(small_dir, "rule.csv", RULE_HEAD, rows)

    with pytest.raises(CatalogFileError) as refused:
        catalogs_load(paths=[small_dir / "hub.csv", path])

    assert [str(p) for p in refused.value.problems] == [
        f"rule.csv, line {HEAD_LINES + 2}, file: contains a NUL byte: not a text file"
    ]
    assert counts() == (0, 0, 0, 0, 0)


def test_a_file_cut_before_its_column_header_is_refused(small_dir):
    (small_dir / "rule.csv").write_text("# framework: rule\n# name: A small rule\n", encoding="utf-8")

    with pytest.raises(CatalogFileError) as refused:
        catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    assert [(p.line, p.field) for p in refused.value.problems] == [(2, "header")]
    assert "truncated" in refused.value.problems[0].message


def test_every_problem_of_every_file_is_reported_together(small_dir):
    write_catalog(small_dir, "hub.csv", HUB_HEAD, [*HUB_ROWS, "AC-2,AC,control,Account Management again,N1"])
    write_catalog(small_dir, "rule.csv", RULE_HEAD.replace("kind: regulation", "kind: statute"), RULE_ROWS)

    with pytest.raises(CatalogFileError) as refused:
        catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    assert [(p.file, p.field) for p in refused.value.problems] == [("hub.csv", "citation"), ("rule.csv", "kind")]


def test_a_refused_change_leaves_the_loaded_versions_as_they_were(small_dir):
    run("--dir", str(small_dir))
    before = counts()
    write_catalog(small_dir, "hub.csv", HUB_HEAD, [*HUB_ROWS, "AU-12,AU,control,Audit Record Generation,N1"])
    orphan = "164.308(a)(8),164.308(a)(7),standard,,Evaluation,S1,,"
    write_catalog(small_dir, "rule.csv", RULE_HEAD, [*RULE_ROWS, orphan])

    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("load_catalogs", "--dir", str(small_dir), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        f"rule.csv, line {HEAD_LINES + 5}, parent: unknown parent '164.308(a)(7)': "
        "a parent's row comes before its children's"
    ]
    assert counts() == before
    assert CatalogVersion.objects.filter(framework__slug="nist-800-53").count() == 1


def test_the_same_framework_in_two_files_is_refused(small_dir):
    write_catalog(small_dir, "rule-copy.csv", RULE_HEAD, RULE_ROWS)

    with pytest.raises(CatalogFileError) as refused:
        catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    assert [(p.file, p.field) for p in refused.value.problems] == [("rule.csv", "framework")]
    assert "also the framework of rule-copy.csv" in refused.value.problems[0].message


def test_html_in_a_title_is_stored_as_typed(small_dir):
    title = "<b>Security</b> <script>x</script>"
    rows = _replace(RULE_ROWS, 1, RULE_ROWS[1].replace("Security management process", title))
    write_catalog(small_dir, "rule.csv", RULE_HEAD, rows)

    catalogs_load(paths=sorted(small_dir.glob("*.csv")))

    assert Requirement.objects.get(citation="164.308(a)(1)(i)").title == title
