"""factory_boy factories for the questionnaire models (kept apart from tests/factories.py while it is being edited)."""

import datetime

import factory
from django.utils import timezone

from questionnaires.choices import AssignmentStatus, CampaignStatus, Disposition, QuestionKind
from questionnaires.models import (
    Assignment,
    Campaign,
    DeclaredVM,
    Question,
    QuestionnaireTemplate,
    Section,
    TemplateVersion,
)
from questionnaires.services.answers import answer_save
from questionnaires.services.assignments import assignment_submit
from tests.factories import PersonFactory, UserFactory


class QuestionnaireTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuestionnaireTemplate
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"template-{n}")
    name = factory.Sequence(lambda n: f"Template {n}")


class TemplateVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TemplateVersion

    template = factory.SubFactory(QuestionnaireTemplateFactory)
    number = factory.Sequence(lambda n: n + 1)


class SectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Section

    version = factory.SubFactory(TemplateVersionFactory)
    key = factory.Sequence(lambda n: f"section-{n}")
    order = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Section {n}")


class QuestionFactory(factory.django.DjangoModelFactory):
    """A short-text question; pass ``kind``, ``choices``, ``show_if_question``... for the others."""

    class Meta:
        model = Question

    section = factory.SubFactory(SectionFactory)
    key = factory.Sequence(lambda n: f"q{n}")
    order = factory.Sequence(lambda n: n + 1)
    text = factory.Sequence(lambda n: f"Question {n}?")
    kind = QuestionKind.TEXT


class CampaignFactory(factory.django.DjangoModelFactory):
    """An active (launched) campaign over a version of its own; pass ``version=`` to share one."""

    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    version = factory.SubFactory(TemplateVersionFactory)
    scope = factory.SubFactory(PersonFactory)
    owner = factory.SubFactory(UserFactory)
    status = CampaignStatus.ACTIVE
    due_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=14))
    launched_at = factory.LazyFunction(timezone.now)


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    campaign = factory.SubFactory(CampaignFactory)
    person = factory.SubFactory(PersonFactory)
    status = AssignmentStatus.NOT_STARTED


class DeclaredVMFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeclaredVM

    assignment = factory.SubFactory(AssignmentFactory)
    question = factory.SubFactory(QuestionFactory, kind=QuestionKind.VM_LIST)
    row = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"declared{n:03d}")
    disposition = Disposition.ADDED


def answer_required(assignment: Assignment, user) -> None:
    """Answer the one required question of ``template_version`` if the part holds it, as the assignee would."""
    question = Question.objects.get(section__version_id=assignment.campaign.version_id, key="runs_vms")
    held = set(assignment.sections.values_list("id", flat=True))
    if not held or question.section_id in held:
        answer_save(assignment=assignment, question=question, raw="yes", user=user)


def submit_answered(assignment: Assignment, user) -> Assignment:
    """Submit after answering what is required: the workflow is tested, the answers are valid."""
    answer_required(assignment, user)
    return assignment_submit(assignment=assignment, user=user)
