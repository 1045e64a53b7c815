"""Deployment requests through their services: the state machine, who decides, quorum, links, sanction, end dates."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from inventory.choices import ChangeKind, Decision, Environment, RequestState, Sanction
from inventory.models import DeploymentApproval, DeploymentRequest, VirtualMachine, VMChange
from inventory.services.approvals import (
    deployment_request_create,
    deployment_request_decide,
    deployment_request_link_vm,
    deployment_request_submit,
    deployment_request_withdraw,
    deployment_requests_end_date_run,
    deployment_requests_link_from_scan,
    request_number_parse,
    vm_sanction_refresh,
)
from portal.choices import NotificationKind, Role
from portal.models import AuditEvent, Notification
from tests.factories import (
    DeploymentRequestFactory,
    PersonFactory,
    ScanRunFactory,
    SourceFactory,
    UserFactory,
    VirtualMachineFactory,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 1)


def values(**overrides):
    fields = {
        "purpose": "Payroll reporting", "description": "Runs the monthly payroll reports.",
        "environment": Environment.PRODUCTION, "data_categories": ["financial_reporting"],
        "target_datacenter": "DC1", "target_cluster": "Prod-01", "vcpu": 4, "memory_gb": 16, "disk_gb": 200,
        "os": "Windows Server 2022", "backup_engaged": True, "backup_contact": "backup@example.com",
        "monitoring_engaged": False, "monitoring_contact": "", "patching_engaged": True,
        "patching_contact": "patch@example.com", "security_engaged": False, "security_contact": "",
        "start_date": TODAY, "end_date": TODAY + datetime.timedelta(days=90), "quorum": None,
    }
    return {**fields, **overrides}


@pytest.fixture
def people(db):
    """A manager (with a report), two security admins and a compliance officer, each with a person."""
    manager = UserFactory(username="mgr", role=Role.MANAGER)
    boss = PersonFactory(name="Mia Manager", user=manager)
    report = PersonFactory(name="Rob Report", parent=boss)
    admins = [UserFactory(username=f"sec{n}", role=Role.SECURITY_ADMIN) for n in (1, 2)]
    admin_people = [PersonFactory(name=f"Sec Admin {n}", user=user) for n, user in enumerate(admins, 1)]
    officer = UserFactory(username="officer", role=Role.COMPLIANCE_OFFICER)
    PersonFactory(user=officer)
    return {"manager": manager, "boss": boss, "report": report, "sec1": admins[0], "sec2": admins[1],
            "sec_people": admin_people, "officer": officer}


def submitted(people, **overrides):
    return deployment_request_create(user=people["manager"], owner=people["report"], submit=True,
                                     **values(**overrides))


def test_a_request_is_filed_as_a_draft_with_a_number_people_can_type(people):
    request = deployment_request_create(user=people["manager"], owner=people["report"], **values())

    assert request.state == RequestState.DRAFT
    assert request.number == f"REQ-{request.pk:06d}"
    assert (request.requester, request.owner, request.requested_by) == (people["boss"], people["report"],
                                                                       people["manager"])
    assert request_number_parse(f"built for req-{request.pk} by ops") == request.pk
    event = AuditEvent.objects.get(action="deployment_request.created")
    assert (event.actor, event.object_id) == (people["manager"], str(request.pk))


def test_submitting_notifies_each_security_admin_once(people):
    request = submitted(people)

    assert request.state == RequestState.SUBMITTED and request.submitted_at is not None
    notes = Notification.objects.filter(kind=NotificationKind.REQUEST_SUBMITTED)
    assert sorted(note.person_id for note in notes) == sorted(person.pk for person in people["sec_people"])
    assert all(note.link == f"/inventory/requests/{request.pk}/" for note in notes)
    assert AuditEvent.objects.filter(action="deployment_request.submitted", object_id=str(request.pk)).count() == 1


def test_one_approval_approves_by_default_and_tells_the_requester(people):
    request = submitted(people)

    deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE, comment="Fine.")

    request.refresh_from_db()
    assert (request.state, request.decided_at is not None) == (RequestState.APPROVED, True)
    note = Notification.objects.get(kind=NotificationKind.REQUEST_DECIDED)
    assert (note.person, note.subject) == (people["boss"], f"{request.number} approved: Payroll reporting")
    assert list(AuditEvent.objects.filter(object_id=str(request.pk)).order_by("sequence")
                .values_list("action", flat=True)) == [
        "deployment_request.created", "deployment_request.submitted", "deployment_request.vote_approve",
        "deployment_request.approved",
    ]


def test_a_quorum_of_two_needs_two_security_admins_each_voting_once(people, settings):
    settings.DEPLOYMENT_APPROVAL_QUORUM = 2
    request = submitted(people)

    deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE)
    request.refresh_from_db()
    assert request.state == RequestState.SUBMITTED
    with pytest.raises(ValidationError, match="one vote per security admin"):
        deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE)
    assert DeploymentApproval.objects.count() == 1

    deployment_request_decide(request=request, user=people["sec2"], decision=Decision.APPROVE)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED


def test_a_request_may_ask_for_a_larger_quorum_than_the_setting(people):
    request = submitted(people, quorum=2)

    deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE)

    request.refresh_from_db()
    assert request.state == RequestState.SUBMITTED


def test_a_rejection_needs_a_reason_and_rejects_at_once(people, settings):
    settings.DEPLOYMENT_APPROVAL_QUORUM = 2
    request = submitted(people)

    with pytest.raises(ValidationError) as error:
        deployment_request_decide(request=request, user=people["sec1"], decision=Decision.REJECT, comment="  ")
    assert list(error.value.message_dict) == ["comment"]
    assert DeploymentApproval.objects.count() == 0

    deployment_request_decide(request=request, user=people["sec1"], decision=Decision.REJECT, comment="No backup.")
    request.refresh_from_db()
    assert request.state == RequestState.REJECTED
    note = Notification.objects.get(kind=NotificationKind.REQUEST_DECIDED)
    assert "No backup." in note.body and "rejected" in note.subject


@pytest.mark.parametrize("who", ["manager", "officer"])
def test_only_security_admins_decide(people, who):
    request = submitted(people)

    with pytest.raises(PermissionDenied):
        deployment_request_decide(request=request, user=people[who], decision=Decision.APPROVE)

    request.refresh_from_db()
    assert (request.state, DeploymentApproval.objects.count()) == (RequestState.SUBMITTED, 0)


def test_a_security_admin_never_approves_their_own_request(people):
    request = deployment_request_create(user=people["sec1"], owner=people["report"], submit=True, **values())

    with pytest.raises(PermissionDenied, match="another security admin"):
        deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE)

    request.refresh_from_db()
    assert (request.state, DeploymentApproval.objects.count()) == (RequestState.SUBMITTED, 0)
    # The requester is not asked to review their own request; the other security admin is.
    assert list(Notification.objects.filter(kind=NotificationKind.REQUEST_SUBMITTED)
                .values_list("person", flat=True)) == [people["sec_people"][1].pk]


def test_the_state_machine_refuses_what_it_does_not_allow(people):
    draft = deployment_request_create(user=people["manager"], owner=people["report"], **values())

    with pytest.raises(ValidationError, match="nothing to decide"):
        deployment_request_decide(request=draft, user=people["sec1"], decision=Decision.APPROVE)
    deployment_request_withdraw(request=draft, user=people["manager"])
    with pytest.raises(ValidationError, match="withdrawn: it cannot become submitted"):
        deployment_request_submit(request=draft, user=people["manager"])

    draft.refresh_from_db()
    assert (draft.state, draft.submitted_at) == (RequestState.WITHDRAWN, None)


def test_only_the_requester_submits_or_withdraws(people):
    draft = deployment_request_create(user=people["manager"], owner=people["report"], **values())

    for action in (deployment_request_submit, deployment_request_withdraw):
        with pytest.raises(PermissionDenied):
            action(request=draft, user=people["sec1"])

    draft.refresh_from_db()
    assert draft.state == RequestState.DRAFT


@pytest.mark.parametrize(("overrides", "field"), [
    ({"end_date": TODAY - datetime.timedelta(days=1)}, "end_date"),
    ({"purpose": "x" * 10_000_000}, "purpose"),
    ({"purpose": "bad\x00byte"}, "purpose"),
    ({"vcpu": 0}, "vcpu"),
    ({"backup_contact": ""}, "backup_contact"),
    ({"data_categories": ["none", "ephi"]}, "data_categories"),
    ({"environment": "moon"}, "environment"),
])
def test_bad_values_name_their_field_and_store_nothing(people, overrides, field):
    with pytest.raises(ValidationError) as error:
        deployment_request_create(user=people["manager"], owner=people["report"], **values(**overrides))

    assert list(error.value.message_dict) == [field]
    assert (DeploymentRequest.objects.count(), AuditEvent.objects.count()) == (0, 0)


def test_an_auditor_or_a_login_without_a_person_files_nothing(people):
    auditor = UserFactory(username="aud", role=Role.AUDITOR)
    PersonFactory(user=auditor)
    lonely = UserFactory(username="lonely", role=Role.MANAGER)
    for user in (auditor, lonely):
        with pytest.raises(PermissionDenied):
            deployment_request_create(user=user, owner=people["report"], **values())
    assert DeploymentRequest.objects.count() == 0


def test_linking_the_vm_by_hand_fulfils_an_approved_request_and_makes_it_pending(people):
    request = submitted(people)
    deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE)
    vm = VirtualMachineFactory()

    with pytest.raises(PermissionDenied):
        deployment_request_link_vm(request=request, vm=vm, user=people["manager"])
    deployment_request_link_vm(request=request, vm=vm, user=people["sec2"])

    request.refresh_from_db()
    vm.refresh_from_db()
    assert (request.state, request.vm, vm.sanction) == (RequestState.FULFILLED, vm, Sanction.PENDING)
    kinds = list(VMChange.objects.filter(vm=vm).order_by("id").values_list("kind", "new"))
    assert kinds == [
        (ChangeKind.REQUEST_LINKED, {"request": request.number, "request_id": request.pk, "how": "by hand"}),
        (ChangeKind.SANCTION_CHANGED, {"sanction": Sanction.PENDING}),
    ]


def test_a_vm_is_held_by_one_request_at_a_time(people):
    vm = VirtualMachineFactory()
    first, second = submitted(people), submitted(people)
    deployment_request_link_vm(request=first, vm=vm, user=people["sec1"])

    with pytest.raises(ValidationError, match="linked to REQ-"):
        deployment_request_link_vm(request=second, vm=vm, user=people["sec1"])

    second.refresh_from_db()
    assert second.vm is None


def test_a_retroactive_request_starts_linked_and_is_fulfilled_when_approved(people):
    vm = VirtualMachineFactory(owner=people["report"])

    request = deployment_request_create(user=people["manager"], owner=people["report"], vm=vm, submit=True,
                                        **values())
    assert (request.retroactive, request.vm, request.state) == (True, vm, RequestState.SUBMITTED)
    vm.refresh_from_db()
    assert vm.sanction == Sanction.UNAPPROVED

    deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE)
    request.refresh_from_db()
    vm.refresh_from_db()
    assert (request.state, vm.sanction) == (RequestState.FULFILLED, Sanction.PENDING)


def test_a_retroactive_request_comes_from_a_security_admin_or_a_manager_above_the_owner(people):
    somebody_elses = VirtualMachineFactory(owner=PersonFactory())
    unowned = VirtualMachineFactory(owner=None)

    for vm in (somebody_elses, unowned):
        with pytest.raises(PermissionDenied):
            deployment_request_create(user=people["manager"], owner=people["report"], vm=vm, **values())
    assert DeploymentRequest.objects.count() == 0
    assert deployment_request_create(user=people["sec1"], owner=people["report"], vm=unowned, **values()).vm == unowned


def test_a_scan_links_the_vm_that_names_the_request_by_attribute_or_annotation(people):
    source = SourceFactory(name="vc1")
    by_attribute, by_annotation = submitted(people), submitted(people)
    deployment_request_decide(request=by_attribute, user=people["sec1"], decision=Decision.APPROVE)
    draft = deployment_request_create(user=people["manager"], owner=people["report"], **values())
    now = timezone.now()
    first = VirtualMachineFactory(host__source=source, custom_attributes={"vmcensus.request": by_attribute.number},
                                  first_seen=now - datetime.timedelta(days=2))
    # A clone keeps its parent's attribute: the VM seen first is the one the request produced.
    VirtualMachineFactory(host__source=source, custom_attributes={"vmcensus.request": by_attribute.number},
                          first_seen=now)
    second = VirtualMachineFactory(host__source=source, annotation=f"Payroll\nreq-{by_annotation.pk} (Mia)")
    VirtualMachineFactory(host__source=source, annotation=f"named a draft: {draft.number}")
    elsewhere = VirtualMachineFactory(annotation=by_annotation.number)  # another source's scan links it, not this
    run = ScanRunFactory(source=source)

    linked = deployment_requests_link_from_scan(run=run)
    again = deployment_requests_link_from_scan(run=run)

    assert [request.pk for request in linked] == [by_attribute.pk, by_annotation.pk]
    assert again == []
    by_attribute.refresh_from_db()
    by_annotation.refresh_from_db()
    draft.refresh_from_db()
    assert (by_attribute.vm, by_attribute.state) == (first, RequestState.FULFILLED)
    assert (by_annotation.vm, by_annotation.state) == (second, RequestState.SUBMITTED)
    assert draft.vm is None
    assert VMChange.objects.get(vm=first, kind=ChangeKind.REQUEST_LINKED).scan_run == run
    assert not VMChange.objects.filter(vm=elsewhere).exists()
    assert VirtualMachine.objects.get(pk=first.pk).sanction == Sanction.PENDING
    assert VirtualMachine.objects.get(pk=second.pk).sanction == Sanction.UNAPPROVED


def test_sanction_follows_the_request_and_the_baseline_evidence(people):
    request = submitted(people)
    deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE)
    held, failing, rogue = VirtualMachineFactory(), VirtualMachineFactory(), VirtualMachineFactory()
    deployment_request_link_vm(request=request, vm=held, user=people["sec1"])
    other = submitted(people)
    deployment_request_decide(request=other, user=people["sec1"], decision=Decision.APPROVE)
    deployment_request_link_vm(request=other, vm=failing, user=people["sec1"])

    changed = vm_sanction_refresh(vms=[held, failing, rogue], baseline_failing_vm_ids={failing.pk})

    sanctions = dict(VirtualMachine.objects.values_list("pk", "sanction"))
    assert changed == 1
    assert (sanctions[held.pk], sanctions[failing.pk], sanctions[rogue.pk]) == (
        Sanction.APPROVED, Sanction.PENDING, Sanction.UNAPPROVED,
    )
    # No new evidence: the approved VM keeps its approval.
    assert vm_sanction_refresh(vms=[held, failing, rogue]) == 0


def end_date_request(people, *, end_date, state=RequestState.FULFILLED):
    vm = VirtualMachineFactory(sanction=Sanction.APPROVED)
    return DeploymentRequestFactory(
        requested_by=people["manager"], requester=people["boss"], owner=people["report"], state=state, vm=vm,
        start_date=end_date - datetime.timedelta(days=200), end_date=end_date,
    )


def test_the_owner_is_reminded_once_before_the_end_date_even_when_the_pass_runs_twice(people, settings):
    settings.DECOMMISSION_REMINDER_DAYS = 14
    soon = end_date_request(people, end_date=TODAY + datetime.timedelta(days=10))
    end_date_request(people, end_date=TODAY + datetime.timedelta(days=30))  # not yet

    first = deployment_requests_end_date_run(today=TODAY)
    second = deployment_requests_end_date_run(today=TODAY)

    assert (first.checked, first.reminded, first.ends_today, first.expired) == (1, 1, 0, 0)
    assert (second.checked, second.reminded, second.ends_today, second.expired) == (1, 0, 0, 0)
    note = Notification.objects.get(kind=NotificationKind.DECOMMISSION_DUE)
    assert (note.person, note.link) == (people["report"], f"/inventory/requests/{soon.pk}/")
    assert "ends on 2026-06-11" in note.subject


def test_past_the_end_date_the_request_expires_and_its_vm_loses_its_sanction(people):
    ending = end_date_request(people, end_date=TODAY)

    on_the_day = deployment_requests_end_date_run(today=TODAY)
    ending.refresh_from_db()
    assert (on_the_day.reminded, on_the_day.ends_today, on_the_day.expired, ending.state) == (
        0, 1, 0, RequestState.FULFILLED,
    )

    day_after = deployment_requests_end_date_run(today=TODAY + datetime.timedelta(days=1))
    again = deployment_requests_end_date_run(today=TODAY + datetime.timedelta(days=1))

    ending.refresh_from_db()
    assert (day_after.checked, day_after.expired, again.checked, again.expired) == (1, 1, 0, 0)
    assert ending.state == RequestState.EXPIRED
    assert ending.vm.sanction == Sanction.UNAPPROVED
    assert Notification.objects.filter(kind=NotificationKind.DECOMMISSION_DUE).count() == 1
    assert AuditEvent.objects.filter(action="deployment_request.expired", object_id=str(ending.pk)).count() == 1


def test_beat_runs_the_end_date_pass_daily_and_a_second_run_reminds_nobody(people, settings):
    from inventory.tasks import deployment_requests_end_dates_task

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["inventory.deployment_requests_end_dates"].hour == {6}
    today = timezone.localdate()
    end_date_request(people, end_date=today + datetime.timedelta(days=3))

    first = deployment_requests_end_dates_task.apply().get()
    second = deployment_requests_end_dates_task.apply().get()

    assert first == {"checked": 1, "reminded": 1, "ends_today": 0, "expired": 0}
    assert second == {"checked": 1, "reminded": 0, "ends_today": 0, "expired": 0}
    assert Notification.objects.filter(kind=NotificationKind.DECOMMISSION_DUE).count() == 1


def test_the_security_admins_dashboard_counts_the_requests_waiting_for_their_vote(people, client):
    submitted(people)
    submitted(people)
    client.force_login(people["sec1"])

    cards = {card["label"]: card for card in client.get("/").context["cards"]}

    assert (cards["Requests to review"]["value"], cards["Requests to review"]["url"]) == (
        2, "/inventory/requests/review/")


def test_a_csv_import_links_the_vm_whose_annotation_names_the_request(people, django_capture_on_commit_callbacks):
    import io

    from inventory.services.imports import vm_csv_import

    request = submitted(people)
    deployment_request_decide(request=request, user=people["sec1"], decision=Decision.APPROVE)
    rows = f"name,vm_id,platform,annotation\npay01,hv-1,hyperv,built for {request.number}\nlab02,hv-2,hyperv,\n"

    with django_capture_on_commit_callbacks(execute=True):
        vm_csv_import(stream=io.BytesIO(rows.encode()), source_name="hyperv (CSV)")

    request.refresh_from_db()
    assert (request.state, request.vm.name, request.vm.sanction) == (RequestState.FULFILLED, "pay01",
                                                                     Sanction.PENDING)
