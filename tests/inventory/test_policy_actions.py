"""Policy actions without vCenter: the digest per person, a vCenter that cannot be reached, the maintenance
window of a Tools upgrade, and who may propose and confirm."""

import datetime
import socket

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from inventory.choices import ActionBatchState, AttemptState, ChangeKind, FindingState, PolicyKind, Sanction
from inventory.models import ActionAttempt, Finding, Policy, VMChange
from inventory.services.findings import findings_evaluate
from inventory.services.policies import in_window, policies_load
from inventory.services.policy_actions import (
    AttemptsFailed,
    OutsideWindow,
    action_batch_confirm,
    action_batch_execute,
    action_batch_propose,
    findings_notify,
)
from portal.choices import NotificationKind, Role
from portal.models import AuditEvent, Notification
from tests.factories import PersonFactory, SourceFactory, UserFactory, VirtualMachineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rogue(db):
    policies_load()
    Policy.objects.exclude(kind=PolicyKind.ROGUE).update(enabled=False)
    return Policy.objects.get(kind=PolicyKind.ROGUE)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_each_person_gets_one_digest_for_the_findings_of_a_run(rogue, django_capture_on_commit_callbacks):
    manager = PersonFactory(email="boss@example.com")
    owner = PersonFactory(email="owner@example.com", parent=manager)
    admin = UserFactory(username="sec", role=Role.SECURITY_ADMIN)
    admin_person = PersonFactory(email="sec@example.com", user=admin)
    rogue.actions = {**rogue.actions, "notify": ["owner", "chain", "security_admins"]}
    rogue.save()
    for n in range(3):
        VirtualMachineFactory(name=f"web{n}", owner=owner)
    result = findings_evaluate()

    with django_capture_on_commit_callbacks(execute=True):
        findings_notify(finding_ids=result.opened_ids)
    with django_capture_on_commit_callbacks(execute=True):
        findings_notify(finding_ids=result.opened_ids)

    rows = Notification.objects.filter(kind=NotificationKind.FINDINGS)
    assert set(rows.values_list("person__email", flat=True)) == {
        "boss@example.com", "owner@example.com", "sec@example.com"}
    assert rows.count() == 3
    mine = rows.get(person=admin_person)
    assert mine.subject == "Rogue VMs: 3 new findings"
    assert sorted(line.split(":")[0] for line in mine.body.splitlines()) == ["- web0", "- web1", "- web2"]
    assert sorted(message.to[0] for message in mail.outbox) == [
        "boss@example.com", "owner@example.com", "sec@example.com"]


def test_a_vcenter_that_cannot_be_reached_is_reported_retried_and_resolves_nothing(rogue):
    first, second = UserFactory(role=Role.SECURITY_ADMIN), UserFactory(role=Role.SECURITY_ADMIN)
    source = SourceFactory(name="down", host="127.0.0.1", port=closed_port(), use_http=True)
    VirtualMachineFactory(name="web", host__cluster__datacenter__source=source)
    findings_evaluate()
    rogue.actions = {**rogue.actions, "power_off": {"enabled": True}}
    rogue.save()
    batch = action_batch_propose(policy=rogue, action="power_off", user=first)
    action_batch_confirm(batch=batch, user=second)

    with pytest.raises(AttemptsFailed):
        action_batch_execute(batch_id=batch.pk)

    attempt = ActionAttempt.objects.get()
    assert (attempt.state, attempt.tries) == (AttemptState.FAILED, 1)
    assert "127.0.0.1" in attempt.result
    assert Finding.objects.get().state == FindingState.OPEN
    assert VMChange.objects.filter(kind=ChangeKind.VCENTER_ACTION).get().new["outcome"] == AttemptState.FAILED
    assert AuditEvent.objects.filter(action="vcenter.power_off").count() == 1


def test_a_tools_upgrade_waits_for_its_maintenance_window(db):
    policies_load()
    unpatched = Policy.objects.get(kind=PolicyKind.UNPATCHED)
    Policy.objects.exclude(pk=unpatched.pk).update(enabled=False)
    first, second = UserFactory(role=Role.SECURITY_ADMIN), UserFactory(role=Role.SECURITY_ADMIN)
    VirtualMachineFactory(name="old-tools", sanction=Sanction.APPROVED, tools_version_status="guestToolsNeedUpgrade")
    findings_evaluate()
    Finding.objects.update(opened_at=timezone.now() - datetime.timedelta(days=30))
    window = {"days": ["sat"], "start": "22:00", "end": "04:00"}
    unpatched.actions = {**unpatched.actions, "upgrade_tools": {"enabled": True, "window": window}}
    unpatched.save()
    batch = action_batch_propose(policy=unpatched, action="upgrade_tools", user=first)
    action_batch_confirm(batch=batch, user=second)
    wednesday_noon = timezone.make_aware(datetime.datetime(2026, 12, 2, 12, 0))

    with pytest.raises(OutsideWindow):
        action_batch_execute(batch_id=batch.pk, now=wednesday_noon)

    assert ActionAttempt.objects.get().state == AttemptState.PENDING
    assert in_window(window, timezone.make_aware(datetime.datetime(2026, 12, 5, 23, 0)))  # Saturday night
    assert in_window(window, timezone.make_aware(datetime.datetime(2026, 12, 6, 3, 0)))  # into Sunday
    assert not in_window(window, timezone.make_aware(datetime.datetime(2026, 12, 6, 22, 30)))  # Sunday night


def test_only_security_admins_propose_and_a_finding_in_its_grace_is_not_taken(db):
    policies_load()
    dormant = Policy.objects.get(kind=PolicyKind.DORMANT)
    officer, admin = UserFactory(role=Role.COMPLIANCE_OFFICER), UserFactory(role=Role.SECURITY_ADMIN)
    VirtualMachineFactory(name="off", power_state="poweredOff", sanction=Sanction.APPROVED,
                          first_seen=timezone.now() - datetime.timedelta(days=100))
    findings_evaluate()

    with pytest.raises(PermissionDenied):
        action_batch_propose(policy=dormant, action="power_off", user=officer)
    with pytest.raises(ValidationError, match="no finding of this policy is eligible"):
        action_batch_propose(policy=dormant, action="power_off", user=admin)
    Finding.objects.update(opened_at=timezone.now() - datetime.timedelta(days=15))
    assert action_batch_propose(policy=dormant, action="power_off", user=admin).state == ActionBatchState.DRY_RUN
