"""The deployment requests of the demo, after the portal's people (the 2,500-VM estate is left out: the requests
bring their own new builds): one request in every state, a VM linked by its annotation, work for ``secadmin``."""

from collections import Counter

import pytest

from inventory.choices import ChangeKind, RequestState, Sanction
from inventory.models import DeploymentApproval, DeploymentRequest, VirtualMachine, VMChange
from inventory.selectors import deployment_requests_to_review_count
from inventory.services.demo_requests import REJECT_COMMENT, demo_requests_load
from portal.choices import NotificationKind
from portal.models import AuditEvent, Notification, User
from portal.services.demo import demo_load as portal_demo_load


@pytest.fixture
def loaded(db):
    portal_demo_load()
    return demo_requests_load()


def test_the_demo_has_a_request_in_every_state(loaded):
    states = Counter(DeploymentRequest.objects.values_list("state", flat=True))

    assert states == {RequestState.FULFILLED: 1, RequestState.EXPIRED: 1, RequestState.APPROVED: 1,
                      RequestState.REJECTED: 1, RequestState.WITHDRAWN: 1, RequestState.SUBMITTED: 4,
                      RequestState.DRAFT: 1}
    assert DeploymentApproval.objects.get(decision="reject").comment == REJECT_COMMENT


def test_the_payroll_vm_was_linked_by_the_number_in_its_annotation(loaded):
    payroll = DeploymentRequest.objects.get(purpose="Payroll reporting")
    vm = VirtualMachine.objects.get(name="pay-report01")

    assert (payroll.state, payroll.vm, vm.sanction) == (RequestState.FULFILLED, vm, Sanction.PENDING)
    assert payroll.number in vm.annotation
    assert VMChange.objects.get(vm=vm, kind=ChangeKind.REQUEST_LINKED).new["how"] == "by scan"


def test_secadmin_has_requests_waiting_and_owners_were_told_of_end_dates(loaded):
    secadmin = User.objects.get(username="secadmin")

    # Four submitted, one of them filed by secadmin (a retroactive one, for another security admin to decide).
    assert deployment_requests_to_review_count(secadmin) == 3
    assert DeploymentRequest.objects.get(retroactive=True).vm.name == "shadow-ftp01"
    expired = DeploymentRequest.objects.get(state=RequestState.EXPIRED)
    assert expired.vm.sanction == Sanction.UNAPPROVED
    assert set(Notification.objects.filter(kind=NotificationKind.DECOMMISSION_DUE)
               .values_list("about_id", flat=True)) == {expired.pk, DeploymentRequest.objects.get(
                   state=RequestState.APPROVED).pk}


def test_a_second_run_changes_nothing(loaded):
    before = (list(DeploymentRequest.objects.values()), AuditEvent.objects.count(), Notification.objects.count())

    assert demo_requests_load() == ["Deployment requests: already loaded."]

    assert (list(DeploymentRequest.objects.values()), AuditEvent.objects.count(),
            Notification.objects.count()) == before
