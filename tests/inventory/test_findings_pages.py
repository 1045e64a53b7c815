"""The findings queue, a finding, policies, baselines and action batches, as each role sees and uses them; and the
same through the API."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory.choices import ActionBatchState, FindingState, PolicyKind, Sanction
from inventory.models import ActionBatch, Baseline, BaselineRule, Finding, Policy
from inventory.services.findings import findings_acknowledge, findings_evaluate
from inventory.services.policies import policies_load
from inventory.services.policy_actions import action_batch_propose
from portal.choices import Role
from portal.models import AuditEvent
from tests.factories import DeploymentRequestFactory, PersonFactory, UserFactory, VirtualMachineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def policies(db):
    policies_load()
    Policy.objects.exclude(kind=PolicyKind.ROGUE).update(enabled=False)
    return Policy.objects.get(kind=PolicyKind.ROGUE)


def rogue_vms(count: int, **kwargs) -> list:
    vms = [VirtualMachineFactory(name=f"rogue{n:02d}", **kwargs) for n in range(count)]
    findings_evaluate()
    return vms


def queue(client, **params):
    return client.get(reverse("inventory:finding_list"), params)


def test_the_queue_lists_unresolved_findings_with_age_and_sla(policies, client_for):
    rogue_vms(2)
    Finding.objects.filter(vm__name="rogue00").update(opened_at=timezone.now() - datetime.timedelta(days=9))

    page = queue(client_for(Role.SECURITY_ADMIN)).content.decode()

    assert page.count('data-finding="') == 2
    assert "9 d / 7 d" in page and "overdue" in page


def test_the_queue_costs_the_same_queries_for_3_or_30_findings(policies, client_for, django_assert_max_num_queries):
    client = client_for(Role.SECURITY_ADMIN)
    rogue_vms(3)
    with django_assert_max_num_queries(12) as few:
        queue(client)
    rogue_vms(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = queue(client)
    assert response.content.decode().count('data-finding="') == 33


def test_a_manager_sees_only_the_findings_of_their_subtree(policies, role_users, client_for):
    me = PersonFactory(user=role_users[Role.MANAGER])
    VirtualMachineFactory(name="mine", owner=PersonFactory(parent=me))
    VirtualMachineFactory(name="theirs", owner=PersonFactory())
    findings_evaluate()

    page = queue(client_for(Role.MANAGER)).content.decode()

    assert "mine" in page and "theirs" not in page


def test_filters_narrow_the_queue(policies, client_for):
    rogue_vms(2)
    Finding.objects.filter(vm__name="rogue00").update(opened_at=timezone.now() - datetime.timedelta(days=20))
    client = client_for(Role.AUDITOR)

    assert queue(client, min_age=10).content.decode().count('data-finding="') == 1
    assert queue(client, kind="dormant").content.decode().count('data-finding="') == 0
    assert queue(client, state="resolved").content.decode().count('data-finding="') == 0


def test_a_security_admin_acknowledges_in_bulk(policies, role_users, client_for):
    rogue_vms(3)
    ids = list(Finding.objects.values_list("pk", flat=True))

    response = client_for(Role.SECURITY_ADMIN).post(reverse("inventory:finding_list"),
                                                    {"action": "acknowledge", "ids": ids[:2]})

    assert response.status_code == 302
    assert sorted(Finding.objects.values_list("state", flat=True)) == ["acknowledged", "acknowledged", "open"]


@pytest.mark.parametrize("role", [Role.COMPLIANCE_OFFICER, Role.AUDITOR, Role.MANAGER])
def test_other_roles_cannot_change_findings(policies, client_for, role):
    rogue_vms(1)
    events = AuditEvent.objects.count()

    ids = list(Finding.objects.values_list("pk", flat=True))
    response = client_for(role).post(reverse("inventory:finding_list"), {"action": "acknowledge", "ids": ids})

    assert response.status_code == 403
    assert list(Finding.objects.values_list("state", flat=True)) == [FindingState.OPEN]
    assert AuditEvent.objects.count() == events


def test_an_exception_without_a_reason_is_refused_and_changes_nothing(policies, client_for):
    rogue_vms(1)
    finding = Finding.objects.get()
    until = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()

    response = client_for(Role.SECURITY_ADMIN).post(reverse("inventory:finding_detail", args=[finding.pk]),
                                                    {"action": "except", "until": until, "reason": ""}, follow=True)

    assert "Say why the exception is granted." in response.content.decode()
    assert Finding.objects.get().state == FindingState.OPEN


def test_an_exception_from_the_finding_page(policies, role_users, client_for):
    rogue_vms(1)
    finding = Finding.objects.get()
    until = timezone.localdate() + datetime.timedelta(days=30)

    client_for(Role.SECURITY_ADMIN).post(reverse("inventory:finding_detail", args=[finding.pk]),
                                         {"action": "except", "until": until.isoformat(), "reason": "lab VM"})

    finding.refresh_from_db()
    assert (finding.state, finding.excepted_until, finding.exception_reason, finding.exception_approver) == (
        FindingState.EXCEPTED, until, "lab VM", role_users[Role.SECURITY_ADMIN])
    page = client_for(Role.AUDITOR).get(reverse("inventory:finding_detail", args=[finding.pk])).content.decode()
    assert "lab VM" in page and "finding.excepted" in page


def test_names_are_escaped_in_the_queue(policies, client_for):
    VirtualMachineFactory(name="<script>alert(1)</script>")
    findings_evaluate()

    page = queue(client_for(Role.SECURITY_ADMIN)).content.decode()

    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_the_queue_exports_csv(policies, client_for):
    rogue_vms(2)

    response = queue(client_for(Role.AUDITOR), export="csv")

    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Finding,Kind,State,VM,Source,Policy")
    assert sorted(line.split(",")[3] for line in lines[1:]) == ["rogue00", "rogue01"]


def test_the_vm_page_shows_its_findings_as_badges_and_their_history(policies, role_users, client_for):
    (vm, other) = rogue_vms(2)
    findings_acknowledge(ids=list(Finding.objects.filter(vm=other).values_list("pk", flat=True)),
                         user=role_users[Role.SECURITY_ADMIN])
    type(vm).objects.filter(pk=other.pk).update(sanction=Sanction.APPROVED)
    DeploymentRequestFactory(vm=other, state="approved")
    findings_evaluate()

    page = client_for(Role.AUDITOR).get(reverse("inventory:vm_detail", args=[vm.pk])).content.decode()
    resolved = client_for(Role.AUDITOR).get(reverse("inventory:vm_detail", args=[other.pk])).content.decode()

    assert 'data-panel="findings"' in page and "Rogue (no approval) · Open" in page
    assert "No open finding." in resolved and "1 resolved finding." in resolved
    assert "the condition cleared at this evaluation" in resolved and "acknowledged" in resolved


def test_a_bad_baseline_file_names_its_line_and_field_and_changes_nothing(policies, client_for):
    before = list(BaselineRule.objects.values_list("baseline__name", "key", "expected"))
    bad = b"name: vSphere 8 SCG\nrules:\n  - key: log.keepOld\n    comparison: at_most\n    expected: ten\n" \
          b"    source: SCG\n"

    response = client_for(Role.SECURITY_ADMIN).post(reverse("inventory:baseline_list"), {
        "file": SimpleUploadedFile("scg.yaml", bad)})

    assert response.status_code == 400
    assert "line 5, expected: &#x27;ten&#x27; is not a number (at_most)" in response.content.decode()
    assert list(BaselineRule.objects.values_list("baseline__name", "key", "expected")) == before


def test_a_csv_baseline_is_imported(policies, client_for):
    csv = b"key,comparison,expected,absent_means,source\nmks.enable3d,equals,FALSE,FALSE,SCG\n"
    response = client_for(Role.SECURITY_ADMIN).post(reverse("inventory:baseline_list"), {
        "name": "Lab", "file": SimpleUploadedFile("lab.csv", csv)})

    baseline = Baseline.objects.get(name="Lab")
    assert response.status_code == 302
    assert list(baseline.rules.values_list("key", "comparison", "expected")) == [("mks.enable3d", "equals", "FALSE")]


def test_a_policy_edit_is_a_new_version_and_bad_json_names_the_field(policies, client_for):
    client = client_for(Role.SECURITY_ADMIN)
    url = reverse("inventory:policy_detail", args=[policies.pk])
    form = {"enabled": "on", "config": '{"grace_days": 3}', "scope": "{}", "actions": '{"notify": ["owner"]}'}

    bad = client.post(url, {**form, "config": '{"grace_days": 3'})
    unknown = client.post(url, {**form, "config": '{"grace_days": 3, "weeks": 1}'})
    assert "Not valid JSON: line 1" in bad.content.decode()
    assert "weeks: is not a setting of a rogue policy" in unknown.content.decode()
    assert Policy.objects.get(pk=policies.pk).version == 1

    assert client.post(url, form).status_code == 302
    policy = Policy.objects.get(pk=policies.pk)
    assert (policy.version, policy.config, policy.actions) == (2, {"grace_days": 3}, {"notify": ["owner"]})


def test_a_batch_is_confirmed_by_a_second_security_admin_only(policies, role_users, client_for):
    rogue_vms(1)
    policies.actions = {**policies.actions, "power_off": {"enabled": True}}
    policies.save()
    proposer = UserFactory(username="second-admin", role=Role.SECURITY_ADMIN)
    batch = action_batch_propose(policy=policies, action="power_off", user=proposer)
    url = reverse("inventory:action_batch_detail", args=[batch.pk])
    own = Client()
    own.force_login(proposer)
    refused = own.post(url, {"decision": "confirm"}, follow=True)
    assert "A second security admin must confirm" in refused.content.decode()
    assert ActionBatch.objects.get().state == ActionBatchState.AWAITING

    client_for(Role.SECURITY_ADMIN).post(url, {"decision": "confirm"})
    batch.refresh_from_db()
    assert (batch.state, batch.confirmed_by) == (ActionBatchState.CONFIRMED, role_users[Role.SECURITY_ADMIN])


# -- API -------------------------------------------------------------------------------------------------------

def test_api_lists_findings_and_a_security_admin_acknowledges_one(policies, client_for):
    rogue_vms(2)
    finding = Finding.objects.order_by("pk").first()

    listed = client_for(Role.AUDITOR).get("/api/v1/findings/", {"kind": "rogue"}).json()
    refused = client_for(Role.AUDITOR).post(f"/api/v1/findings/{finding.pk}/acknowledge/")
    done = client_for(Role.SECURITY_ADMIN).post(f"/api/v1/findings/{finding.pk}/acknowledge/")

    assert listed["count"] == 2
    assert refused.status_code == 403
    assert (done.status_code, done.json()["state"]) == (200, "acknowledged")


def test_api_except_with_a_past_date_is_a_400_and_changes_nothing(policies, client_for):
    rogue_vms(1)
    finding = Finding.objects.get()

    response = client_for(Role.SECURITY_ADMIN).post(
        f"/api/v1/findings/{finding.pk}/except/", {"until": "2020-01-01", "reason": "x"},
        content_type="application/json")

    assert (response.status_code, list(response.json())) == (400, ["until"])
    assert Finding.objects.get().state == FindingState.OPEN


def test_api_policy_patch_is_validated_per_kind(policies, client_for):
    client = client_for(Role.SECURITY_ADMIN)
    url = f"/api/v1/policies/{policies.pk}/"

    bad = client.patch(url, {"config": {"grace_days": "soon"}}, content_type="application/json")
    good = client.patch(url, {"config": {"grace_days": 2}, "note": "faster"}, content_type="application/json")
    refused = client_for(Role.AUDITOR).patch(url, {"enabled": False}, content_type="application/json")

    assert (bad.status_code, list(bad.json())) == (400, ["grace_days"])
    assert (good.status_code, good.json()["version"], good.json()["config"]) == (200, 2, {"grace_days": 2})
    assert refused.status_code == 403
    assert Policy.objects.get(pk=policies.pk).enabled is True


def test_api_baselines_carry_their_rules(policies, client_for):
    body = client_for(Role.AUDITOR).get("/api/v1/baselines/").json()

    scg = next(row for row in body["results"] if row["name"] == "vSphere 8 SCG")
    assert {rule["key"]: rule["expected"] for rule in scg["rules"]}["RemoteDisplay.maxConnections"] == "1"


def test_the_dashboard_counts_by_kind_and_state(policies, client_for):
    rogue_vms(2)
    VirtualMachineFactory(name="approved", sanction=Sanction.APPROVED)

    page = client_for(Role.SECURITY_ADMIN).get(reverse("inventory:findings_dashboard")).content.decode()

    assert 'data-figure="open">2<' in page


@pytest.mark.parametrize("url", ["inventory:findings_dashboard", "inventory:policy_list", "inventory:baseline_list"])
def test_the_governance_pages_cost_the_same_queries_for_3_or_30_findings(
    policies, client_for, django_assert_max_num_queries, url,
):
    client = client_for(Role.SECURITY_ADMIN)
    rogue_vms(3)
    with django_assert_max_num_queries(15) as few:
        assert client.get(reverse(url)).status_code == 200
    for n in range(30):
        VirtualMachineFactory(name=f"more{n:02d}")
    findings_evaluate()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse(url)).status_code == 200
