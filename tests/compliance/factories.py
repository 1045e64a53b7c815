"""factory_boy factories for the compliance models: catalogs, controls and evaluations."""

from decimal import Decimal

import factory
from django.utils import timezone

from compliance.choices import (
    ControlFrequency,
    EvaluationStatus,
    FrameworkKind,
    MappingRelationship,
    Metric,
    RequirementKind,
    Scope,
)
from compliance.models import CatalogVersion, Control, ControlEvaluation, ControlMapping, Framework, Requirement
from portal.choices import Role


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


class ControlFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Control

    code = factory.Sequence(lambda n: f"VMC-{n + 100}")
    title = factory.Sequence(lambda n: f"Control {n}")
    description = "What the control does."
    owner_role = Role.COMPLIANCE_OFFICER
    frequency = ControlFrequency.MONTHLY
    test_procedure = "How it is tested."
    evidence = "What is kept."
    metric = Metric.APPROVAL_RATE
    threshold = Decimal("95")
    definition_hash = factory.Sequence(lambda n: f"{n:064x}")
    loaded_at = factory.LazyFunction(timezone.now)


class ControlEvaluationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ControlEvaluation

    control = factory.SubFactory(ControlFactory)
    scope = Scope.ESTATE
    evaluated_at = factory.LazyFunction(timezone.now)
    status = EvaluationStatus.EFFECTIVE
    metric = factory.LazyAttribute(lambda evaluation: evaluation.control.metric)
    value = Decimal("97")
    threshold = factory.LazyAttribute(lambda evaluation: evaluation.control.threshold)
    control_version = 1
    summary = "97 of 100 live VMs approved."
    inputs = factory.LazyFunction(lambda: [{"name": "vms", "query": "live VMs", "parameters": {"scope": "estate"},
                                            "row_count": 0, "sha256": "0" * 64}])


class ControlMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ControlMapping

    control = factory.SubFactory(ControlFactory)
    target = factory.SubFactory(RequirementFactory, kind=RequirementKind.CONTROL,
                                version__framework__slug="nist-800-53")
    framework = factory.LazyAttribute(lambda mapping: mapping.target.version.framework)
    citation = factory.LazyAttribute(lambda mapping: mapping.target.citation)
    relationship = MappingRelationship.RELATED
