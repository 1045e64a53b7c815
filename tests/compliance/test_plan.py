"""The security plan under change control: versions, sign-offs by named stakeholders, the difference between
versions, review reminders; refusals change nothing."""

import csv
import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from compliance.models import PlanSignoff, PlanVersion
from compliance.selectors import plan_in_force
from compliance.services.plans import SECTION_FIELDS, plan_reminders_run, plan_signoff, plan_version_create
from compliance.tasks import plan_reminders_run_task
from inventory.choices import PolicyKind
from inventory.models import Policy
from inventory.services.policies import policies_load, policy_update
from portal.choices import NotificationKind, Role
from portal.models import AuditEvent, Notification
from tests.factories import PersonFactory
from tests.page_reading import links, read

pytestmark = pytest.mark.django_db

EDIT_URL = reverse("compliance:plan_edit")


def texts(**changes) -> dict[str, str]:
    return {field: changes.get(field, f"What we do about {field.replace('_', ' ')}.") for field in SECTION_FIELDS}


@pytest.fixture
def people(role_users):
    """Stakeholders with logins: the CIO (a manager) and the compliance officer; and a person without a login."""
    return {
        "cio": PersonFactory(name="Chris CIO", user=role_users[Role.MANAGER]),
        "officer": PersonFactory(name="Olga Officer", user=role_users[Role.COMPLIANCE_OFFICER]),
        "admin": PersonFactory(name="Sam Secadmin", user=role_users[Role.SECURITY_ADMIN]),
        "no_login": PersonFactory(name="Nora Nologin"),
    }


def form(people, **changes) -> dict:
    data = {**texts(), "change_summary": "First version.",
            "review_due_on": (timezone.localdate() + datetime.timedelta(days=365)).isoformat(),
            "stakeholders": [people["cio"].pk, people["officer"].pk]}
    data.update(changes)
    return data


def state() -> tuple:
    return (PlanVersion.objects.count(), PlanSignoff.objects.count(), Notification.objects.count(),
            AuditEvent.objects.count())


def write(people, role_users, **changes) -> PlanVersion:
    data = {"sections": texts(**changes.pop("sections", {})), "change_summary": "A change.",
            "review_due_on": timezone.localdate() + datetime.timedelta(days=365),
            "stakeholders": [people["cio"], people["officer"]], **changes}
    return plan_version_create(user=role_users[Role.COMPLIANCE_OFFICER], **data)


def test_an_officer_writes_a_version_and_each_stakeholder_is_asked_to_sign_it(people, client_for):
    response = client_for(Role.COMPLIANCE_OFFICER).post(EDIT_URL, form(people))

    assert response.status_code == 302
    version = PlanVersion.objects.get()
    assert version.number == 1 and version.patch_management == "What we do about patch management."
    asks = Notification.objects.filter(kind=NotificationKind.PLAN_SIGNOFF)
    assert sorted(asks.values_list("person__name", flat=True)) == ["Chris CIO", "Olga Officer"]
    assert asks.first().link == reverse("compliance:plan_signoff", args=[1])
    event = AuditEvent.objects.get(action="compliance.plan_version_created")
    assert event.details["sections_changed"] == list(SECTION_FIELDS)


@pytest.mark.parametrize(("changes", "field"), [
    ({"patch_management": "  "}, "patch_management"),
    ({"change_summary": ""}, "change_summary"),
    ({"review_due_on": "2001-01-01"}, "review_due_on"),
    ({"stakeholders": []}, "stakeholders"),
    ({"tools": "x" * 20_001}, "tools"),
])
def test_a_bad_version_is_refused_naming_the_field_and_nothing_is_written(changes, field, people, client_for):
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post(EDIT_URL, form(people, **changes))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert state() == before


def test_a_stakeholder_without_a_login_is_refused(people, role_users):
    before = state()

    with pytest.raises(ValidationError) as refused:
        write(people, role_users, stakeholders=[people["no_login"]])

    assert "Nora Nologin has no active login" in str(refused.value)
    assert state() == before


def test_a_version_that_changes_nothing_is_refused(people, role_users, client_for):
    write(people, role_users)
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post(EDIT_URL, form(people, change_summary="Nothing really."))

    assert response.context["form"].non_field_errors() == [
        "No section changed: a new version needs a change to the plan."]
    assert state() == before


@pytest.mark.parametrize("role", [Role.SECURITY_ADMIN, Role.AUDITOR, Role.MANAGER, "none"])
def test_only_compliance_officers_and_admins_write_the_plan(role, people, client_for):
    before = state()

    assert client_for(role).post(EDIT_URL, form(people)).status_code == 403
    assert state() == before


def test_html_and_a_10_mb_section_are_text_or_refused(people, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)
    before = state()
    assert client.post(EDIT_URL, form(people, tools="x" * 10_000_000)).status_code == 400
    assert state() == before

    client.post(EDIT_URL, form(people, tools="<img src=x onerror=alert(1)>"))
    html = client_for(Role.AUDITOR).get(reverse("compliance:plan")).content.decode()

    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_stakeholders_sign_off_and_the_version_is_in_force_when_all_have(people, role_users, client_for):
    version = write(people, role_users)
    url = reverse("compliance:plan_signoff", args=[1])

    assert client_for(Role.MANAGER).post(url).status_code == 302
    assert plan_in_force() is None
    client_for(Role.COMPLIANCE_OFFICER).post(url)

    assert sorted(version.signoffs.values_list("person__name", flat=True)) == ["Chris CIO", "Olga Officer"]
    assert plan_in_force() == version
    page = client_for(Role.AUDITOR).get(reverse("compliance:plan")).content.decode()
    assert "this version is in force" in page and "Signed off" in page
    assert AuditEvent.objects.filter(action="compliance.plan_signed").count() == 2


def test_only_named_stakeholders_sign_and_only_once(people, role_users, client_for):
    write(people, role_users)
    url = reverse("compliance:plan_signoff", args=[1])
    client_for(Role.MANAGER).post(url)
    before = state()

    again = client_for(Role.MANAGER).post(url, follow=True)
    stranger = client_for(Role.SECURITY_ADMIN).post(url)
    auditor = client_for(Role.AUDITOR).post(url)

    assert "You signed version 1 off already." in again.content.decode()
    assert stranger.status_code == 403 and auditor.status_code == 403
    assert state() == before


def test_a_manager_who_is_not_a_stakeholder_cannot_read_the_signoff_page(people, role_users, client_for):
    write(people, role_users, stakeholders=[people["officer"]])

    assert client_for(Role.MANAGER).get(reverse("compliance:plan_signoff", args=[1])).status_code == 403
    assert client_for(Role.AUDITOR).get(reverse("compliance:plan_signoff", args=[1])).status_code == 200


def test_a_change_makes_a_new_version_that_needs_signing_again_and_the_signed_one_stays(people, role_users):
    first = write(people, role_users)
    for user in (role_users[Role.MANAGER], role_users[Role.COMPLIANCE_OFFICER]):
        plan_signoff(version=first, user=user)

    second = write(people, role_users, sections={"patch_management": "Patch within 14 days."})

    first.refresh_from_db()
    assert first.patch_management == "What we do about patch management." and first.signoffs.count() == 2
    assert second.number == 2 and second.signoffs.count() == 0
    assert plan_in_force() == first
    with pytest.raises(ValidationError, match="Version 1 has been replaced"):
        plan_signoff(version=first, user=role_users[Role.MANAGER])


def test_the_version_page_shows_what_changed_line_by_line(people, role_users, client_for):
    write(people, role_users, sections={"patch_management": "Patch monthly.\nHosts quarterly."})
    write(people, role_users, sections={"patch_management": "Patch within 14 days.\nHosts quarterly."})

    response = client_for(Role.AUDITOR).get(reverse("compliance:plan_version", args=[2]))

    diff = {part["section"].field: part for part in response.context["diff"]}
    assert diff["patch_management"]["lines"] == [
        ("removed", "Patch monthly."), ("added", "Patch within 14 days."), ("same", "Hosts quarterly.")]
    assert [field for field, part in diff.items() if part["changed"]] == ["patch_management"]
    section = read(response.content.decode()).find("section", data_section="patch_management")
    assert [line.text() for line in section.find_all("del")] == ["Patch monthly."]
    assert [line.text() for line in section.find_all("ins")] == ["Patch within 14 days."]


def test_the_history_and_its_export_list_every_version_in_bounded_queries(people, role_users, client_for,
                                                                          django_assert_max_num_queries):
    for number in range(1, 6):
        write(people, role_users, sections={"tools": f"Tools, edition {number}."})
    plan_signoff(version=PlanVersion.objects.get(number=5), user=role_users[Role.MANAGER])
    client = client_for(Role.AUDITOR)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("compliance:plan_history"))
    exported = client.get(reverse("compliance:plan_history_export_csv"))

    assert [version.number for version in response.context["versions"]] == [5, 4, 3, 2, 1]
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "Version" and [row[0] for row in rows[1:]] == ["5", "4", "3", "2", "1"]
    assert rows[1][6].startswith("Chris CIO ") and rows[1][7] == "no"


def test_reminders_run_twice_act_once_and_follow_the_review_date(people, role_users):
    today = timezone.localdate()
    version = write(people, role_users, review_due_on=today + datetime.timedelta(days=40))
    asked = Notification.objects.filter(kind=NotificationKind.PLAN_SIGNOFF).count()
    reviews = Notification.objects.filter(kind=NotificationKind.PLAN_REVIEW)

    plan_reminders_run(today=today)
    assert Notification.objects.filter(kind=NotificationKind.PLAN_SIGNOFF).count() == asked  # asked on creation
    assert reviews.count() == 0

    week_later = today + datetime.timedelta(days=8)
    plan_reminders_run(today=week_later)
    plan_reminders_run(today=week_later)
    assert Notification.objects.filter(kind=NotificationKind.PLAN_SIGNOFF).count() == asked + 2
    assert reviews.count() == 0  # 32 days left

    near = today + datetime.timedelta(days=11)
    plan_reminders_run(today=near)
    plan_reminders_run(today=near)
    assert sorted(reviews.values_list("person__name", flat=True)) == ["Chris CIO", "Olga Officer"]
    assert "Security plan review near: v1" in reviews.first().subject

    late = version.review_due_on + datetime.timedelta(days=1)
    plan_reminders_run(today=late)
    plan_reminders_run(today=late)
    assert reviews.count() == 4
    assert reviews.filter(subject__contains="overdue").count() == 2


def test_the_daily_task_sends_the_reminders(people, role_users):
    write(people, role_users, review_due_on=timezone.localdate() + datetime.timedelta(days=5))

    plan_reminders_run_task.delay()
    plan_reminders_run_task.delay()

    assert Notification.objects.filter(kind=NotificationKind.PLAN_REVIEW).count() == 2


# --- API ------------------------------------------------------------------------------------------------------


def api_body(people, **changes) -> dict:
    return {**texts(), "change_summary": "By the API.",
            "review_due_on": (timezone.localdate() + datetime.timedelta(days=200)).isoformat(),
            "stakeholders": [people["cio"].email], **changes}


def test_the_api_writes_a_version_and_a_stakeholder_signs_it(people, client_for):
    created = client_for(Role.COMPLIANCE_OFFICER).post("/api/v1/plan-versions/", api_body(people),
                                                       content_type="application/json")
    signed = client_for(Role.MANAGER).post("/api/v1/plan-versions/1/signoff/")
    read = client_for(Role.AUDITOR).get("/api/v1/plan-versions/1/")

    assert created.status_code == 201 and created.json()["number"] == 1
    assert signed.status_code == 201 and signed.json()["name"] == "Chris CIO"
    assert read.json()["signed_off"] is True and read.json()["stakeholders"] == [people["cio"].email]


@pytest.mark.parametrize("changes", [
    {"tools": ""}, {"tools": 5}, {"review_due_on": "yesterday"}, {"stakeholders": ["nobody@example.com"]},
    {"stakeholders": []}, {"training": "x" * 20_001},
])
def test_the_api_refuses_a_bad_version_and_writes_nothing(changes, people, client_for):
    before = state()

    response = client_for(Role.COMPLIANCE_OFFICER).post("/api/v1/plan-versions/", api_body(people, **changes),
                                                        content_type="application/json")

    assert response.status_code == 400 and set(response.json()) & {*changes}
    assert state() == before


def test_the_api_keeps_auditors_and_strangers_out(people, role_users, client_for):
    write(people, role_users)
    before = state()

    assert client_for(Role.AUDITOR).post("/api/v1/plan-versions/", api_body(people),
                                         content_type="application/json").status_code == 403
    assert client_for(Role.AUDITOR).post("/api/v1/plan-versions/1/signoff/").status_code == 403
    assert client_for(Role.SECURITY_ADMIN).post("/api/v1/plan-versions/1/signoff/").status_code == 403
    assert state() == before


def test_the_virtualization_standards_show_the_governance_policies_as_set_now(people, role_users, client_for):
    write(people, role_users)
    policies_load()
    dormant = Policy.objects.get(kind=PolicyKind.DORMANT)
    policy_update(policy=dormant, user=role_users[Role.SECURITY_ADMIN], enabled=True,
                  config={**dormant.config, "days": 60}, scope=dormant.scope, actions=dormant.actions)

    page = read(client_for(Role.AUDITOR).get(reverse("compliance:plan")).content.decode())

    unused = page.find("div", data_policies="dormant").text()
    assert "Enforced now by Dormant VMs v2:" in unused and "days 60" in unused
    assert "Rogue VMs v1" in page.find("div", data_policies="rogue").text()
    signoff = read(client_for(Role.MANAGER).get(reverse("compliance:plan_signoff", args=[1])).content.decode())
    assert "days 60" in signoff.find("div", data_policies="dormant").text()
    assert links(signoff.find("div", data_policies="dormant")) == []  # managers do not read the policy pages


def test_a_standard_without_its_policy_says_nothing_enforces_it(people, role_users, client_for):
    write(people, role_users)

    page = read(client_for(Role.AUDITOR).get(reverse("compliance:plan")).content.decode())

    assert "nothing enforces this standard yet" in page.find("div", data_policies="unpatched").text()


def test_the_api_list_reads_in_a_fixed_number_of_queries(people, role_users, client_for,
                                                         django_assert_max_num_queries):
    for number in range(1, 6):
        version = write(people, role_users, sections={"tools": f"Tools, edition {number}."})
    plan_signoff(version=version, user=role_users[Role.MANAGER])

    client = client_for(Role.AUDITOR)

    with django_assert_max_num_queries(10):
        response = client.get("/api/v1/plan-versions/")

    assert [row["number"] for row in response.json()["results"]] == [5, 4, 3, 2, 1]
    assert response.json()["results"][0]["signoffs"][0]["name"] == "Chris CIO"
