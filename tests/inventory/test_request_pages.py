"""Deployment request pages as people use them: the form, the lists each role reads, the review queue, the request's
page and its buttons, the retroactive request from a VM's page, the exports; with refusals that change nothing."""

import csv
import datetime
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory.choices import Decision, RequestState, Sanction
from inventory.models import DeploymentApproval, DeploymentRequest
from inventory.services.approvals import deployment_request_decide
from portal.choices import NotificationKind, Role
from portal.models import AuditEvent, Notification
from tests.factories import DeploymentRequestFactory, PersonFactory, UserFactory, VirtualMachineFactory
from tests.page_reading import facts, links, read, rows

pytestmark = pytest.mark.django_db

ADD_URL = reverse("inventory:request_add")
LIST_URL = reverse("inventory:request_list")
REVIEW_URL = reverse("inventory:request_review")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def org(db):
    """A director over a manager over an engineer; a second branch; two security admins; an auditor."""
    director_user = UserFactory(username="director", role=Role.MANAGER)
    director = PersonFactory(name="Dora Director", email="dora@example.com", user=director_user)
    manager_user = UserFactory(username="manny", role=Role.MANAGER)
    manager = PersonFactory(name="Manny Manager", email="manny@example.com", parent=director, user=manager_user)
    engineer = PersonFactory(name="Erin Engineer", email="erin@example.com", parent=manager)
    other_user = UserFactory(username="olly", role=Role.MANAGER)
    other = PersonFactory(name="Olly Other", email="olly@example.com", user=other_user)
    sec = [UserFactory(username=f"sec{n}", role=Role.SECURITY_ADMIN) for n in (1, 2)]
    for n, user in enumerate(sec, 1):
        PersonFactory(name=f"Sam Security {n}", email=f"sec{n}@example.com", user=user)
    return {"director_user": director_user, "director": director, "manager_user": manager_user,
            "manager": manager, "engineer": engineer, "other_user": other_user, "other": other,
            "sec1": sec[0], "sec2": sec[1], "auditor": UserFactory(username="aud", role=Role.AUDITOR)}


def form_data(**overrides):
    today = timezone.localdate()
    data = {
        "purpose": "Payroll reports", "description": "Monthly payroll.", "environment": "production",
        "owner": "Erin Engineer <erin@example.com>", "data_categories": ["financial_reporting"],
        "target_datacenter": "DC1", "target_cluster": "Prod-01", "vcpu": "4", "memory_gb": "16", "disk_gb": "200",
        "os": "Windows Server 2022", "backup_engaged": "on", "backup_contact": "backup@example.com",
        "patching_engaged": "on", "patching_contact": "patching@example.com",
        "start_date": today.isoformat(), "end_date": (today + datetime.timedelta(days=180)).isoformat(),
        "action": "submit",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def snapshot():
    return (list(DeploymentRequest.objects.values()), list(DeploymentApproval.objects.values()),
            AuditEvent.objects.count(), Notification.objects.count())


def test_a_manager_requests_a_vm_and_the_security_admins_are_told(org):
    response = login(org["manager_user"]).post(ADD_URL, form_data())

    request = DeploymentRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("inventory:request_detail",
                                                                           args=[request.pk])
    assert (request.state, request.requester, request.owner) == (RequestState.SUBMITTED, org["manager"],
                                                                 org["engineer"])
    assert (request.backup_engaged, request.monitoring_engaged, request.data_categories) == (
        True, False, ["financial_reporting"])
    told = set(Notification.objects.filter(kind=NotificationKind.REQUEST_SUBMITTED)
               .values_list("person__email", flat=True))
    assert told == {"sec1@example.com", "sec2@example.com"}
    page = read(login(org["manager_user"]).get(response["Location"]).content.decode())
    assert f"{request.number} Submitted" in page.find("h1").text()
    assert facts(page)["Owner"].text() == "Erin Engineer"
    assert facts(page)["Backup"].text() == "engaged backup@example.com"


def test_save_as_draft_then_submit_from_the_request_page(org):
    client = login(org["manager_user"])
    client.post(ADD_URL, form_data(action="draft"))
    request = DeploymentRequest.objects.get()
    assert (request.state, Notification.objects.count()) == (RequestState.DRAFT, 0)

    client.post(reverse("inventory:request_detail", args=[request.pk]), {"action": "submit"})

    request.refresh_from_db()
    assert request.state == RequestState.SUBMITTED


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"end_date": "2020-01-01", "start_date": "2020-02-01"}, "end_date", "Ends (2020-01-01) before it starts"),
    ({"purpose": "x" * 201}, "purpose", "Ensure this value has at most 200 characters"),
    ({"vcpu": "0"}, "vcpu", "greater than or equal to 1"),
    ({"backup_contact": ""}, "backup_contact", "Name the backup team's contact"),
    ({"owner": "Nobody Known"}, "owner", "Nobody active is called"),
    ({"data_categories": ["none", "ephi"]}, "data_categories", "cannot go with other data categories"),
])
def test_bad_input_is_a_form_error_on_its_field_and_changes_nothing(org, overrides, field, message):
    before = snapshot()

    response = login(org["manager_user"]).post(ADD_URL, form_data(**overrides))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert snapshot() == before


@pytest.mark.parametrize("purpose", ["Pay\x00roll", "x" * 10_000_000])
def test_a_nul_byte_or_10_mb_of_text_is_refused_before_any_view_and_changes_nothing(org, purpose):
    before = snapshot()

    response = login(org["manager_user"]).post(ADD_URL, form_data(purpose=purpose))

    assert response.status_code == 400
    assert snapshot() == before


def test_html_in_the_purpose_is_shown_as_text(org):
    client = login(org["manager_user"])
    client.post(ADD_URL, form_data(purpose="<script>alert(1)</script>"))
    request = DeploymentRequest.objects.get()

    for url in (reverse("inventory:request_detail", args=[request.pk]), LIST_URL):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_login_without_a_person_is_told_why_it_cannot_file(org):
    lonely = UserFactory(username="lonely", role=Role.COMPLIANCE_OFFICER)
    client = login(lonely)

    page = read(client.get(ADD_URL).content.decode())
    posted = client.post(ADD_URL, form_data())

    assert "not linked to a person" in page.find("div", role="alert").text()
    assert posted.status_code == 200 and "not linked to a person" in " ".join(posted.context["form"].non_field_errors())
    assert DeploymentRequest.objects.count() == 0


def requests_of(org):
    """The manager's, the engineer's (filed by the director for them) and the other branch's."""
    mine = DeploymentRequestFactory(requested_by=org["manager_user"], requester=org["manager"],
                                    owner=org["engineer"], purpose="Mine", state=RequestState.SUBMITTED,
                                    submitted_at=timezone.now())
    above = DeploymentRequestFactory(requested_by=org["director_user"], requester=org["director"],
                                     owner=org["engineer"], purpose="For my engineer")
    theirs = DeploymentRequestFactory(requested_by=org["other_user"], requester=org["other"], owner=org["other"],
                                      purpose="Elsewhere", state=RequestState.SUBMITTED,
                                      submitted_at=timezone.now())
    return mine, above, theirs


def listed(client, query="") -> list[str]:
    page = read(client.get(LIST_URL + query).content.decode())
    return [row[2] for row in rows(page.find("table"))] if page.find_all("table") else []


def test_each_role_reads_the_requests_of_its_scope(org):
    requests_of(org)

    assert sorted(listed(login(org["manager_user"]))) == ["For my engineer", "Mine"]
    assert sorted(listed(login(org["director_user"]))) == ["For my engineer", "Mine"]
    assert listed(login(org["manager_user"]), "?mine=true") == ["Mine"]
    assert listed(login(org["other_user"])) == ["Elsewhere"]
    assert sorted(listed(login(org["auditor"]))) == ["Elsewhere", "For my engineer", "Mine"]
    assert sorted(listed(login(org["sec1"]))) == ["Elsewhere", "For my engineer", "Mine"]


def test_a_request_outside_the_managers_area_is_not_found(org):
    _mine, _above, theirs = requests_of(org)

    response = login(org["manager_user"]).get(reverse("inventory:request_detail", args=[theirs.pk]))

    assert response.status_code == 404


def test_the_review_queue_lists_what_waits_with_its_quorum_and_the_vote_decides(org):
    mine, _above, theirs = requests_of(org)
    client = login(org["sec1"])

    page = read(client.get(REVIEW_URL).content.decode())
    assert [(row[0], row[5]) for row in rows(page.find("table"))] == [(mine.number, "0 of 1"),
                                                                         (theirs.number, "0 of 1")]
    response = client.post(reverse("inventory:request_detail", args=[mine.pk]),
                           {"action": "approve", "comment": ""})

    mine.refresh_from_db()
    assert response.status_code == 302 and mine.state == RequestState.APPROVED
    assert Notification.objects.get(kind=NotificationKind.REQUEST_DECIDED).person == org["manager"]
    assert [row[0] for row in rows(read(client.get(REVIEW_URL).content.decode()).find("table"))] == [
        theirs.number]


def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(org):
    mine, _above, _theirs = requests_of(org)
    before = snapshot()

    response = login(org["sec1"]).post(reverse("inventory:request_detail", args=[mine.pk]),
                                       {"action": "reject", "comment": "   "})

    assert response.status_code == 400
    assert "Say why the request is rejected" in " ".join(response.context["decision_form"].errors["comment"])
    assert snapshot() == before


@pytest.mark.parametrize("who", ["manager_user", "auditor"])
def test_nobody_but_a_security_admin_approves(org, who):
    mine, _above, _theirs = requests_of(org)
    before = snapshot()

    response = login(org[who]).post(reverse("inventory:request_detail", args=[mine.pk]), {"action": "approve"})

    assert response.status_code == 403
    assert snapshot() == before


def test_a_security_admin_who_filed_a_request_sees_no_vote_buttons_and_cannot_vote(org):
    own = DeploymentRequestFactory(requested_by=org["sec1"], requester=org["sec1"].person, owner=org["engineer"],
                                   state=RequestState.SUBMITTED, submitted_at=timezone.now())
    client = login(org["sec1"])
    url = reverse("inventory:request_detail", args=[own.pk])
    before = snapshot()

    page = read(client.get(url).content.decode())
    posted = client.post(url, {"action": "approve"})

    assert "another security admin decides it" in page.text()
    assert not [button for button in page.find_all("button") if button.attrs.get("value") == "approve"]
    assert posted.status_code == 403
    assert snapshot() == before


def test_a_security_admin_links_the_vm_by_hand(org):
    mine, _above, _theirs = requests_of(org)
    deployment_request_decide(request=mine, user=org["sec1"], decision=Decision.APPROVE)
    vm = VirtualMachineFactory(name="pay01")
    client = login(org["sec2"])
    url = reverse("inventory:request_detail", args=[mine.pk])

    missing = client.post(url, {"action": "link", "vm": "999999"})
    client.post(url, {"action": "link", "vm": str(vm.pk)})

    assert missing.status_code == 400 and "No VM has the id 999999" in missing.content.decode()
    mine.refresh_from_db()
    assert (mine.state, mine.vm) == (RequestState.FULFILLED, vm)
    vm_page = read(client.get(reverse("inventory:vm_detail", args=[vm.pk])).content.decode())
    assert facts(vm_page)["Sanction"].text() == "Pending approval"
    assert facts(vm_page)["Deployment request"].text() == f"{mine.number} fulfilled"


def test_a_manager_above_the_owner_files_a_retroactive_request_from_the_vms_page(org):
    rogue = VirtualMachineFactory(name="rogue01", owner=org["engineer"], guest_os="Ubuntu 22.04", memory_mb=8192)
    client = login(org["manager_user"])
    vm_page = read(client.get(reverse("inventory:vm_detail", args=[rogue.pk])).content.decode())
    url = reverse("inventory:vm_request_add", args=[rogue.pk])
    assert ("Request approval of this VM", url) in links(vm_page)

    form = client.get(url).context["form"]
    assert (form.initial["os"], form.initial["memory_gb"], form.initial["owner"]) == (
        "Ubuntu 22.04", 8, "Erin Engineer <erin@example.com>")
    client.post(url, form_data(purpose="Build agent"))

    request = DeploymentRequest.objects.get()
    assert (request.vm, request.retroactive, request.state) == (rogue, True, RequestState.SUBMITTED)
    deployment_request_decide(request=request, user=org["sec1"], decision=Decision.APPROVE)
    rogue.refresh_from_db()
    request.refresh_from_db()
    assert (request.state, rogue.sanction) == (RequestState.FULFILLED, Sanction.PENDING)


def test_a_manager_not_above_the_owner_files_no_retroactive_request(org):
    rogue = VirtualMachineFactory(owner=org["engineer"])
    client = login(org["other_user"])
    url = reverse("inventory:vm_request_add", args=[rogue.pk])

    assert client.get(url).status_code == 404  # outside their area: not even found
    assert client.post(url, form_data()).status_code == 404
    assert DeploymentRequest.objects.count() == 0


def test_the_export_is_the_filtered_list_and_is_audited(org):
    requests_of(org)

    response = login(org["auditor"]).get(reverse("inventory:request_export_csv") + "?state=submitted")

    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert table[0][:3] == ["Number", "State", "Purpose"]
    assert sorted(row[2] for row in table[1:]) == ["Elsewhere", "Mine"]
    event = AuditEvent.objects.get(action="deployment_request.exported")
    assert (event.details["format"], event.details["rows"]) == ("csv", 2)
    xlsx = login(org["auditor"]).get(reverse("inventory:request_export_xlsx"))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")


@pytest.mark.parametrize("url", [LIST_URL, REVIEW_URL])
def test_the_lists_cost_the_same_queries_for_three_or_thirty_requests(org, url, django_assert_max_num_queries):
    client = login(org["sec1"])
    for count in (3, 30):
        while DeploymentRequest.objects.count() < count:
            DeploymentRequestFactory(requested_by=org["manager_user"], requester=org["manager"],
                                     owner=org["engineer"], state=RequestState.SUBMITTED, submitted_at=timezone.now(),
                                     vm=VirtualMachineFactory())
        with django_assert_max_num_queries(14):
            assert client.get(url).status_code == 200
