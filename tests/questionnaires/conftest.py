"""Fixtures of the questionnaire tests: a small template, logins for the org chart, a campaign maker."""

import datetime

import pytest
from django.utils import timezone

from portal.choices import Role
from questionnaires.choices import QuestionKind
from questionnaires.models import Question, QuestionnaireTemplate, Section, TemplateVersion
from questionnaires.services.campaigns import campaign_create
from tests.factories import PersonFactory, UserFactory


@pytest.fixture
def template_version(db) -> TemplateVersion:
    """Two sections: "area" (a required yes/no and a VM list) and "processes" (a long text)."""
    template = QuestionnaireTemplate.objects.create(slug="vm-discovery-test", name="VM discovery (test)")
    version = TemplateVersion.objects.create(template=template, number=1)
    area = Section.objects.create(version=version, key="area", order=1, title="Your area")
    processes = Section.objects.create(version=version, key="processes", order=2, title="Processes")
    Question.objects.create(
        section=area, key="runs_vms", order=1, text="Does your area run VMs?", kind=QuestionKind.YES_NO, required=True
    )
    Question.objects.create(section=area, key="vms", order=2, text="Your VMs", kind=QuestionKind.VM_LIST)
    Question.objects.create(
        section=processes, key="patching", order=1, text="How are VMs patched?", kind=QuestionKind.LONG_TEXT
    )
    return version


@pytest.fixture
def officer(db):
    """A compliance officer who is also a person in the portal (outside the org), so root reviews reach them."""
    user = UserFactory(username="officer", role=Role.COMPLIANCE_OFFICER)
    PersonFactory(name="Olive Officer", email="officer@example.com", user=user)
    return user


@pytest.fixture
def logins(org) -> dict[str, object]:
    """A login for every person of ``org``, under the same key (``logins["vp_a"]`` is Alice VP's user)."""
    users = {}
    for key, person in org.items():
        users[key] = UserFactory(username=key)
        person.user = users[key]
        person.save(update_fields=["user"])
    return users


@pytest.fixture
def make_campaign(template_version, officer, org):
    """``make_campaign(cascade=False, scope=...)``: a draft campaign over ``org`` due in 14 days."""

    def make(**overrides):
        values = {
            "name": "VM census 2027",
            "version": template_version,
            "scope": org["ceo"],
            "owner": officer,
            "due_date": timezone.localdate() + datetime.timedelta(days=14),
            "reminder_every_days": 7,
            "escalate_after_days": 3,
            "cascade": True,
        }
        values.update(overrides)
        return campaign_create(**values)

    return make

