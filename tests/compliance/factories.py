"""factory_boy factories for the compliance catalog models."""

import factory
from django.utils import timezone

from compliance.choices import FrameworkKind, RequirementKind
from compliance.models import CatalogVersion, Framework, Requirement


class FrameworkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Framework
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"framework-{n}")
    name = factory.Sequence(lambda n: f"Framework {n}")
    kind = FrameworkKind.REGULATION


class CatalogVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CatalogVersion

    framework = factory.SubFactory(FrameworkFactory)
    number = 1
    content_hash = factory.Sequence(lambda n: f"{n:064x}")
    file_name = factory.LazyAttribute(lambda version: f"{version.framework.slug}.csv")
    loaded_at = factory.LazyFunction(timezone.now)
    source_documents = factory.LazyFunction(lambda: [{"key": "S1", "title": "A rule"}])


class RequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Requirement

    version = factory.SubFactory(CatalogVersionFactory)
    citation = factory.Sequence(lambda n: f"1.{n}")
    kind = RequirementKind.STANDARD
    title = factory.Sequence(lambda n: f"Requirement {n}")
    source_document = "A rule"
    order = factory.Sequence(lambda n: n + 1)
