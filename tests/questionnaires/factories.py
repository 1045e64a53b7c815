"""factory_boy factories for the questionnaire models (kept apart from tests/factories.py while it is being edited)."""

import datetime

import factory
from django.utils import timezone

from questionnaires.choices import AssignmentStatus, CampaignStatus, Disposition, QuestionKind
from questionnaires.models import (
    AreaMapping,
    Assignment,
    Campaign,
    DeclaredVM,
    Question,
    QuestionnaireTemplate,
    Section,
    TemplateVersion,
)
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


class AreaMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AreaMapping

    person = factory.SubFactory(PersonFactory)
    scope = AreaMapping.Scope.CLUSTER
    pattern = factory.Sequence(lambda n: f"Cluster-{n}")
