"""factory_boy factories for the compliance models: catalogs, controls and evaluations."""

import hashlib
from decimal import Decimal

import factory
from django.utils import timezone

from compliance.choices import (
    ControlFrequency,
    EvaluationStatus,
    FrameworkKind,
    MappingRelationship,
    Metric,
    PackState,
    RequirementKind,
    Scope,
)
from compliance.models import (
    CatalogVersion,
    Control,
    ControlEvaluation,
    ControlMapping,
    EvidencePack,
    Framework,
    FrameworkGrant,
    Requirement,
)
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


class EvidencePackFactory(factory.django.DjangoModelFactory):
    """A ready pack row (a stand-in PDF and a one-VM manifest): for pages and permissions, not for verification,
    which builds real packs."""

    class Meta:
        model = EvidencePack

    framework = factory.SubFactory(FrameworkFactory, slug="hipaa", name="HIPAA Security Rule")
    period_start = factory.LazyFunction(lambda: timezone.localdate().replace(month=1, day=1))
    period_end = factory.LazyFunction(timezone.localdate)
    as_of = factory.LazyFunction(timezone.localdate)
    built_by_label = "test"
    requested_at = factory.LazyFunction(timezone.now)
    state = PackState.READY
    sample_seed = 11
    sample_size = 1
    pdf = b"%PDF-1.7 stand-in"
    pdf_sha256 = factory.LazyAttribute(lambda pack: hashlib.sha256(pack.pdf).hexdigest())
    manifest = factory.LazyFunction(lambda: {"population_ids": [1, 2, 3], "tables": [], "attachments": []})


class FrameworkGrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FrameworkGrant

    framework = factory.SubFactory(FrameworkFactory, slug="hipaa", name="HIPAA Security Rule")
    granted_at = factory.LazyFunction(timezone.now)
