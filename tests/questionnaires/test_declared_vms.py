"""Saving VM lists as drafts, pre-filling them from inventory, and the dispositions of pre-filled rows."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from inventory.choices import PowerState, SourceKind, VMStatus
from inventory.models import AreaMapping
from portal.models import AuditEvent
from questionnaires.choices import AssignmentStatus, CampaignStatus, Disposition
from questionnaires.models import Assignment, Campaign, DeclaredVM, Question
from questionnaires.services.answers import answer_save, assignment_answers_validate
from questionnaires.services.declared_vms import (
    declared_vm_disposition_set,
    declared_vms_disposition_bulk_set,
    declared_vms_prefill,
    declared_vms_save,
)
from questionnaires.services.templates import DATA_DIR, template_load
from questionnaires.vm_rows.parse import vm_rows_parse
from tests.factories import (
    AreaMappingFactory,
    ClusterFactory,
    HostFactory,
    PersonFactory,
    SourceFactory,
    UserFactory,
    VirtualMachineFactory,
)
from tests.questionnaires.factories import AssignmentFactory, CampaignFactory
from tests.questionnaires.test_vm_rows import twenty_rows_from_excel

pytestmark = pytest.mark.django_db


# --- saving -----------------------------------------------------------------------------------------------------


@pytest.fixture
def version():
    return template_load(path=DATA_DIR / "vm_discovery.json")


@pytest.fixture
def vm_list(version) -> Question:
    return Question.objects.get(section__version=version, key="vm_list")


@pytest.fixture
def assignee():
    return PersonFactory(name="Ann Lead", email="ann@example.com", user=UserFactory(username="ann"))


@pytest.fixture
def assignment(version, assignee) -> Assignment:
    return AssignmentFactory(campaign=CampaignFactory(version=version), person=assignee)


def listed(assignment) -> list[tuple]:
    return list(assignment.declared_vms.order_by("row").values_list("row", "name", "disposition", "inventory_vm__name"))


def test_saving_pasted_rows_makes_a_draft_list(assignment, vm_list, assignee):
    parsed = vm_rows_parse(text=twenty_rows_from_excel())

    result = declared_vms_save(assignment=assignment, question=vm_list, rows=parsed.rows, user=assignee.user)

    assert (result.created, result.updated, result.unchanged, result.deleted, result.total) == (17, 0, 0, 0, 17)
    assert listed(assignment)[:3] == [
        (1, "lab01", Disposition.ADDED, None),
        (2, "lab02", Disposition.ADDED, None),
        (3, "lab03", Disposition.ADDED, None),
    ]
    assert listed(assignment)[-1] == (17, "lab20", Disposition.ADDED, None)
    vm = assignment.declared_vms.get(name="lab05")
    assert (vm.address, vm.platform, vm.created_on, vm.data_categories) == (
        "10.1.0.5",
        "virtualbox",
        datetime.date(2024, 1, 5),
        ["ephi", "financial_reporting"],
    )
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.IN_PROGRESS


def test_saving_again_edits_by_id_or_name_renumbers_and_drops_typed_rows_left_out(assignment, vm_list, assignee):
    first = vm_rows_parse(text="name\taddress\na\t1\nb\t2\nc\t3\n")
    declared_vms_save(assignment=assignment, question=vm_list, rows=first.rows, user=assignee.user)
    ids = dict(assignment.declared_vms.values_list("name", "id"))
    grid = [
        {"id": str(ids["c"]), "name": "c-renamed", "address": "3"},
        {"name": "A", "address": "1"},
        {"name": "d", "address": "4"},
    ]

    result = declared_vms_save(
        assignment=assignment, question=vm_list, rows=vm_rows_parse(grid=grid).rows, user=assignee.user
    )

    assert (result.created, result.updated, result.unchanged, result.deleted, result.total) == (1, 2, 0, 1, 3)
    assert list(assignment.declared_vms.order_by("row").values_list("row", "name", "id")) == [
        (1, "c-renamed", ids["c"]),
        (2, "A", ids["a"]),
        (3, "d", assignment.declared_vms.get(name="d").pk),
    ]


def test_appending_keeps_the_list_and_adds_after_it(assignment, vm_list, assignee):
    declared_vms_save(
        assignment=assignment, question=vm_list, rows=vm_rows_parse(text="a\nb\n").rows, user=assignee.user
    )

    result = declared_vms_save(
        assignment=assignment,
        question=vm_list,
        rows=vm_rows_parse(text="name\tnotes\nc\t\nb\tedited\n").rows,
        user=assignee.user,
        replace=False,
    )

    assert (result.created, result.updated, result.deleted, result.total) == (1, 1, 0, 3)
    assert list(assignment.declared_vms.order_by("row").values_list("row", "name", "notes")) == [
        (1, "a", ""),
        (2, "b", "edited"),
        (3, "c", ""),
    ]


@pytest.mark.parametrize(
    ("assignment_status", "campaign_status", "expected"),
    [
        (AssignmentStatus.SUBMITTED, CampaignStatus.ACTIVE, "submitted answers are read-only until returned"),
        (AssignmentStatus.ACCEPTED, CampaignStatus.ACTIVE, "submitted answers are read-only until returned"),
        (AssignmentStatus.IN_PROGRESS, CampaignStatus.CLOSED, "the campaign is closed: its answers are frozen"),
    ],
)
def test_a_frozen_list_refuses_saves(assignment, vm_list, assignee, assignment_status, campaign_status, expected):
    declared_vms_save(assignment=assignment, question=vm_list, rows=vm_rows_parse(text="a\n").rows, user=assignee.user)
    Assignment.objects.filter(pk=assignment.pk).update(status=assignment_status)
    Campaign.objects.filter(pk=assignment.campaign_id).update(status=campaign_status)

    with pytest.raises(ValidationError) as refused:
        declared_vms_save(
            assignment=assignment, question=vm_list, rows=vm_rows_parse(text="b\n").rows, user=assignee.user
        )

    assert refused.value.messages == [expected]
    assert listed(assignment) == [(1, "a", Disposition.ADDED, None)]


def test_only_the_assignee_saves_the_list(assignment, vm_list):
    with pytest.raises(PermissionDenied):
        declared_vms_save(
            assignment=assignment, question=vm_list, rows=vm_rows_parse(text="a\n").rows, user=UserFactory()
        )

    assert listed(assignment) == []


def test_a_question_that_is_not_a_vm_list_is_refused(assignment, version, assignee):
    runs_vms = Question.objects.get(section__version=version, key="runs_vms")

    with pytest.raises(ValidationError) as refused:
        declared_vms_save(assignment=assignment, question=runs_vms, rows=[], user=assignee.user)

    assert refused.value.messages == ["“Does your area run any virtual machines?” is not a VM list"]


# --- pre-filling from inventory ---------------------------------------------------------------------------------


@pytest.fixture
def estate(assignee):
    """VMs around Ann's area: hers by owner or mapping, and the ones that must not be pre-filled."""
    cluster = ClusterFactory(name="RADIOLOGY-PROD", datacenter__name="DC-East")
    host = HostFactory(cluster=cluster, product="VMware ESXi 7.0.3 build-21930508")
    other_host = HostFactory(cluster=ClusterFactory(name="FINANCE", source=cluster.source))
    bob = PersonFactory(name="Bob Other", email="bob@example.com")
    csv_source = SourceFactory(name="hyperv-import", kind=SourceKind.CSV, host="")
    AreaMappingFactory(person=assignee, scope=AreaMapping.Scope.CLUSTER, pattern="radiology")
    AreaMappingFactory(person=assignee, scope=AreaMapping.Scope.FOLDER, pattern="/Labs/Radiology")
    AreaMappingFactory(person=assignee, scope=AreaMapping.Scope.RESOURCE_POOL, pattern="rad-")
    created = datetime.datetime(2023, 5, 6, 7, 8, tzinfo=datetime.UTC)
    return {
        "pacs": VirtualMachineFactory(
            name="pacs01",
            host=host,
            ip_addresses=["fe80::1", "10.9.0.1"],
            created_at=created,
            created_by="VSPHERE.LOCAL\\admin",
            purpose="Production",
        ),
        "ris": VirtualMachineFactory(
            name="ris01", host=other_host, folder="/Labs/Radiology/RIS", power_state=PowerState.OFF, purpose="PACS"
        ),
        "pool": VirtualMachineFactory(name="viewer", host=other_host, resource_pool="rad-viewers", ip_addresses=[]),
        "owned": VirtualMachineFactory(
            name="ann-desk",
            source=csv_source,
            host=None,
            cluster=None,
            datacenter=None,
            platform="hyperv",
            owner=assignee,
            status=VMStatus.MISSING,
            power_state=PowerState.UNKNOWN,
        ),
        # Not hers: owned by Bob though in her cluster, elsewhere, removed, a template.
        "bobs": VirtualMachineFactory(name="bob01", host=host, owner=bob),
        "finance": VirtualMachineFactory(name="gl01", host=other_host),
        "removed": VirtualMachineFactory(name="old01", host=host, status=VMStatus.REMOVED),
        "template": VirtualMachineFactory(name="tpl-rhel9", host=host, is_template=True),
    }


def test_prefill_adds_the_vms_inventory_attributes_to_the_area(assignment, vm_list, estate):
    added = declared_vms_prefill(assignment=assignment, question=vm_list)

    assert added == 4
    assert listed(assignment) == [
        (1, "ann-desk", Disposition.PENDING, "ann-desk"),
        (2, "pacs01", Disposition.PENDING, "pacs01"),
        (3, "ris01", Disposition.PENDING, "ris01"),
        (4, "viewer", Disposition.PENDING, "viewer"),
    ]
    fields = (
        "address",
        "platform",
        "software",
        "location",
        "created_on",
        "created_by",
        "purpose",
        "purpose_other",
        "status",
        "owner",
    )
    values = {vm.name: tuple(getattr(vm, name) for name in fields) for vm in assignment.declared_vms.all()}
    assert values == {
        "pacs01": (
            "10.9.0.1",
            "vmware-esxi",
            "VMware ESXi 7.0.3 build-21930508",
            "DC-East / RADIOLOGY-PROD",
            datetime.date(2023, 5, 6),
            "VSPHERE.LOCAL\\admin",
            "production",
            "",
            "running",
            "",
        ),
        "ris01": (
            estate["ris"].ip_addresses[0],
            "vmware-esxi",
            estate["ris"].host.product,
            f"{estate['ris'].datacenter.name} / FINANCE",
            None,
            "",
            "other",
            "PACS",
            "stopped",
            "",
        ),
        "viewer": (
            "",
            "vmware-esxi",
            estate["pool"].host.product,
            f"{estate['pool'].datacenter.name} / FINANCE",
            None,
            "",
            "",
            "",
            "running",
            "",
        ),
        "ann-desk": (estate["owned"].ip_addresses[0], "hyperv", "", "", None, "", "", "", "", "Ann Lead"),
    }
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.NOT_STARTED  # nothing answered yet


def test_prefill_twice_adds_nothing_and_keeps_typed_rows(assignment, vm_list, estate, assignee):
    declared_vms_save(
        assignment=assignment, question=vm_list, rows=vm_rows_parse(text="laptop-vm\n").rows, user=assignee.user
    )
    assert declared_vms_prefill(assignment=assignment, question=vm_list) == 4

    assert declared_vms_prefill(assignment=assignment, question=vm_list) == 0

    assert [row[:2] for row in listed(assignment)] == [
        (1, "laptop-vm"),
        (2, "ann-desk"),
        (3, "pacs01"),
        (4, "ris01"),
        (5, "viewer"),
    ]


def test_prefill_of_a_submitted_assignment_is_refused(assignment, vm_list, estate):
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.SUBMITTED)

    with pytest.raises(ValidationError):
        declared_vms_prefill(assignment=assignment, question=vm_list)

    assert listed(assignment) == []


def test_dispositions_of_prefilled_rows(assignment, vm_list, estate, assignee):
    declared_vms_prefill(assignment=assignment, question=vm_list)
    pacs, ris = assignment.declared_vms.get(name="pacs01"), assignment.declared_vms.get(name="ris01")

    declared_vm_disposition_set(declared_vm=pacs, disposition=Disposition.CONFIRMED, user=assignee.user)
    declared_vm_disposition_set(declared_vm=ris, disposition=Disposition.DISOWNED, user=assignee.user)

    assert dict(assignment.declared_vms.values_list("name", "disposition")) == {
        "ann-desk": Disposition.PENDING,
        "pacs01": Disposition.CONFIRMED,
        "ris01": Disposition.DISOWNED,
        "viewer": Disposition.PENDING,
    }
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.IN_PROGRESS
    with pytest.raises(ValidationError) as back_to_pending:
        declared_vm_disposition_set(declared_vm=pacs, disposition=Disposition.PENDING, user=assignee.user)
    assert back_to_pending.value.messages == [
        "pacs01: a VM from inventory is confirmed, corrected or disowned, not pending"
    ]
    with pytest.raises(PermissionDenied):
        declared_vm_disposition_set(declared_vm=pacs, disposition=Disposition.DISOWNED, user=UserFactory())
    assert DeclaredVM.objects.get(pk=pacs.pk).disposition == Disposition.CONFIRMED


def test_a_typed_row_has_no_disposition_to_set(assignment, vm_list, assignee):
    declared_vms_save(assignment=assignment, question=vm_list, rows=vm_rows_parse(text="a\n").rows, user=assignee.user)
    typed = assignment.declared_vms.get()

    with pytest.raises(ValidationError) as refused:
        declared_vm_disposition_set(declared_vm=typed, disposition=Disposition.DISOWNED, user=assignee.user)

    assert refused.value.messages == ["a: a VM you added has no disposition to set"]


def test_every_row_still_to_check_is_confirmed_at_once(assignment, vm_list, estate, assignee):
    declared_vms_prefill(assignment=assignment, question=vm_list)
    declared_vm_disposition_set(
        declared_vm=assignment.declared_vms.get(name="ris01"), disposition=Disposition.DISOWNED, user=assignee.user
    )
    declared_vms_save(
        assignment=assignment,
        question=vm_list,
        rows=vm_rows_parse(text="typed\n").rows,
        user=assignee.user,
        replace=False,
    )

    changed = declared_vms_disposition_bulk_set(
        assignment=assignment, question=vm_list, disposition=Disposition.CONFIRMED, user=assignee.user
    )

    assert changed == 3
    assert dict(assignment.declared_vms.values_list("name", "disposition")) == {
        "ann-desk": Disposition.CONFIRMED,
        "pacs01": Disposition.CONFIRMED,
        "ris01": Disposition.DISOWNED,
        "viewer": Disposition.CONFIRMED,
        "typed": Disposition.ADDED,
    }
    event = AuditEvent.objects.get(action="vm_list.disposition_bulk_set")
    assert event.details == {"question": "vm_list", "disposition": "confirmed", "rows": 3}
    assert (
        declared_vms_disposition_bulk_set(
            assignment=assignment, question=vm_list, disposition=Disposition.DISOWNED, user=assignee.user
        )
        == 0
    )


def test_the_bulk_action_is_refused_like_one_row(assignment, vm_list, estate, assignee):
    declared_vms_prefill(assignment=assignment, question=vm_list)

    with pytest.raises(PermissionDenied):
        declared_vms_disposition_bulk_set(
            assignment=assignment, question=vm_list, disposition=Disposition.CONFIRMED, user=UserFactory()
        )
    with pytest.raises(ValidationError, match="all confirmed or all disowned at once"):
        declared_vms_disposition_bulk_set(
            assignment=assignment, question=vm_list, disposition=Disposition.CORRECTED, user=assignee.user
        )
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.SUBMITTED)
    with pytest.raises(ValidationError):
        declared_vms_disposition_bulk_set(
            assignment=assignment, question=vm_list, disposition=Disposition.CONFIRMED, user=assignee.user
        )
    assert set(assignment.declared_vms.values_list("disposition", flat=True)) == {Disposition.PENDING}
    assert not AuditEvent.objects.filter(action="vm_list.disposition_bulk_set").exists()


def test_hundreds_of_rows_still_to_check_are_counted_not_listed(assignment, vm_list, assignee, version):
    declared_vms_save(
        assignment=assignment,
        question=vm_list,
        user=assignee.user,
        rows=vm_rows_parse(text="".join(f"vm{number}\n" for number in range(1, 311))).rows,
    )
    vm = VirtualMachineFactory()
    assignment.declared_vms.filter(row__gte=8).update(disposition=Disposition.PENDING, inventory_vm=vm)
    assignment.declared_vms.filter(row=100).update(disposition=Disposition.CONFIRMED)

    answer_save(
        assignment=assignment,
        question=version.sections.get(key="your-area").questions.get(key="runs_vms"),
        raw="Yes",
        user=assignee.user,
    )

    found = [problem for problem in assignment_answers_validate(assignment) if "still to check" in problem]

    assert len(found) == 1
    assert "302 rows found by the scanners still to check (rows 8–99 and 101–310)" in found[0]


def test_saving_over_prefilled_rows_keeps_their_links_and_marks_edits_corrected(assignment, vm_list, estate, assignee):
    declared_vms_prefill(assignment=assignment, question=vm_list)
    declared_vm_disposition_set(
        declared_vm=assignment.declared_vms.get(name="ris01"), disposition=Disposition.DISOWNED, user=assignee.user
    )
    pacs = assignment.declared_vms.get(name="pacs01")
    # The person pastes their own list: pacs01 (with its data), a desktop VM; the other pre-filled rows are not in it.
    text = "name\taddress\tplatform\tdata_categories\nPACS01\t10.9.0.1\tESXi\tePHI\nlab-vm\t\tVirtualBox\t\n"

    result = declared_vms_save(
        assignment=assignment, question=vm_list, rows=vm_rows_parse(text=text).rows, user=assignee.user
    )

    assert (result.created, result.updated, result.deleted, result.total) == (1, 1, 0, 5)
    assert listed(assignment) == [
        (1, "PACS01", Disposition.CORRECTED, "pacs01"),
        (2, "lab-vm", Disposition.ADDED, None),
        (3, "ann-desk", Disposition.PENDING, "ann-desk"),
        (4, "ris01", Disposition.DISOWNED, "ris01"),
        (5, "viewer", Disposition.PENDING, "viewer"),
    ]
    pacs_after = assignment.declared_vms.get(name="PACS01")
    assert (pacs_after.pk, pacs_after.data_categories) == (pacs.pk, ["ephi"])


def test_an_unchanged_prefilled_row_keeps_its_disposition(assignment, vm_list, estate, assignee):
    declared_vms_prefill(assignment=assignment, question=vm_list)
    viewer = assignment.declared_vms.get(name="viewer")
    grid = [
        {
            "id": viewer.pk,
            **{name: getattr(viewer, name) for name in ("name", "platform", "software", "location", "status")},
        }
    ]

    result = declared_vms_save(
        assignment=assignment, question=vm_list, rows=vm_rows_parse(grid=grid).rows, user=assignee.user
    )

    assert (result.unchanged, result.updated, result.total) == (1, 0, 4)
    assert assignment.declared_vms.get(pk=viewer.pk).disposition == Disposition.PENDING


def test_a_long_list_is_reordered_and_one_edit_writes_one_row(
    assignment, vm_list, assignee, django_assert_max_num_queries
):
    names = [f"vm{number:04d}" for number in range(1, 1201)]
    declared_vms_save(
        assignment=assignment, question=vm_list, rows=vm_rows_parse(text="\n".join(names)).rows, user=assignee.user
    )
    ids = dict(assignment.declared_vms.values_list("name", "id"))

    result = declared_vms_save(
        assignment=assignment,
        question=vm_list,
        rows=vm_rows_parse(text="\n".join(reversed(names))).rows,
        user=assignee.user,
    )

    assert (result.created, result.updated, result.unchanged, result.total) == (0, 0, 1200, 1200)
    assert list(assignment.declared_vms.order_by("row").values_list("row", "name", "id")[:2]) == [
        (1, "vm1200", ids["vm1200"]),
        (2, "vm1199", ids["vm1199"]),
    ]
    assert assignment.declared_vms.order_by("-row").values_list("row", "name").first() == (1200, "vm0001")

    grid = [{"id": ids[name], "name": name} for name in reversed(names)]
    grid[5]["notes"] = "edited"
    rows = vm_rows_parse(grid=grid).rows
    with django_assert_max_num_queries(10):
        result = declared_vms_save(assignment=assignment, question=vm_list, rows=rows, user=assignee.user)

    assert (result.updated, result.unchanged) == (1, 1199)
    assert assignment.declared_vms.get(notes="edited").row == 6
