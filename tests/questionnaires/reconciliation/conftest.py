"""A small reconciled campaign for the reconciliation pages and API.

ceo (Cleo) → dana (a director) → rex; ceo → olga. Rex declares app01 (seen: matched), rex-ghost (seen by no
scanner), web-01 (only web_01 is close: a candidate) and shared01; Olga declares olga-ghost and shared01 too
(declared twice: a conflict, routed to Cleo). Nobody declares rex-vm and web_01 (Rex's VMs, routed to him) nor
olga-vm (routed to Olga).
"""

import pytest
from django.test import Client

from portal.choices import Role
from questionnaires.choices import AssignmentStatus, ReconciliationTrigger
from questionnaires.models import ReconciliationItem
from questionnaires.services.reconciliation import reconciliation_run
from tests.factories import PersonFactory, UserFactory, VirtualMachineFactory
from tests.questionnaires.factories import AssignmentFactory, CampaignFactory, DeclaredVMFactory, QuestionFactory


class Recon(dict):
    """The scenario: people, logins, VMs, the campaign; ``item(name)`` finds an item by its declared or VM name."""

    def item(self, name: str, *, declarer=None) -> ReconciliationItem:
        items = ReconciliationItem.objects.filter(campaign=self["campaign"])
        found = [i for i in items.select_related("declared_vm", "vm")
                 if (i.declared_vm.name if i.declared_vm_id else i.vm.name) == name
                 and (declarer is None or i.declarer_id == declarer.pk)]
        assert len(found) == 1, f"{len(found)} items named {name!r}"
        return found[0]

    def login(self, key: str) -> Client:
        client = Client()
        client.force_login(self["users"][key])
        return client


def declare(part, question, name: str, **facts):
    return DeclaredVMFactory(assignment=part, question=question, name=name, **facts)


@pytest.fixture
def recon(role_users) -> Recon:
    ceo = PersonFactory(name="Cleo CEO", email="cleo@example.com")
    dana = PersonFactory(name="Dana Director", email="dana@example.com", parent=ceo)
    rex = PersonFactory(name="Rex Report", email="rex@example.com", parent=dana)
    olga = PersonFactory(name="Olga Other", email="olga@example.com", parent=ceo)
    people = {"ceo": ceo, "dana": dana, "rex": rex, "olga": olga}
    users = {"officer": role_users[Role.COMPLIANCE_OFFICER], "auditor": role_users[Role.AUDITOR],
             "admin": role_users[Role.ADMIN], "secadmin": role_users[Role.SECURITY_ADMIN]}
    for key in ("dana", "rex", "olga"):
        users[key] = UserFactory(username=key, role=Role.MANAGER)
        people[key].user = users[key]
        people[key].save(update_fields=["user"])
    question = QuestionFactory(key="vms", kind="vm_list")
    campaign = CampaignFactory(name="Census 2027", version=question.section.version, scope=ceo,
                               owner=users["officer"])
    parts = {key: AssignmentFactory(campaign=campaign, person=person, status=AssignmentStatus.IN_PROGRESS)
             for key, person in people.items()}
    vms = {
        "app01": VirtualMachineFactory(name="app01", owner=rex),
        "web_01": VirtualMachineFactory(name="web_01", owner=rex),
        "shared01": VirtualMachineFactory(name="shared01", owner=rex),
        "rex-vm": VirtualMachineFactory(name="rex-vm", owner=rex),
        "olga-vm": VirtualMachineFactory(name="olga-vm", owner=olga),
    }
    for name in ("app01", "rex-ghost", "web-01", "shared01"):
        declare(parts["rex"], question, name)
    for name in ("olga-ghost", "shared01"):
        declare(parts["olga"], question, name)
    run = reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)
    return Recon(people=people, users=users, campaign=campaign, parts=parts, vms=vms, question=question, run=run)
