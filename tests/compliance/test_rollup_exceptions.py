"""The framework roll-up under risk acceptance: an approved exception in force at the date read makes its control or
requirement excepted instead of deficient or not evaluated; a requested, rejected or expired one, or one read as of
a date before its approval, changes nothing. The framework page and the evidence pack's summary show it."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.choices import EvaluationTrigger, RollUpStatus
from compliance.models import Control, RiskException
from compliance.selectors import framework_rollup, framework_version, requirement_tree, worst_status
from compliance.services.controls import controls_load
from compliance.services.evaluation import controls_evaluate
from compliance.services.exceptions import exception_decide, exception_request, exceptions_expire
from inventory.choices import Sanction
from portal.choices import Role
from tests.factories import HostFactory, UserFactory, VirtualMachineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate(shipped_catalogs):
    """Two unapproved ePHI VMs: the approval control is deficient in the HIPAA scope since an evaluation ten days
    ago."""
    controls_load()
    host = HostFactory(build="5969303")
    for _ in range(2):
        VirtualMachineFactory(host=host, data_categories=["ephi"], sanction=Sanction.UNAPPROVED)
    controls_evaluate(trigger=EvaluationTrigger.COMMAND, at=timezone.now() - datetime.timedelta(days=10))


def rollup(at=None):
    version = framework_version(slug="hipaa", number=None)
    requirements = requirement_tree(version=version)
    total = framework_rollup(version=version, requirements=requirements, at=at)
    return total, {requirement.citation: requirement for requirement in requirements}


def deficient_requirement():
    """A HIPAA requirement the roll-up finds deficient, with its deficient controls."""
    _, requirements = rollup()
    requirement = next(r for r in requirements.values() if r.status == RollUpStatus.DEFICIENT)
    return requirement, [control for control, status in requirement.controls if status == RollUpStatus.DEFICIENT]


def accept(*, requirement=None, control=None, approve=True, days=90) -> RiskException:
    requester = UserFactory(role=Role.SECURITY_ADMIN)
    exception = exception_request(user=requester, reason="Legacy VMs pending approval.", requirement=requirement,
                                  control=control, expires_on=timezone.localdate() + datetime.timedelta(days=days))
    if approve is not None:
        exception_decide(exception=exception, user=UserFactory(role=Role.COMPLIANCE_OFFICER), approve=approve,
                           note="" if approve else "The VMs can be approved this week.")
    return exception


def test_excepted_ranks_below_deficient_and_not_evaluated_and_above_effective():
    assert worst_status(["effective", "excepted"]) == RollUpStatus.EXCEPTED
    assert worst_status(["excepted", "not_evaluated"]) == RollUpStatus.NOT_EVALUATED
    assert worst_status(["excepted", "deficient"]) == RollUpStatus.DEFICIENT


def test_an_approved_exception_on_a_requirement_makes_it_excepted(estate):
    requirement, _ = deficient_requirement()
    before, _ = rollup()
    exception = accept(requirement=requirement)

    after, requirements = rollup()

    assert requirements[requirement.citation].status == RollUpStatus.EXCEPTED
    assert requirements[requirement.citation].exception_id == exception.pk
    assert (after.deficient, after.excepted) == (before.deficient - 1, before.excepted + 1)
    assert after.mapped == before.mapped


def test_an_approved_exception_on_a_control_excepts_it_wherever_it_reaches(estate):
    requirement, deficient = deficient_requirement()
    for control in deficient:
        accept(control=Control.objects.get(pk=control.pk))

    _, requirements = rollup()

    excepted = requirements[requirement.citation]
    assert excepted.status in (RollUpStatus.EXCEPTED, RollUpStatus.NOT_EVALUATED)
    assert all(status == RollUpStatus.EXCEPTED for control, status in excepted.controls
               if control.pk in {c.pk for c in deficient})
    # A requirement is excepted exactly when its controls are all effective or excepted and one is excepted.
    for row in requirements.values():
        statuses = {status for _, status in row.controls}
        if RollUpStatus.EXCEPTED in statuses and statuses <= {RollUpStatus.EXCEPTED, RollUpStatus.EFFECTIVE}:
            assert row.status == RollUpStatus.EXCEPTED and row.exception_id
        assert row.status != RollUpStatus.DEFICIENT or RollUpStatus.DEFICIENT in statuses


@pytest.mark.parametrize("approve", [None, False], ids=["requested", "rejected"])
def test_an_exception_not_approved_changes_nothing(estate, approve):
    requirement, _ = deficient_requirement()
    before, _ = rollup()
    accept(requirement=requirement, approve=approve)

    after, requirements = rollup()

    assert requirements[requirement.citation].status == RollUpStatus.DEFICIENT
    assert after == before


def test_an_expired_exception_counts_only_while_it_was_in_force(estate):
    requirement, _ = deficient_requirement()
    exception = accept(requirement=requirement)
    now = timezone.now()
    RiskException.objects.filter(pk=exception.pk).update(
        decided_at=now - datetime.timedelta(days=20), expires_on=timezone.localdate() - datetime.timedelta(days=1))
    assert exceptions_expire() == 1

    _, today = rollup()
    _, in_force_then = rollup(at=now - datetime.timedelta(days=5))

    assert today[requirement.citation].status == RollUpStatus.DEFICIENT
    assert in_force_then[requirement.citation].status == RollUpStatus.EXCEPTED


def test_the_roll_up_as_of_a_date_before_the_approval_ignores_it(estate):
    requirement, _ = deficient_requirement()
    accept(requirement=requirement)

    _, earlier = rollup(at=timezone.now() - datetime.timedelta(days=1))

    assert earlier[requirement.citation].status == RollUpStatus.DEFICIENT


def test_the_framework_page_shows_excepted_with_the_exception_link_in_bounded_queries(
        estate, client_for, django_assert_max_num_queries):
    requirement, _ = deficient_requirement()
    exception = accept(requirement=requirement)
    client = client_for(Role.AUDITOR)
    url = reverse("compliance:framework_detail", args=["hipaa"])

    with django_assert_max_num_queries(17):
        html = client.get(url).content.decode()

    start = html.index(f'data-citation="{requirement.citation}"')
    cell = html[start:html.index("</tr>", start)]
    assert 'data-status="excepted"' in cell and ">Excepted</a>" in cell
    assert reverse("compliance:exception_detail", args=[exception.pk]) in cell
    assert "1 excepted" in html
