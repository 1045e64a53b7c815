"""Answers: each kind cleaned or refused by name, conditional questions, the autosaved draft, checks to submit."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from questionnaires.choices import AssignmentStatus, CampaignStatus, Disposition, QuestionKind
from questionnaires.models import Answer, Assignment, Question
from questionnaires.services.answers import (
    answer_clean,
    answer_save,
    assignment_answers_validate,
    question_is_visible,
)
from questionnaires.services.templates import DATA_DIR, template_load
from tests.factories import PersonFactory, UserFactory
from tests.questionnaires.factories import (
    AssignmentFactory,
    CampaignFactory,
    DeclaredVMFactory,
    QuestionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def version():
    return template_load(path=DATA_DIR / "vm_discovery.json")


@pytest.fixture
def questions(version) -> dict[str, Question]:
    return {
        question.key: question
        for question in Question.objects.filter(section__version=version).select_related("show_if_question")
    }


@pytest.fixture
def assignee():
    user = UserFactory(username="ann")
    return PersonFactory(name="Ann Lead", email="ann@example.com", user=user)


@pytest.fixture
def assignment(version, assignee) -> Assignment:
    return AssignmentFactory(campaign=CampaignFactory(version=version), person=assignee)


def message(error: ValidationError) -> list[str]:
    return error.value.messages


# --- answer_clean -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("approver", "  the security officer  ", "the security officer"),
        ("approver", "x" * 500, "x" * 500),
        ("approver", "   ", None),
        ("creation_process", "Tickets.\nBuilt from a template.", "Tickets.\nBuilt from a template."),
        ("runs_vms", "yes", "yes"),
        ("runs_vms", " No ", "no"),
        ("runs_vms", True, "yes"),
        ("runs_vms", False, "no"),
        ("runs_vms", None, None),
        ("patching_method", "automated", "automated"),
        ("patching_method", "other", "other"),
        ("vm_platforms", ["virtualbox", "hyperv", "virtualbox"], ["hyperv", "virtualbox"]),
        ("vm_platforms", ["other", "kvm"], ["kvm", "other"]),
        ("vm_platforms", "cloud", ["cloud"]),
        ("vm_platforms", [], None),
        ("last_review", "2024-03-31", "2024-03-31"),
        ("last_review", datetime.date(2024, 2, 29), "2024-02-29"),
        ("vm_count", "12", "12"),
        ("vm_count", "3.50", "3.5"),
        ("vm_count", 7, "7"),
        ("vm_count", 2.25, "2.25"),
        ("vm_count", Decimal("-0.0"), "0"),
        ("vm_count", "1e3", "1000"),
        ("vm_count", "", None),
    ],
)
def test_valid_answers_are_cleaned(questions, key, raw, expected):
    assert answer_clean(questions[key], raw) == expected


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("approver", "x" * 501, "“Who approves new VMs?” is too long: 501 characters, at most 500"),
        ("approver", 12, "“Who approves new VMs?” must be text"),
        (
            "creation_process",
            "x" * 10_001,
            "“How are new VMs created in your area, and by whom?” is too long: 10,001 characters, at most 10,000",
        ),
        ("runs_vms", "maybe", "“Does your area run any virtual machines?” must be yes or no, not 'maybe'"),
        ("runs_vms", 1, "“Does your area run any virtual machines?” must be yes or no, not 1"),
        (
            "patch_frequency",
            "other",
            "“How soon are security patches applied once they are released?” has no choice 'other' "
            "(choices: week, month, quarter, longer, unknown)",
        ),
        (
            "vm_platforms",
            ["kvm", "openstack"],
            "“On which platforms do your area's VMs run?” has no choice 'openstack' (choices: vmware-esxi, "
            "vmware-workstation, hyperv, kvm, xen, virtualbox, cloud, other)",
        ),
        ("vm_platforms", {"kvm": True}, "“On which platforms do your area's VMs run?” must be a list of its choices"),
        (
            "last_review",
            "31/03/2024",
            "“When did your area last review its list of VMs?” must be a date written YYYY-MM-DD (e.g. 2024-03-31), "
            "not '31/03/2024'",
        ),
        (
            "last_review",
            "2024-02-30",
            "“When did your area last review its list of VMs?” cannot be 2024-02-30: this date does not exist",
        ),
        (
            "vm_count",
            "1,5",
            "“About how many VMs does your area run?” must be a number such as 12 or 3.5 (a point for decimals), "
            "not '1,5'",
        ),
        ("vm_count", "NaN", "“About how many VMs does your area run?” must be a finite number, not 'NaN'"),
        ("vm_count", float("inf"), "“About how many VMs does your area run?” must be a finite number, not inf"),
        ("vm_count", "-Infinity", "“About how many VMs does your area run?” must be a finite number, not '-Infinity'"),
        ("vm_count", True, "“About how many VMs does your area run?” must be a number, not True"),
        ("vm_count", "1e20", "“About how many VMs does your area run?” is out of range (1e20)"),
        (
            "vm_list",
            "web01",
            "“Which VMs does your area run?” is a VM list: its rows are saved with the list, not as an answer",
        ),
    ],
)
def test_invalid_answers_are_refused_naming_the_question(questions, key, raw, expected):
    with pytest.raises(ValidationError) as refused:
        answer_clean(questions[key], raw)

    assert refused.value.message_dict == {key: [expected]}


# --- question_is_visible ----------------------------------------------------------------------------------------


def test_a_question_shows_only_when_the_chain_of_conditions_holds(questions):
    approver = questions["approver"]  # shown if approval_required = yes, itself shown if runs_vms = yes

    assert question_is_visible(questions["runs_vms"], {}) is True
    assert question_is_visible(questions["vm_list"], {}) is False
    assert question_is_visible(questions["vm_list"], {"runs_vms": "yes"}) is True
    assert question_is_visible(questions["vm_list"], {"runs_vms": "no"}) is False
    assert question_is_visible(approver, {"runs_vms": "yes", "approval_required": "yes"}) is True
    assert question_is_visible(approver, {"runs_vms": "yes", "approval_required": "no"}) is False
    # A stale "yes" below a hidden question does not show the question under it.
    assert question_is_visible(approver, {"runs_vms": "no", "approval_required": "yes"}) is False
    assert question_is_visible(questions["vm_list"], {"runs_vms": Answer(value="yes")}) is True
    # A condition on a question this assignment does not hold counts as met.
    assert question_is_visible(questions["vm_list"], {}, outside_keys=frozenset({"runs_vms"})) is True


def test_a_condition_on_a_multiple_choice_tests_membership():
    platforms = QuestionFactory(
        key="platforms",
        kind=QuestionKind.MULTIPLE_CHOICE,
        choices=[{"value": "kvm", "label": "KVM"}, {"value": "xen", "label": "Xen"}],
    )
    xen_version = QuestionFactory(section=platforms.section, show_if_question=platforms, show_if_value="xen")

    assert question_is_visible(xen_version, {"platforms": ["kvm", "xen"]}) is True
    assert question_is_visible(xen_version, {"platforms": ["kvm"]}) is False
    assert question_is_visible(xen_version, {"platforms": None}) is False


# --- answer_save ------------------------------------------------------------------------------------------------


def test_the_first_answer_starts_the_assignment(assignment, questions, assignee):
    before = timezone.now()

    answer = answer_save(assignment=assignment, question=questions["runs_vms"], raw="Yes", user=assignee.user)

    assert (answer.value, answer.other_text) == ("yes", "")
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.IN_PROGRESS
    assert assignment.started_at >= before
    started_at = assignment.started_at

    answer_save(assignment=assignment, question=questions["vm_count"], raw="4", user=assignee.user)

    assignment.refresh_from_db()
    assert (assignment.status, assignment.started_at) == (AssignmentStatus.IN_PROGRESS, started_at)
    assert dict(assignment.answers.values_list("question__key", "value")) == {"runs_vms": "yes", "vm_count": "4"}


def test_an_empty_value_clears_the_draft(assignment, questions, assignee):
    answer_save(assignment=assignment, question=questions["approver"], raw="Bob", user=assignee.user)

    answer = answer_save(assignment=assignment, question=questions["approver"], raw="", user=assignee.user)

    assert Answer.objects.get(pk=answer.pk).value is None
    assert assignment.answers.count() == 1


def test_other_text_is_kept_only_while_other_is_chosen(assignment, questions, assignee):
    question = questions["patching_method"]

    answer = answer_save(
        assignment=assignment, question=question, raw="other", other_text=" WSUS by hand ", user=assignee.user
    )
    assert (answer.value, answer.other_text) == ("other", "WSUS by hand")

    answer = answer_save(
        assignment=assignment, question=question, raw="automated", other_text="WSUS by hand", user=assignee.user
    )
    assert (answer.value, answer.other_text) == ("automated", "")


def test_a_returned_assignment_stays_returned_while_it_is_fixed(assignment, questions, assignee):
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.RETURNED)

    answer_save(assignment=assignment, question=questions["runs_vms"], raw="no", user=assignee.user)

    assignment.refresh_from_db()
    assert (assignment.status, assignment.started_at) == (AssignmentStatus.RETURNED, None)


@pytest.mark.parametrize("status", [AssignmentStatus.SUBMITTED, AssignmentStatus.ACCEPTED])
def test_submitted_answers_are_read_only(assignment, questions, assignee, status):
    answer_save(assignment=assignment, question=questions["runs_vms"], raw="yes", user=assignee.user)
    Assignment.objects.filter(pk=assignment.pk).update(status=status)

    with pytest.raises(ValidationError) as refused:
        answer_save(assignment=assignment, question=questions["runs_vms"], raw="no", user=assignee.user)

    assert message(refused) == ["submitted answers are read-only until returned"]
    assert list(assignment.answers.values_list("value", flat=True)) == ["yes"]


@pytest.mark.parametrize(
    ("campaign_status", "expected"),
    [
        (CampaignStatus.CLOSED, "the campaign is closed: its answers are frozen"),
        (CampaignStatus.DRAFT, "the campaign has not been launched"),
    ],
)
def test_no_answers_outside_an_active_campaign(assignment, questions, assignee, campaign_status, expected):
    type(assignment.campaign).objects.filter(pk=assignment.campaign_id).update(status=campaign_status)

    with pytest.raises(ValidationError) as refused:
        answer_save(assignment=assignment, question=questions["runs_vms"], raw="no", user=assignee.user)

    assert message(refused) == [expected]
    assert assignment.answers.count() == 0
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.NOT_STARTED


def test_only_the_assignee_answers(assignment, questions):
    other = UserFactory(username="mallory")

    with pytest.raises(PermissionDenied):
        answer_save(assignment=assignment, question=questions["runs_vms"], raw="no", user=other)

    assert assignment.answers.count() == 0
    assert Assignment.objects.get(pk=assignment.pk).status == AssignmentStatus.NOT_STARTED


def test_a_question_outside_the_assignment_is_refused(assignment, questions, assignee):
    foreign = QuestionFactory(kind=QuestionKind.YES_NO, text="Foreign?")
    assignment.sections.add(questions["vm_list"].section)

    with pytest.raises(ValidationError) as wrong_version:
        answer_save(assignment=assignment, question=foreign, raw="yes", user=assignee.user)
    with pytest.raises(ValidationError) as wrong_section:
        answer_save(assignment=assignment, question=questions["runs_vms"], raw="yes", user=assignee.user)

    assert message(wrong_version) == ["“Foreign?” is not a question of this campaign"]
    assert message(wrong_section) == ["“Does your area run any virtual machines?” is in a part not assigned to you"]
    assert assignment.answers.count() == 0


def test_an_invalid_answer_leaves_the_draft_as_it_was(assignment, questions, assignee):
    answer_save(assignment=assignment, question=questions["vm_count"], raw="12", user=assignee.user)

    with pytest.raises(ValidationError):
        answer_save(assignment=assignment, question=questions["vm_count"], raw="twelve", user=assignee.user)

    assert list(assignment.answers.values_list("value", flat=True)) == ["12"]


# --- assignment_answers_validate --------------------------------------------------------------------------------


def answer(assignment, questions, key, value, other_text=""):
    Answer.objects.create(assignment=assignment, question=questions[key], value=value, other_text=other_text)


def test_nothing_answered_asks_the_first_question(assignment):
    assert assignment_answers_validate(assignment) == ["“Does your area run any virtual machines?” needs an answer"]


def test_an_area_without_vms_is_done_with_one_answer(assignment, questions):
    answer(assignment, questions, "runs_vms", "no")

    assert assignment_answers_validate(assignment) == []


def test_an_area_with_vms_must_answer_every_visible_required_question(assignment, questions):
    answer(assignment, questions, "runs_vms", "yes")
    answer(assignment, questions, "patching_method", "other")

    assert assignment_answers_validate(assignment) == [
        "“On which platforms do your area's VMs run?” needs an answer",
        "“Does anyone in your area run VMs on their own desktop or laptop?” needs an answer",
        "“Which kinds of data do your area's VMs handle?” needs an answer",
        "“Which VMs does your area run?” needs at least one VM",
        "“How are new VMs created in your area, and by whom?” needs an answer",
        "“Must a new VM be approved before it is created?” needs an answer",
        "“How are the VMs' operating systems and software patched?”: you chose other: say what",
        "“How soon are security patches applied once they are released?” needs an answer",
        "“How are the VMs maintained?” needs an answer",
        "“How are VMs decommissioned when they are no longer needed?” needs an answer",
        "“Are these processes written down?” needs an answer",
    ]


def complete_answers(assignment, questions):
    for key, value in {
        "runs_vms": "yes",
        "vm_platforms": ["vmware-esxi", "virtualbox"],
        "desktop_vms": "yes",
        "data_handled": ["ephi"],
        "creation_process": "Tickets.",
        "approval_required": "yes",
        "approver": "Security officer",
        "approval_recorded": "yes",
        "patching_method": "automated",
        "patch_frequency": "month",
        "maintenance_process": "Backups nightly.",
        "decommission_process": "Ticket, wipe, inventory.",
        "process_documented": "no",
    }.items():
        answer(assignment, questions, key, value)


def test_the_vm_list_needs_a_declared_vm_and_no_row_left_to_check(assignment, questions):
    complete_answers(assignment, questions)
    vm_list = questions["vm_list"]
    DeclaredVMFactory(assignment=assignment, question=vm_list, row=1, disposition=Disposition.DISOWNED)
    DeclaredVMFactory(assignment=assignment, question=vm_list, row=2, disposition=Disposition.PENDING)
    DeclaredVMFactory(assignment=assignment, question=vm_list, row=4, disposition=Disposition.PENDING)

    assert assignment_answers_validate(assignment) == [
        "“Which VMs does your area run?”: rows 2 and 4 found by the scanners are still to check: "
        "confirm, correct or disown each",
        "“Which VMs does your area run?” needs at least one VM",
    ]

    assignment.declared_vms.filter(row=2).update(disposition=Disposition.CONFIRMED)
    assignment.declared_vms.filter(row=4).update(disposition=Disposition.DISOWNED)

    assert assignment_answers_validate(assignment) == []


def test_a_delegated_vm_list_is_checked_without_the_questions_it_does_not_hold(assignment, questions):
    assignment.sections.add(questions["vm_list"].section)

    assert assignment_answers_validate(assignment) == ["“Which VMs does your area run?” needs at least one VM"]

    DeclaredVMFactory(assignment=assignment, question=questions["vm_list"], row=1, disposition=Disposition.ADDED)

    assert assignment_answers_validate(assignment) == []


def test_validation_costs_a_fixed_number_of_queries(assignment, questions, django_assert_max_num_queries):
    complete_answers(assignment, questions)

    with django_assert_max_num_queries(5):
        assignment_answers_validate(assignment)
