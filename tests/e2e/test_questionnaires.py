"""A questionnaire travels down the chain and back up, in a real browser (issue 4, "What it must show").

The officer launches a campaign that does not cascade; the Director of Infrastructure delegates to two of their
managers; one pastes 20 VMs and submits; the director returns it with a comment; the manager reads it, fixes the
list and submits again; the director accepts, answers for the other manager, answers their own part and submits;
the officer sees the progress change. Answering for the other manager means the director gives that part's
answers: marking it answered with only a reason is refused, naming the question still to answer.
"""

import re

import pytest
from playwright.sync_api import expect

from portal.choices import Role
from portal.models import Person
from portal.services.demo import DEMO_PASSWORD, demo_people_load
from questionnaires.services.templates import DATA_DIR, template_load
from tests.e2e.pages import navigate
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PURPOSES = ["Production", "Test", "Development", "Research"]


def twenty_vms() -> str:
    """20 VMs as a spreadsheet copies them: tab-separated, with a header line."""
    lines = ["VM name\tHostname\tPlatform\tCreated\tPurpose\tStatus\tOwner"]
    for number in range(1, 21):
        platform = "Hyper-V" if number % 3 else "VirtualBox"
        lines.append(f"infra-app{number:02d}\t10.40.0.{number}\t{platform}\t2025-0{number % 9 + 1}-1{number % 10}"
                     f"\t{PURPOSES[number % 4]}\tRunning\tAda")
    return "\n".join(lines)


@pytest.fixture
def org():
    """The demo organisation; two of the director's managers get a login (manager role) for the test."""
    demo_people_load()
    template_load(path=DATA_DIR / "vm_discovery.json")
    director = Person.objects.get(user__username="manager")
    first, second = Person.objects.filter(parent=director).order_by("name")[:2]
    for person, username in ((first, "report1"), (second, "report2")):
        person.user = UserFactory(username=username, role=Role.MANAGER)
        person.save(update_fields=["user"])
    return {"director": director, "first": first, "second": second}


def test_a_campaign_goes_down_the_chain_and_back_up(page, live_server, log_in, org):
    director, first, second = org["director"], org["first"], org["second"]

    def switch_to(username: str, password: str = DEMO_PASSWORD) -> None:
        page.goto(f"{live_server.url}/")
        if page.get_by_role("button", name="Log out").count():
            page.get_by_role("button", name="Log out").click()
        log_in(username, password)
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    def open_my_assignment() -> None:
        navigate(page, "Questionnaires", "My questionnaires")
        page.locator("tr[data-assignment] a.btn").click()
        expect(page.get_by_role("heading", name=re.compile(r"^Your part of VM census 2027"))).to_be_visible()

    # The officer creates the campaign through the form and launches it.
    switch_to("officer")
    navigate(page, "Questionnaires", "Campaigns")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("VM census 2027")
    page.get_by_label("Scope: the head of the subtree asked").fill(director.email)
    page.get_by_label("No: assign the head of the scope").check()
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_text("is a draft: check it, then launch it.")).to_be_visible()
    page.get_by_role("link", name="Launch…").click()
    expect(page.locator("[data-reach]")).to_have_text("1 person")
    page.get_by_role("button", name="Launch and notify 1 person").click()
    expect(page.get_by_role("alert")).to_have_text("“VM census 2027” is launched: 1 assignment sent.")
    expect(page.locator("[data-count=not_started]")).to_have_text("1")
    expect(page.locator("[data-count=total]")).to_have_text("1")
    campaign_url = page.url

    # The director delegates the VM list to one manager and the whole questionnaire to another.
    switch_to("manager")
    expect(page.locator("[data-figure=inbox] .badge")).to_have_text("1")
    open_my_assignment()
    parts = page.locator("#parts")
    parts.get_by_label("Direct report").select_option(label=f"{first.name} · {first.title}")
    parts.get_by_label("Your VMs").check()
    parts.get_by_role("button", name="Delegate").click()
    expect(page.get_by_role("alert")).to_have_text(f"“Your VMs” delegated to {first.name}.")
    parts.get_by_label("Direct report").select_option(label=f"{second.name} · {second.title}")
    parts.get_by_role("button", name="Delegate").click()
    expect(page.get_by_role("alert")).to_have_text(f"The whole questionnaire delegated to {second.name}.")
    expect(parts.locator("[data-part]")).to_have_count(2)
    expect(page.locator("[data-section=vms] [data-delegated-to]")).to_contain_text(f"Delegated to\n      {first.name}")

    # The first manager pastes 20 VMs and submits.
    switch_to("report1", TEST_PASSWORD)
    open_my_assignment()
    expect(page.locator("[data-section]")).to_have_count(1)
    page.get_by_text("Paste from a spreadsheet").click()
    page.get_by_label("Copy the cells in Excel").fill(twenty_vms())
    page.get_by_role("button", name="Add the rows").click()
    expect(page.locator("[data-notice]")).to_have_text("20 rows added.")
    expect(page.locator("[data-figure=vm-declared]")).to_have_text("20")
    expect(page.get_by_role("textbox", name="Name *, row 20")).to_have_value("infra-app20")
    page.get_by_role("button", name=f"Submit for review by {director.name}").click()
    expect(page.get_by_role("alert")).to_have_text(f"Submitted: {director.name} reviews it now.")
    expect(page.locator("[data-assignment-status]")).to_have_text("Submitted")

    # The director returns it with a comment.
    switch_to("manager")
    navigate(page, "Questionnaires", "My questionnaires")
    expect(page.locator(f"tr[data-review='{first.email}']")).to_be_visible()
    open_my_assignment()
    part = page.locator(f"[data-part='{first.email}']")
    part.get_by_label(f"Comment for {first.name}").fill("infra-app07 was retired in March: mark it decommissioned.")
    part.get_by_role("button", name="Return with this comment").click()
    expect(part.locator("[data-status]")).to_have_text("Returned")

    # The first manager reads the comment, fixes the row and submits again.
    switch_to("report1", TEST_PASSWORD)
    open_my_assignment()
    comment = page.locator("[data-review-comment]")
    expect(comment).to_contain_text(f"Returned by {director.user}")
    expect(comment).to_contain_text("infra-app07 was retired in March: mark it decommissioned.")
    page.get_by_role("combobox", name="Status, row 7").select_option("decommissioned")
    expect(page.locator("[data-vm-list] [data-saved=grid]")).to_contain_text("Saved")
    page.get_by_role("button", name=f"Submit for review by {director.name}").click()
    expect(page.get_by_role("alert")).to_have_text(f"Submitted: {director.name} reviews it now.")

    # The director accepts it, answers for the second manager, answers their own part and submits.
    switch_to("manager")
    open_my_assignment()
    part = page.locator(f"[data-part='{first.email}']")
    part.get_by_role("link", name=first.name).click()
    expect(page.locator("table.vm-readonly tbody tr")).to_have_count(20)
    expect(page.locator("table.vm-readonly tbody tr").nth(6)).to_contain_text("Decommissioned")
    page.locator("#review").get_by_role("button", name="Accept").click()
    expect(page.get_by_role("alert")).to_have_text(f"{first.name}'s part is accepted.")
    open_my_assignment()
    other = page.locator(f"[data-part='{second.email}']")
    other.get_by_role("link", name="Answer it for them").click()
    expect(page.locator("[data-answering-for]")).to_contain_text(f"You can answer this part for {second.name}")
    answer_for = page.locator("#answer-for")
    answer_for.get_by_label("Why you answer it").fill("On leave until the due date.")
    answer_for.get_by_role("button", name="Mark answered by me").click()
    expect(page.locator("[data-answer-for-problems]")).to_contain_text(
        "“Does your area run any virtual machines?” needs an answer")
    expect(page.locator("[data-assignment-status]")).to_have_text("Not started")
    page.locator("[data-question=runs_vms]").get_by_label("No").check()
    expect(page.locator("[data-question=runs_vms] [data-saved]")).to_contain_text("Saved")
    expect(answer_for.get_by_label("Why you answer it")).to_have_value("On leave until the due date.")
    page.locator("#answer-for").get_by_role("button", name="Mark answered by me").click()
    expect(page.get_by_role("alert")).to_have_text(f"{second.name}'s part is answered by you and accepted.")
    expect(page.locator("[data-answer=runs_vms]")).to_have_text("No")
    open_my_assignment()
    page.locator("[data-question=runs_vms]").get_by_label("No").check()
    expect(page.locator("[data-question=runs_vms] [data-saved]")).to_contain_text("Saved")
    expect(page.locator("[data-question=vm_platforms]")).to_have_count(0)
    page.get_by_role("button", name=re.compile(r"^Submit for review by")).click()
    expect(page.locator("[data-assignment-status]")).to_have_text("Submitted")

    # The officer sees the progress change, and the tree below.
    switch_to("officer")
    page.goto(campaign_url)
    expect(page.locator("[data-count=total]")).to_have_text("3")
    expect(page.locator("[data-count=accepted]")).to_have_text("2")
    expect(page.locator("[data-count=submitted]")).to_have_text("1")
    expect(page.locator("[data-count=not_started]")).to_have_text("0")
    head = page.locator(f"[data-part='{director.email}']")
    expect(head.locator("[data-status]").first).to_have_text("Submitted")
    expect(head.locator(".tree-counts")).to_contain_text("2/3 accepted")
    expect(head.locator(f"[data-part='{first.email}'] [data-status]")).to_have_text("Accepted")
