"""Who sees which VMs: a manager the VMs of their part of the organisation (owned by somebody in their subtree,
or under an area mapped to somebody in it); compliance officers, security admins, auditors and admins the whole
estate. Pages and API alike."""

import pytest

from inventory.models import AreaMapping
from portal.choices import Role
from portal.models import Person
from tests.factories import (
    AreaMappingFactory,
    ClusterFactory,
    HostFactory,
    PersonFactory,
    ScanRunFactory,
    VirtualMachineFactory,
    VMChangeFactory,
)

ESTATE_WIDE = [Role.COMPLIANCE_OFFICER, Role.SECURITY_ADMIN, Role.AUDITOR, Role.ADMIN]


@pytest.fixture
def estate(role_users):
    """The manager login is Dana, a director; Rex reports to her; Olga is elsewhere in the organisation."""
    ceo = PersonFactory(name="Cleo CEO")
    dana = PersonFactory(name="Dana Director", parent=ceo, user=role_users[Role.MANAGER])
    rex = PersonFactory(name="Rex Report", parent=dana)
    olga = PersonFactory(name="Olga Other", parent=ceo)
    lab = HostFactory(cluster=ClusterFactory(name="lab-cluster-2"))
    prod = HostFactory(cluster=ClusterFactory(name="prod-cluster"))
    AreaMappingFactory(person=rex, scope=AreaMapping.Scope.CLUSTER, pattern="LAB-")
    olgas = VirtualMachineFactory(name="olgas-vm", host=prod, owner=olga)
    run = ScanRunFactory()
    vms = {
        "rex-owned": VirtualMachineFactory(name="rex-owned", host=prod, owner=rex, cloned_from=olgas),
        "dana-owned": VirtualMachineFactory(name="dana-owned", host=prod, owner=dana),
        "in-rex-area": VirtualMachineFactory(name="in-rex-area", host=lab),
        "olgas-vm": olgas,
        "unmapped": VirtualMachineFactory(name="unmapped", host=prod),
    }
    for vm in vms.values():
        VMChangeFactory(vm=vm, scan_run=run)
    return {"run": run, **vms}


MANAGER_SEES = ["dana-owned", "in-rex-area", "rex-owned"]
EVERYTHING = ["dana-owned", "in-rex-area", "olgas-vm", "rex-owned", "unmapped"]


def _page_names(client) -> list[str]:
    response = client.get("/inventory/vms/")
    assert response.status_code == 200
    return sorted(vm.name for vm in response.context["vms"])


def _api_names(client) -> list[str]:
    response = client.get("/api/v1/vms/")
    assert response.status_code == 200
    return sorted(row["name"] for row in response.json()["results"])


def test_a_manager_lists_the_vms_of_their_subtree_and_its_areas(estate, client_for):
    client = client_for(Role.MANAGER)

    assert _page_names(client) == MANAGER_SEES
    assert _api_names(client) == MANAGER_SEES


@pytest.mark.parametrize("role", ESTATE_WIDE)
def test_the_oversight_and_security_roles_list_the_whole_estate(estate, client_for, role):
    client = client_for(role)

    assert _page_names(client) == EVERYTHING
    assert _api_names(client) == EVERYTHING


def test_a_vm_outside_the_managers_part_is_not_found_on_its_page_its_history_and_the_api(estate, client_for):
    client = client_for(Role.MANAGER)
    outside, inside = estate["olgas-vm"], estate["in-rex-area"]

    for url in (f"/inventory/vms/{outside.pk}/", f"/api/v1/vms/{outside.pk}/", f"/api/v1/vms/{outside.pk}/history/"):
        assert client.get(url).status_code == 404, url
    for url in (f"/inventory/vms/{inside.pk}/", f"/api/v1/vms/{inside.pk}/", f"/api/v1/vms/{inside.pk}/history/"):
        assert client.get(url).status_code == 200, url


def test_lineage_shows_a_manager_no_vm_outside_their_part(estate, client_for):
    vm = estate["rex-owned"]

    managers = client_for(Role.MANAGER).get(f"/inventory/vms/{vm.pk}/").context["lineage"]
    auditors = client_for(Role.AUDITOR).get(f"/inventory/vms/{vm.pk}/").context["lineage"]

    assert managers.parent is None
    assert auditors.parent == estate["olgas-vm"]


def test_a_scan_run_lists_a_manager_only_the_changes_of_their_vms(estate, client_for):
    url = f"/inventory/scans/{estate['run'].pk}/"

    managers = client_for(Role.MANAGER).get(url).context["changes"]
    auditors = client_for(Role.AUDITOR).get(url).context["changes"]

    assert sorted(change.vm.name for change in managers) == MANAGER_SEES
    assert sorted(change.vm.name for change in auditors) == EVERYTHING


def test_a_manager_login_with_no_person_sees_no_vm(estate, client_for, role_users):
    Person.objects.filter(user=role_users[Role.MANAGER]).update(user=None)

    client = client_for(Role.MANAGER)

    assert _page_names(client) == []
    assert _api_names(client) == []


def test_the_dashboard_counts_only_the_vms_a_manager_may_read(estate, client_for):
    cards = {card["label"]: card["value"] for card in client_for(Role.MANAGER).get("/").context["cards"]}

    assert cards["VMs present"] == len(MANAGER_SEES)
