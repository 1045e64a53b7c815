"""Loading the control library: the shipped file loads, a second run changes nothing, a changed row updates its
control with a new version and an audit event, and a malformed file is refused by line and column with nothing
written."""

import io

import pytest
from django.core.management import CommandError, call_command

from compliance.choices import MappingRelationship
from compliance.models import Control, ControlMapping
from compliance.services.catalogs import catalogs_load
from compliance.services.controls import LIBRARY_DIR, controls_load
from portal.models import AuditEvent
from portal.tabular.problems import ImportRefused
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "code,title,owner_role,frequency,metric,threshold,parameters,nist_800_53,requirements,description,"
    "test_procedure,evidence\n"
)
GOOD = [
    "VMC-01,Inventory completeness,compliance_officer,continuous,inventory_coverage,95,,CM-8,"
    "hipaa:164.310(d)(2)(iii),"
    "Every VM is declared.,Divide matched by scanned.,Reconciliation items.",
    'VMC-02,Rogue VM response,security_admin,daily,rogue_count,0,"{""grace_days"": 7}",CM-8 IR-4,,'
    'Rogue VMs are handled.,Count them.,The VMs.',
    "VMC-03,Training,compliance_officer,annual,,,,AT-2,,Staff are trained.,Compare records.,Training report.",
]


def library(tmp_path, rows, name="library.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return [path]


def state():
    return (
        list(Control.objects.order_by("code").values_list("code", "version", "title", "threshold", "owner_id")),
        list(ControlMapping.objects.order_by("id").values_list("control__code", "citation", "target_id")),
        AuditEvent.objects.count(),
    )


def test_the_shipped_library_loads_then_a_second_run_changes_nothing(shipped_catalogs):
    out = io.StringIO()
    call_command("load_controls", stdout=out)
    first = state()
    again = io.StringIO()
    call_command("load_controls", stdout=again)

    codes = [code for code, *_ in first[0]]
    assert 25 <= len(codes) <= 40 and codes[0] == "VMC-01"
    assert out.getvalue().startswith("created: VMC-01, VMC-02")
    assert again.getvalue() == f"{len(codes)} control(s) unchanged.\n"
    assert state() == first
    assert AuditEvent.objects.filter(action="compliance.control_created").count() == len(codes)
    # Every control reaches all three regulations through 800-53 or directly.
    assert Control.objects.filter(mappings__isnull=True).count() == 0
    assert LIBRARY_DIR.name == "controls"


def test_mappings_keep_the_citation_and_say_whether_they_are_direct(shipped_catalogs, tmp_path):
    controls_load(paths=library(tmp_path, GOOD))

    mappings = ControlMapping.objects.filter(control__code="VMC-01").order_by("citation")
    assert [(m.framework.slug, m.citation, m.relationship, m.target.citation) for m in mappings] == [
        ("hipaa", "164.310(d)(2)(iii)", MappingRelationship.DIRECT, "164.310(d)(2)(iii)"),
        ("nist-800-53", "CM-8", MappingRelationship.RELATED, "CM-8"),
    ]
    rogue = Control.objects.get(code="VMC-02")
    assert (rogue.metric, rogue.threshold, rogue.parameters) == ("rogue_count", 0, {"grace_days": 7})
    training = Control.objects.get(code="VMC-03")
    assert (training.metric, training.threshold, training.automated) == ("", None, False)


def test_a_changed_row_updates_its_control_with_a_new_version_and_keeps_what_the_portal_set(
    shipped_catalogs, tmp_path
):
    controls_load(paths=library(tmp_path, GOOD))
    owner = PersonFactory()
    Control.objects.filter(code__in=["VMC-01", "VMC-03"]).update(owner=owner)
    changed = [GOOD[0].replace(",95,", ",90,"), *GOOD[1:]]

    result = controls_load(paths=library(tmp_path, changed))

    assert (result.updated, result.created, result.unchanged) == (["VMC-01"], [], 2)
    coverage = Control.objects.get(code="VMC-01")
    assert (coverage.version, coverage.threshold, coverage.owner) == (2, 90, owner)
    event = AuditEvent.objects.get(action="compliance.control_updated")
    assert event.details["fields"] == ["threshold"] and event.details["version"] == 2
    assert Control.objects.get(code="VMC-03").version == 1


def test_a_control_dropped_from_the_file_is_retired_and_comes_back_as_a_new_version(shipped_catalogs, tmp_path):
    controls_load(paths=library(tmp_path, GOOD))

    dropped = controls_load(paths=library(tmp_path, GOOD[:2]))
    back = controls_load(paths=library(tmp_path, GOOD))

    assert dropped.retired == ["VMC-03"] and back.updated == ["VMC-03"]
    training = Control.objects.get(code="VMC-03")
    assert (training.retired_at, training.version) == (None, 2)


@pytest.mark.parametrize(
    ("row", "where"),
    [
        (GOOD[0].replace("VMC-01", "CTRL-1"), "library.csv line 2, code: 'CTRL-1' is not a control code"),
        (GOOD[0].replace("compliance_officer", "boss"), "library.csv line 2, owner_role: 'boss' is not a role"),
        (GOOD[0].replace("continuous", "sometimes"), "library.csv line 2, frequency: 'sometimes' is not one of"),
        (GOOD[0].replace("inventory_coverage", "vibes"), "library.csv line 2, metric: 'vibes' is not a metric"),
        (GOOD[0].replace(",95,", ",150,"), "library.csv line 2, threshold: is a percentage: at most 100"),
        (GOOD[0].replace(",95,", ",,"), "library.csv line 2, threshold: '' is not a number"),
        (GOOD[0].replace(",CM-8,", ",ZZ-9,"), "library.csv line 2, nist_800_53: 'ZZ-9' is not a control"),
        (GOOD[0].replace("hipaa:", "hippa:"), "library.csv line 2, requirements: 'hippa:164.310(d)(2)(iii)' is not"),
        (GOOD[2].replace(",AT-2,", ",,"), "library.csv line 2, nist_800_53: a control maps to at least one"),
        (GOOD[2].replace("annual,,,", "annual,,5,"), "library.csv line 2, threshold: only a control with a metric"),
        (GOOD[1].replace('""grace_days"": 7', '""grace"": 7'), "library.csv line 2, parameters: 'grace' is not a"),
        (GOOD[1].replace('"{""grace_days"": 7}"', "{grace}"), "library.csv line 2, parameters: is not JSON"),
        (GOOD[2].replace("Staff are trained.", ""), "library.csv line 2, description: is required"),
        (GOOD[2] + ",extra", "library.csv line 2: has 13 fields where the header has 12"),
    ],
)
def test_a_malformed_row_is_named_by_line_and_column_and_nothing_is_loaded(shipped_catalogs, tmp_path, row, where):
    controls_load(paths=library(tmp_path, GOOD[:1]))
    before = state()

    with pytest.raises(ImportRefused) as refused:
        controls_load(paths=library(tmp_path, [row, GOOD[1].replace("VMC-02", "VMC-09")]))

    assert any(problem.text().startswith(where) for problem in refused.value.problems), refused.value.problems
    assert state() == before


def test_a_code_listed_twice_names_both_lines(shipped_catalogs, tmp_path):
    with pytest.raises(ImportRefused) as refused:
        controls_load(paths=library(tmp_path, [GOOD[0], GOOD[0]]))

    assert [p.text() for p in refused.value.problems] == [
        "library.csv line 3, code: VMC-01 is listed twice (first on line 2)"
    ]
    assert Control.objects.count() == 0


def test_the_command_prints_the_problems_and_fails(shipped_catalogs, tmp_path):
    library(tmp_path, [GOOD[0].replace(",95,", ",-1,")])
    err = io.StringIO()

    with pytest.raises(CommandError, match="1 problem"):
        call_command("load_controls", "--dir", str(tmp_path), stderr=err)

    assert err.getvalue() == "library.csv line 2, threshold: is negative\n"
    assert Control.objects.count() == 0


def test_a_new_catalog_version_re_points_the_mappings_with_an_audit_event(shipped_catalogs, tmp_path, data_copy):
    own = tmp_path / "library"
    own.mkdir()
    controls_load(paths=library(own, GOOD))
    hub = data_copy / "nist-800-53.csv"
    hub.write_text(hub.read_text(encoding="utf-8").replace("Account Management", "Account management"),
                   encoding="utf-8")
    catalogs_load(paths=sorted(data_copy.glob("*.csv")))

    result = controls_load(paths=library(own, GOOD))

    assert (result.remapped, result.updated) == (["VMC-01", "VMC-02", "VMC-03"], [])
    newest = {m.target.version.number for m in ControlMapping.objects.select_related("target__version")}
    assert newest == {2}
    assert AuditEvent.objects.filter(action="compliance.control_remapped").count() == 3
    assert controls_load(paths=library(own, GOOD)).remapped == []
