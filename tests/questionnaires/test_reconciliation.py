"""Reconciliation rules, one by one: how a declaration matches, which state it is in and why, where each gap is
routed, what accepted declarations write back, and that a second run changes nothing."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory.choices import ChangeKind, Platform, PowerState, SourceKind, VMStatus
from inventory.models import AreaMapping, VirtualMachine, VMChange
from portal.choices import NotificationKind
from portal.models import AuditEvent, Notification
from questionnaires.choices import (
    AssignmentStatus,
    CampaignStatus,
    DeclaredVMStatus,
    Disposition,
    MatchKey,
    ReconciliationState,
    ReconciliationTrigger,
    Resolution,
    VMPurpose,
)
from questionnaires.models import ReconciliationChange, ReconciliationItem, ReconciliationRun
from questionnaires.services.reconciliation import reconciliation_counts_line, reconciliation_run
from tests.factories import (
    AreaMappingFactory,
    ClusterFactory,
    HostFactory,
    PersonFactory,
    SourceFactory,
    UserFactory,
    VirtualMachineFactory,
)
from tests.questionnaires.factories import AssignmentFactory, CampaignFactory, DeclaredVMFactory

State = ReconciliationState
NOW = timezone.now()


@pytest.fixture
def org(db):
    """ceo → dana (director) → rex; ceo → olga."""
    ceo = PersonFactory(name="Cleo CEO", email="cleo@example.com")
    dana = PersonFactory(name="Dana Director", email="dana@example.com", parent=ceo)
    return {
        "ceo": ceo, "dana": dana,
        "rex": PersonFactory(name="Rex Report", email="rex@example.com", parent=dana),
        "olga": PersonFactory(name="Olga Other", email="olga@example.com", parent=ceo),
    }


@pytest.fixture
def campaign(org):
    return CampaignFactory(scope=org["ceo"])


@pytest.fixture
def parts(campaign, org):
    """An assignment per person, in progress."""
    return {key: AssignmentFactory(campaign=campaign, person=person, status=AssignmentStatus.IN_PROGRESS)
            for key, person in org.items()}


def declare(part, **facts):
    return DeclaredVMFactory(assignment=part, **facts)


def run(campaign):
    return reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)


def item_of(declared=None, vm=None) -> ReconciliationItem:
    key = f"d{declared.pk}" if declared is not None else f"u{vm.pk}"
    return ReconciliationItem.objects.get(key=key)


# --- matching, in order of trust ----------------------------------------------------------------------------------


def test_a_row_confirmed_from_inventory_matches_its_vm_whatever_its_name(parts):
    vm = VirtualMachineFactory(name="srv-real")
    row = declare(parts["rex"], name="what I call it", inventory_vm=vm, disposition=Disposition.CONFIRMED)

    run(parts["rex"].campaign)

    item = item_of(row)
    assert (item.state, item.vm, item.match_key) == (State.MATCHED, vm, MatchKey.CONFIRMED)


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ({"uuid": "50001111-AAAA-bbbb-cccc-000000000001"}, MatchKey.INSTANCE_UUID),
        ({"uuid": "4210bbbb-0000-0000-0000-000000000001"}, MatchKey.BIOS_UUID),
        ({"vm_id": "VM-4242"}, MatchKey.MOREF),
        ({"mac_address": "00-50-56-AB-CD-EF"}, MatchKey.MAC),
        ({"address": "db7.corp.example.com"}, MatchKey.DNS_NAME),
        ({"address": "10.9.9.9"}, MatchKey.IP),
    ],
)
def test_a_uuid_vm_id_mac_host_name_or_ip_the_person_gave_matches_one_vm(parts, given, key):
    vm = VirtualMachineFactory(
        name="scanner-name", instance_uuid="50001111-aaaa-bbbb-cccc-000000000001",
        bios_uuid="4210bbbb-0000-0000-0000-000000000001", moref="vm-4242", mac_addresses=["00:50:56:ab:cd:ef"],
        dns_name="db7.corp.example.com", ip_addresses=["10.9.9.9"],
    )
    VirtualMachineFactory(name="another")
    row = declare(parts["rex"], name="person-name", **given)

    run(parts["rex"].campaign)

    item = item_of(row)
    assert (item.state, item.vm, item.match_key) == (State.MATCHED, vm, key)


def test_a_mac_address_shared_by_two_vms_is_no_match_but_a_choice(parts):
    first = VirtualMachineFactory(name="one", mac_addresses=["00:50:56:00:00:01"])
    second = VirtualMachineFactory(name="two", mac_addresses=["00:50:56:00:00:01"])
    row = declare(parts["rex"], name="unknown-name", mac_address="00:50:56:00:00:01")

    run(parts["rex"].campaign)

    item = item_of(row)
    assert (item.state, item.vm) == (State.NOT_FOUND, None)
    assert item.candidates == [first.pk, second.pk]


def test_a_name_matches_in_any_case_without_its_domain_and_spaces(parts):
    vm = VirtualMachineFactory(name="Web01")
    row = declare(parts["rex"], name="  WEB01.corp.example.com ")

    run(parts["rex"].campaign)

    item = item_of(row)
    assert (item.state, item.vm, item.match_key, item.match_value) == (
        State.MATCHED, vm, MatchKey.NAME_ESTATE, "  WEB01.corp.example.com ",
    )


def test_a_name_unique_in_the_persons_area_wins_over_namesakes_elsewhere(parts, org):
    mine = VirtualMachineFactory(name="app", owner=org["rex"])
    VirtualMachineFactory(name="app", owner=org["olga"])
    declared_by_dana = declare(parts["dana"], name="app")  # rex reports to dana: rex's VM is in her area
    declared_by_ceo = declare(parts["ceo"], name="app")  # both are in the CEO's area: not unique there

    run(parts["dana"].campaign)

    assert (item_of(declared_by_dana).vm, item_of(declared_by_dana).match_key) == (mine, MatchKey.NAME_AREA)
    ceo_item = item_of(declared_by_ceo)
    assert (ceo_item.state, ceo_item.vm) == (State.NOT_FOUND, None)
    assert len(ceo_item.candidates) == 2
    assert ceo_item.reasons[0] == {"code": "ambiguous_name", "message": "2 VMs are named 'app': pick the one it is"}


def test_a_name_that_is_only_close_is_offered_never_matched(parts):
    close = VirtualMachineFactory(name="web_01")
    row = declare(parts["rex"], name="web-01")

    run(parts["rex"].campaign)

    item = item_of(row)
    assert (item.state, item.vm, item.candidates) == (State.NOT_FOUND, None, [close.pk])
    assert item.reasons == [{"code": "similar_name", "message": "no VM is named 'web-01'; similar: web_01"}]


def test_pending_and_disowned_rows_do_not_count_as_declared(parts):
    vm = VirtualMachineFactory(name="prefilled")
    declare(parts["rex"], name="prefilled", inventory_vm=vm, disposition=Disposition.PENDING)
    declare(parts["rex"], name="prefilled", inventory_vm=vm, disposition=Disposition.DISOWNED)

    run(parts["rex"].campaign)

    assert list(ReconciliationItem.objects.values_list("key", "state")) == [(f"u{vm.pk}", State.UNDECLARED)]


# --- states and reasons --------------------------------------------------------------------------------------------


def test_not_found_is_split_by_whether_anything_scans_the_platform(parts):
    SourceFactory(kind=SourceKind.VCENTER)
    VirtualMachineFactory(name="on-esxi")
    on_esxi = declare(parts["rex"], name="vanished", platform=Platform.VMWARE_ESXI)
    on_laptop = declare(parts["rex"], name="my-laptop-vm", platform=Platform.VIRTUALBOX)
    unknown = declare(parts["rex"], name="no-idea")

    run(parts["rex"].campaign)

    assert item_of(on_esxi).state == State.NOT_FOUND
    assert item_of(unknown).state == State.NOT_FOUND
    laptop = item_of(on_laptop)
    assert laptop.state == State.NOT_FOUND_UNSCANNED
    assert laptop.reasons == [{"code": "not_seen", "message": "no scanner sees it: nothing of VirtualBox is scanned"}]


def test_a_vm_declared_by_two_people_is_a_conflict_routed_to_their_lowest_common_manager(parts, org):
    vm = VirtualMachineFactory(name="shared01")
    by_rex = declare(parts["rex"], name="shared01")
    by_olga = declare(parts["olga"], name="shared01")

    run(parts["rex"].campaign)

    for row, other in ((by_rex, "Olga Other"), (by_olga, "Rex Report")):
        item = item_of(row)
        assert (item.state, item.vm, item.routed_to) == (State.CONFLICT, vm, org["ceo"])
        assert item.reasons[0]["code"] == "declared_twice" and other in item.reasons[0]["message"]
    assert not ReconciliationItem.objects.filter(key=f"u{vm.pk}").exists()  # declared, if twice


def test_two_rows_of_one_person_with_two_owners_are_a_conflict_routed_to_them(parts, org):
    VirtualMachineFactory(name="split")
    first = declare(parts["rex"], name="split", owner="Team A")
    declare(parts["rex"], name="split", owner="Team B")

    run(parts["rex"].campaign)

    assert (item_of(first).state, item_of(first).routed_to) == (State.CONFLICT, org["rex"])


def test_each_disagreement_of_a_matched_vm_is_named(parts, org):
    vm = VirtualMachineFactory(
        name="legacy01", power_state=PowerState.ON, created_by="VSPHERE.LOCAL\\mallory",
        created_at=NOW - datetime.timedelta(days=400), owner=org["olga"],
        host=HostFactory(name="esx-07.example.com", cluster=ClusterFactory(name="Prod-Cluster")),
    )
    row = declare(
        parts["rex"], name="legacy01", status=DeclaredVMStatus.DECOMMISSIONED, created_by="alice",
        created_on=timezone.localdate() - datetime.timedelta(days=100), platform=Platform.HYPERV,
        owner="Rex Report", location="Building 4 lab",
    )

    run(parts["rex"].campaign)

    item = item_of(row)
    assert (item.state, item.vm) == (State.MISMATCH, vm)
    assert [reason["code"] for reason in item.reasons] == [
        "running_but_decommissioned", "created_by", "created_on", "platform", "owner", "location",
    ]
    messages = [reason["message"] for reason in item.reasons]
    assert messages[0] == "declared decommissioned, but it is powered on"
    assert messages[1] == "declared created by alice; vCenter's creation event says VSPHERE.LOCAL\\mallory"
    assert messages[2].endswith("(300 days apart)")
    assert messages[3] == "declared Microsoft Hyper-V; inventory sees VMware ESXi / vSphere"
    assert messages[4] == "declared owner Rex Report; inventory's owner is Olga Other"
    assert messages[5].startswith("declared at 'Building 4 lab'; it runs in ")


def test_what_agrees_within_tolerance_is_no_mismatch(parts, org):
    VirtualMachineFactory(
        name="good01", power_state=PowerState.OFF, created_by="VSPHERE.LOCAL\\Alice",
        created_at=NOW - datetime.timedelta(days=40), owner=org["rex"],
        host=HostFactory(cluster=ClusterFactory(name="Prod-Cluster")),
    )
    row = declare(
        parts["rex"], name="good01", status=DeclaredVMStatus.STOPPED, created_by="alice@vsphere.local",
        created_on=timezone.localdate() - datetime.timedelta(days=20), platform=Platform.VMWARE_ESXI,
        owner="rex@example.com", location="prod cluster",
    )

    run(parts["rex"].campaign)

    assert (item_of(row).state, item_of(row).reasons) == (State.MATCHED, [])


def test_a_confirmed_vm_removed_since_is_not_found(parts):
    vm = VirtualMachineFactory(name="gone", status=VMStatus.REMOVED)
    row = declare(parts["rex"], name="gone", inventory_vm=vm, disposition=Disposition.CONFIRMED)

    run(parts["rex"].campaign)

    item = item_of(row)
    assert item.state == State.NOT_FOUND
    assert item.reasons == [{"code": "removed", "message": "inventory saw 'gone' removed"}]


# --- undeclared VMs and routing ----------------------------------------------------------------------------------


def test_an_undeclared_vm_goes_to_its_area_mapping_then_its_creator_then_its_clusters_owner(parts, org):
    lab = ClusterFactory(name="lab-east")
    AreaMappingFactory(person=org["rex"], scope=AreaMapping.Scope.CLUSTER, pattern="LAB-")
    org["olga"].user = UserFactory(username="olga.o2")
    org["olga"].save(update_fields=["user"])
    prod = ClusterFactory(name="prod")
    VirtualMachineFactory.create_batch(2, host=HostFactory(cluster=prod), owner=org["dana"])
    mapped = VirtualMachineFactory(name="mapped", host=HostFactory(cluster=lab))
    created = VirtualMachineFactory(name="created", host=HostFactory(cluster=prod), created_by="CORP\\olga.o2")
    clustered = VirtualMachineFactory(name="clustered", host=HostFactory(cluster=prod))
    nowhere = VirtualMachineFactory(name="nowhere")
    VirtualMachineFactory(name="template", is_template=True)

    run(parts["rex"].campaign)

    routed = dict(ReconciliationItem.objects.filter(state=State.UNDECLARED).values_list("vm__name", "routed_to"))
    assert routed == {
        "mapped": org["rex"].pk, "created": org["olga"].pk, "clustered": org["dana"].pk, "nowhere": org["ceo"].pk,
        **{vm.name: org["dana"].pk for vm in VirtualMachine.objects.filter(owner=org["dana"])},
    }
    assert (mapped.owner, created.owner, clustered.owner, nowhere.owner) == (None, None, None, None)


def test_a_campaign_below_the_top_covers_only_the_vms_of_its_subtree(org):
    campaign = CampaignFactory(scope=org["dana"])
    AssignmentFactory(campaign=campaign, person=org["dana"])
    theirs = VirtualMachineFactory(name="rex-owned", owner=org["rex"])
    VirtualMachineFactory(name="olga-owned", owner=org["olga"])
    VirtualMachineFactory(name="unowned")

    run(campaign)

    assert list(ReconciliationItem.objects.values_list("vm", "state", "routed_to")) == [
        (theirs.pk, State.UNDECLARED, org["rex"].pk),
    ]


def test_gaps_are_routed_to_the_declarer_and_each_person_is_told_once_per_run(parts, org):
    VirtualMachineFactory.create_batch(3, owner=org["olga"])
    declare(parts["rex"], name="ghost-1")
    declare(parts["rex"], name="ghost-2")

    run(parts["rex"].campaign)
    run(parts["rex"].campaign)  # nothing new: nobody is told again

    notes = Notification.objects.filter(kind=NotificationKind.RECONCILIATION).order_by("person__name")
    name = parts["rex"].campaign.name
    assert [(note.person.name, note.subject) for note in notes] == [
        ("Olga Other", f"{name}: 3 VMs to check after reconciliation"),
        ("Rex Report", f"{name}: 2 VMs to check after reconciliation"),
    ]
    rex = notes.get(person=org["rex"])
    assert "- you declared ghost-1, no scanner sees it: where does it run? is it retired?" in rex.body
    assert rex.link == "/questionnaires/follow-ups/"


# --- write-back, idempotence, resolutions ---------------------------------------------------------------------------


def test_accepted_declarations_write_owner_purpose_and_data_back_once(parts, org):
    vm = VirtualMachineFactory(name="pay01")
    parts["rex"].status = AssignmentStatus.ACCEPTED
    parts["rex"].save()
    declare(parts["rex"], name="pay01", purpose=VMPurpose.PRODUCTION, data_categories=["customer_financial"],
            owner="Dana Director")

    first = run(parts["rex"].campaign)
    second = run(parts["rex"].campaign)

    vm.refresh_from_db()
    assert (vm.owner, vm.purpose, vm.data_categories) == (org["dana"], "Production", ["customer_financial"])
    change = VMChange.objects.get(vm=vm, kind=ChangeKind.REPURPOSED)
    assert change.old == {"owner_id": None, "purpose": "", "data_categories": []}
    assert change.new == {
        "owner_id": org["dana"].pk, "purpose": "Production", "data_categories": ["customer_financial"],
    }
    assert (first.written_back, second.written_back) == (1, 0)
    assert AuditEvent.objects.filter(action="vm.repurposed", object_id=str(vm.pk)).count() == 1


def test_a_declaration_not_accepted_yet_writes_nothing_back(parts):
    vm = VirtualMachineFactory(name="draft01")
    declare(parts["rex"], name="draft01", purpose=VMPurpose.TEST, owner="Rex Report")

    run(parts["rex"].campaign)

    vm.refresh_from_db()
    assert (vm.owner, vm.purpose) == (None, "")


def test_a_second_run_changes_nothing_and_says_so(parts, org):
    VirtualMachineFactory(name="a", owner=org["rex"])
    VirtualMachineFactory(name="b")
    declare(parts["rex"], name="a")
    declare(parts["rex"], name="nowhere")

    first = run(parts["rex"].campaign)
    items = list(ReconciliationItem.objects.order_by("key").values())
    second = run(parts["rex"].campaign)

    assert ReconciliationRun.objects.count() == 2
    assert (first.changed, second.changed) == (3, 0)
    assert first.counts == second.counts == {
        "matched": 1, "undeclared": 1, "not_found": 1, "not_found_unscanned": 0, "conflict": 0, "mismatch": 0,
    }
    assert list(ReconciliationItem.objects.order_by("key").values()) == items
    assert not ReconciliationChange.objects.filter(run=second).exists()


def test_a_run_records_what_changed_and_a_state_change_clears_the_old_answer(parts, org):
    row = declare(parts["rex"], name="late01")
    run(parts["rex"].campaign)
    item = item_of(row)
    item.resolution, item.resolution_note = Resolution.RETIRED, "retired last year"
    item.save()

    vm = VirtualMachineFactory(name="late01")  # the scanner sees it after all
    later = run(parts["rex"].campaign)

    item.refresh_from_db()
    assert (item.state, item.vm, item.resolution, item.resolution_note) == (State.MATCHED, vm, "", "")
    assert list(ReconciliationChange.objects.filter(run=later).values_list("key", "old_state", "new_state")) == [
        (f"d{row.pk}", State.NOT_FOUND, State.MATCHED),
    ]


def test_a_link_made_by_hand_matches_the_next_run(parts):
    VirtualMachineFactory(name="alias-a")
    target = VirtualMachineFactory(name="alias-b")
    row = declare(parts["rex"], name="what-we-call-it")
    run(parts["rex"].campaign)
    item = item_of(row)
    item.linked_vm, item.resolution = target, Resolution.LINKED
    item.save()

    run(parts["rex"].campaign)

    item.refresh_from_db()
    assert (item.state, item.vm, item.match_key, item.resolution) == (
        State.MATCHED, target, MatchKey.LINKED, Resolution.LINKED,
    )


def test_the_command_prints_one_line_of_counts_per_campaign(parts, org, capsys):
    VirtualMachineFactory(name="seen", owner=org["rex"])
    declare(parts["rex"], name="seen")

    call_command("reconcile", "--campaign", str(parts["rex"].campaign.pk))

    out = capsys.readouterr().out
    assert out.startswith("matched=1 undeclared=0 not_found=0 not_found_unscanned=0 conflict=0 mismatch=0  (")


def test_a_draft_campaign_is_refused_by_the_command(org):
    from django.core.management import CommandError

    draft = CampaignFactory(scope=org["ceo"], status=CampaignStatus.DRAFT)

    with pytest.raises(CommandError, match="is a draft"):
        call_command("reconcile", "--campaign", str(draft.pk))
    assert not ReconciliationRun.objects.exists()


def test_the_counts_line_names_every_state_in_order():
    assert reconciliation_counts_line({"matched": 3, "mismatch": 1}) == (
        "matched=3 undeclared=0 not_found=0 not_found_unscanned=0 conflict=0 mismatch=1"
    )


# --- answers (follow-ups) and what each role reads ----------------------------------------------------------------


@pytest.fixture
def logins(org):
    users = {}
    for key in ("rex", "dana", "olga"):
        users[key] = UserFactory(username=key)
        org[key].user = users[key]
        org[key].save(update_fields=["user"])
    return users


def test_the_person_asked_claims_an_undeclared_vm_and_becomes_its_owner(parts, org, logins):
    from questionnaires.services.follow_ups import follow_ups_answer

    vm = VirtualMachineFactory(name="orphan", created_by="CORP\\rex")
    run(parts["rex"].campaign)
    item = item_of(vm=vm)
    assert item.routed_to == org["rex"]

    follow_ups_answer(items=[item], user=logins["rex"], resolution=Resolution.CLAIMED, purpose="Build server",
                      data_categories=["none"])

    vm.refresh_from_db()
    item.refresh_from_db()
    assert (vm.owner, vm.purpose, vm.data_categories) == (org["rex"], "Build server", ["none"])
    assert (item.resolution, item.resolved_by) == (Resolution.CLAIMED, logins["rex"])
    assert VMChange.objects.filter(vm=vm, kind=ChangeKind.REPURPOSED, user=logins["rex"]).count() == 1
    assert AuditEvent.objects.filter(action="reconciliation.answered", object_id=str(item.pk)).count() == 1
    run(parts["rex"].campaign)
    item.refresh_from_db()
    assert (item.state, item.resolution) == (State.UNDECLARED, Resolution.CLAIMED)  # kept while the state holds


def test_an_answer_outside_ones_part_or_unfit_for_the_state_changes_nothing(parts, org, logins):
    from django.core.exceptions import PermissionDenied, ValidationError

    from questionnaires.services.follow_ups import follow_ups_answer

    olgas = declare(parts["olga"], name="olga-ghost")
    rexs = declare(parts["rex"], name="rex-ghost")
    elsewhere = VirtualMachineFactory(name="elsewhere", owner=org["olga"])
    run(parts["rex"].campaign)
    before = list(ReconciliationItem.objects.order_by("id").values())
    audit_before = AuditEvent.objects.count()

    with pytest.raises(PermissionDenied):  # Olga is not in Rex's part
        follow_ups_answer(items=[item_of(olgas)], user=logins["rex"], resolution=Resolution.RETIRED)
    with pytest.raises(ValidationError, match="can be answered with"):  # not found: claim makes no sense
        follow_ups_answer(items=[item_of(rexs)], user=logins["rex"], resolution=Resolution.CLAIMED, purpose="x")
    with pytest.raises(PermissionDenied, match="That VM is not in your part"):  # a VM Rex cannot see
        follow_ups_answer(items=[item_of(rexs)], user=logins["rex"], resolution=Resolution.LINKED, vm=elsewhere)
    with pytest.raises(PermissionDenied):  # a batch with one item outside: none is answered
        follow_ups_answer(items=[item_of(rexs), item_of(olgas)], user=logins["dana"], resolution=Resolution.RETIRED)

    assert list(ReconciliationItem.objects.order_by("id").values()) == before
    assert AuditEvent.objects.count() == audit_before


def test_a_manager_reads_the_items_of_their_part_and_an_officer_all(parts, org, logins, role_users):
    from questionnaires.selectors import reconciliation_items_visible_to, reconciliation_summary

    declare(parts["rex"], name="rex-ghost")
    declare(parts["olga"], name="olga-ghost")
    VirtualMachineFactory(name="rex-vm", owner=org["rex"])
    run(parts["rex"].campaign)

    danas = reconciliation_items_visible_to(logins["dana"], campaign=parts["rex"].campaign)
    officers = reconciliation_items_visible_to(role_users["compliance_officer"], campaign=parts["rex"].campaign)

    assert sorted(item.key[0] for item in danas) == ["d", "u"]
    assert officers.count() == 3
    summary = reconciliation_summary(campaign=parts["rex"].campaign, user=logins["dana"])
    assert (summary["counts"]["total"], summary["counts"]["not_found"], summary["counts"]["undeclared"]) == (2, 1, 1)
    assert [(row["name"], row["counts"]["total"]) for row in summary["people"]] == [("Rex Report", 2)]


def test_runs_asked_for_in_one_transaction_are_queued_once(campaign, django_capture_on_commit_callbacks):
    from questionnaires.services.reconciliation import reconciliation_queue

    with django_capture_on_commit_callbacks() as callbacks:
        for _ in range(3):
            reconciliation_queue(campaign=campaign, trigger=ReconciliationTrigger.SUBMISSION)
        reconciliation_queue(campaign=campaign, trigger=ReconciliationTrigger.CLOSE)

    assert len(callbacks) == 2
