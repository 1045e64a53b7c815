"""The read-only inventory API: VMs with the list page's filters and sorting, a VM's history, sources
(never with a password) and scan runs, their paging and the queries a list needs."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.choices import ChangeKind, ScanStatus, SourceKind
from portal.choices import Role
from tests.factories import HostFactory, ScanRunFactory, SourceFactory, VirtualMachineFactory, VMChangeFactory
from tests.inventory.test_inventory_pages import T0, make_estate

VMS_URL = "/api/v1/vms/"
SOURCES_URL = "/api/v1/sources/"
SCANS_URL = "/api/v1/scans/"


@pytest.fixture
def estate(db) -> dict:
    return make_estate()


def _names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["name"] for row in response.json()["results"]]


# --- VMs --------------------------------------------------------------------------------------------------------


def test_a_vm_has_exactly_these_fields(estate, client_for):
    parent = estate["app01"]
    vm = VirtualMachineFactory(
        name="app01-clone", host=estate["hosts"]["prod1"], cloned_from=parent, template=estate["tmpl-rhel9"],
        instance_uuid="50001111-aaaa-bbbb-cccc-000000000009", bios_uuid="4210bbbb-0000-0000-0000-000000000009",
        moref="vm-109", ip_addresses=["10.1.0.99", "fe80::1"], created_by="VSPHERE.LOCAL\\alice",
        first_seen=T0 - datetime.timedelta(days=2), last_seen=T0, created_at=T0 - datetime.timedelta(days=3),
    )

    response = client_for(Role.AUDITOR).get(f"{VMS_URL}{vm.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": vm.pk,
        "name": "app01-clone",
        "instance_uuid": "50001111-aaaa-bbbb-cccc-000000000009",
        "bios_uuid": "4210bbbb-0000-0000-0000-000000000009",
        "moref": "vm-109",
        "source": "vc-prod",
        "datacenter": "DC-East",
        "cluster": "Prod-Cluster",
        "host": "esx-prod-01.example.com",
        "power_state": "poweredOn",
        "status": "present",
        "guest_os": "Red Hat Enterprise Linux 9 (64-bit)",
        "tools_status": "toolsOk",
        "ip_addresses": ["10.1.0.99", "fe80::1"],
        "is_template": False,
        "sanction": "unapproved",
        "copied": False,
        "first_seen": "2026-02-27T12:00:00Z",
        "last_seen": "2026-03-01T12:00:00Z",
        "created_at": "2026-02-26T12:00:00Z",
        "created_by": "VSPHERE.LOCAL\\alice",
        "cloned_from": parent.pk,
        "template": estate["tmpl-rhel9"].pk,
    }


def test_a_vm_without_a_place_has_null_names(db, client_for):
    vm = VirtualMachineFactory(host=None, cluster=None, datacenter=None, source=SourceFactory(name="csv-1"))

    row = client_for(Role.AUDITOR).get(f"{VMS_URL}{vm.pk}/").json()

    assert (row["source"], row["datacenter"], row["cluster"], row["host"], row["cloned_from"]) == (
        "csv-1", None, None, None, None,
    )


def test_the_vm_list_is_paginated_with_a_page_size(estate, client_for):
    response = client_for(Role.AUDITOR).get(VMS_URL, {"page_size": 4})

    body = response.json()
    assert body["count"] == 6
    assert [row["name"] for row in body["results"]] == ["app01", "app02", "db01", "lab-db01"]
    assert body["next"] == "http://testserver/api/v1/vms/?page=2&page_size=4"
    assert _names(client_for(Role.AUDITOR).get(VMS_URL, {"page_size": 4, "page": 2})) == ["lab-web01", "tmpl-rhel9"]


def test_the_page_size_is_capped_at_a_thousand(db, client_for):
    host = HostFactory()
    VirtualMachineFactory.create_batch(1002, host=host)

    body = client_for(Role.AUDITOR).get(VMS_URL, {"page_size": 5000}).json()

    assert (body["count"], len(body["results"])) == (1002, 1000)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"source": "vc-lab"}, ["lab-db01", "lab-web01"]),
        ({"source": "vc-nowhere"}, []),
        ({"power_state": "poweredOff"}, ["app02", "tmpl-rhel9"]),
        ({"status": "missing"}, ["db01"]),
        ({"status": "removed", "source": "vc-lab"}, ["lab-web01"]),
        ({"guest_os": "WINDOWS"}, ["app02"]),
        ({"tools_status": "toolsNotRunning"}, ["app02"]),
        ({"sanction": "approved"}, ["app01"]),
        ({"copied": "true"}, ["db01", "lab-db01"]),
        ({"copied": "false", "source": "vc-lab"}, ["lab-web01"]),
        ({"q": "10.1.0.1"}, ["app01", "app02"]),
        ({"q": "chg-1234"}, ["lab-web01"]),
        ({"ordering": "-last_seen", "source": "vc-lab"}, ["lab-db01", "lab-web01"]),
        ({"ordering": "host"}, ["lab-db01", "lab-web01", "app01", "db01", "app02", "tmpl-rhel9"]),
        ({"ordering": "-name"}, ["tmpl-rhel9", "lab-web01", "lab-db01", "db01", "app02", "app01"]),
    ],
)
def test_vm_filters_and_ordering(estate, client_for, query, expected):
    assert _names(client_for(Role.COMPLIANCE_OFFICER).get(VMS_URL, query)) == expected


def test_cluster_and_host_filters_take_ids(estate, client_for):
    client = client_for(Role.AUDITOR)

    assert _names(client.get(VMS_URL, {"cluster": estate["lab_cluster"].pk})) == ["lab-db01", "lab-web01"]
    assert _names(client.get(VMS_URL, {"host": estate["hosts"]["prod2"].pk})) == ["app02", "tmpl-rhel9"]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"cluster": 999999}, "cluster"), ({"status": "lost"}, "status"), ({"ordering": "password"}, "ordering")],
)
def test_invalid_filters_are_400(estate, client_for, query, field):
    response = client_for(Role.AUDITOR).get(VMS_URL, query)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_vm_list_needs_the_same_queries_for_3_or_30_vms(db, client_for):
    client = client_for(Role.AUDITOR)
    host = HostFactory()
    parent = VirtualMachineFactory(host=host)
    VirtualMachineFactory.create_batch(2, host=host, cloned_from=parent)

    def count() -> int:
        client.get(VMS_URL)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(VMS_URL, {"ordering": "cluster"})
        assert response.status_code == 200
        return len(queries)

    few = count()
    for index in range(27):
        VirtualMachineFactory(host=HostFactory() if index % 3 else host, cloned_from=parent)

    assert client.get(VMS_URL).json()["count"] == 30
    assert count() == few


# --- history ----------------------------------------------------------------------------------------------------


def test_a_vms_history_newest_first(estate, client_for, role_users):
    vm = estate["app01"]
    run = ScanRunFactory(source=estate["prod"])
    VMChangeFactory(vm=vm, kind=ChangeKind.DISCOVERED, at=T0 - datetime.timedelta(days=3), scan_run=run,
                    old=None, new={"name": "app-1", "power_state": "poweredOn"})
    VMChangeFactory(vm=vm, kind=ChangeKind.RENAMED, at=T0 - datetime.timedelta(days=2), scan_run=run,
                    old="app-1", new="app01", actor="VSPHERE.LOCAL\\bob")
    VMChangeFactory(vm=vm, kind=ChangeKind.REPURPOSED, at=T0, user=role_users[Role.SECURITY_ADMIN],
                    old={"purpose": ""}, new={"purpose": "Payments API"})
    VMChangeFactory(vm=estate["app02"], kind=ChangeKind.RENAMED, at=T0)  # another VM's

    response = client_for(Role.AUDITOR).get(f"{VMS_URL}{vm.pk}/history/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 3, "next": None, "previous": None,
        "results": [
            {"kind": "repurposed", "at": "2026-03-01T12:00:00Z", "old": {"purpose": ""},
             "new": {"purpose": "Payments API"}, "scan_run": None, "actor": "security_admin"},
            {"kind": "renamed", "at": "2026-02-27T12:00:00Z", "old": "app-1", "new": "app01", "scan_run": run.pk,
             "actor": "VSPHERE.LOCAL\\bob"},
            {"kind": "discovered", "at": "2026-02-26T12:00:00Z", "old": None,
             "new": {"name": "app-1", "power_state": "poweredOn"}, "scan_run": run.pk, "actor": ""},
        ],
    }


def test_history_is_paginated_and_ignores_vm_filters(estate, client_for):
    VMChangeFactory.create_batch(5, vm=estate["app01"])

    body = client_for(Role.AUDITOR).get(
        f"{VMS_URL}{estate['app01'].pk}/history/", {"page_size": 2, "source": "vc-lab"}
    ).json()

    assert (body["count"], len(body["results"])) == (5, 2)
    assert client_for(Role.AUDITOR).get(f"{VMS_URL}999999/history/").status_code == 404


# --- sources and scans ------------------------------------------------------------------------------------------


def test_sources_with_their_counts_and_never_a_password(estate, client_for):
    latest = ScanRunFactory(source=estate["prod"], started_at=T0, status=ScanStatus.COMPLETE)
    ScanRunFactory(source=estate["prod"], started_at=T0 - datetime.timedelta(days=1))
    SourceFactory(name="rvtools-dc2", kind=SourceKind.RVTOOLS, host="", username="", password="")
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM inventory_source WHERE name = %s", ["vc-prod"])
        encrypted = cursor.fetchone()[0]

    for role in (Role.AUDITOR, Role.ADMIN):
        response = client_for(role).get(SOURCES_URL)

        content = response.content.decode()
        assert "password" not in content
        assert "s3cret-vcenter-pass" not in content
        assert encrypted not in content
        rows = {row["name"]: row for row in response.json()["results"]}
        assert list(rows) == ["rvtools-dc2", "vc-lab", "vc-prod"]
        assert rows["vc-prod"] == {
            "id": estate["prod"].pk, "name": "vc-prod", "kind": "vcenter", "host": "vc-prod.example.com", "port": 443,
            "username": "svc-vmcensus@vsphere.local", "use_http": False, "verify_tls": True, "vcenter_uuid": "",
            "missing_scans_before_removed": 3, "enabled": True,
            "created_at": estate["prod"].created_at.isoformat().replace("+00:00", "Z"),
            "vm_count": 4, "vms_present": 3, "vms_missing": 1, "vms_removed": 0,
            "latest_scan": latest.pk, "latest_scan_status": "complete",
        }
        assert (rows["rvtools-dc2"]["vm_count"], rows["rvtools-dc2"]["latest_scan"]) == (0, None)

    detail = client_for(Role.AUDITOR).get(f"{SOURCES_URL}{estate['prod'].pk}/").content.decode()
    assert "password" not in detail and encrypted not in detail


def test_the_source_list_needs_the_same_queries_for_few_or_many_sources(db, client_for):
    client = client_for(Role.AUDITOR)

    def count() -> int:
        client.get(SOURCES_URL)
        with CaptureQueriesContext(connection) as queries:
            client.get(SOURCES_URL)
        return len(queries)

    for _ in range(3):
        VirtualMachineFactory.create_batch(2, host=HostFactory())
    few = count()
    for _ in range(10):
        host = HostFactory()
        VirtualMachineFactory.create_batch(2, host=host)
        ScanRunFactory(source=host.source)

    assert count() == few


def test_scan_runs_with_their_counts_filtered_by_source_and_status(estate, client_for, role_users):
    prod = ScanRunFactory(source=estate["prod"], started_at=T0, trigger="user", vms_seen=4, discovered=4,
                          requested_by=role_users[Role.SECURITY_ADMIN])
    failed = ScanRunFactory(source=estate["lab"], started_at=T0 - datetime.timedelta(hours=1),
                            status=ScanStatus.FAILED, error="connection to vc-lab.example.com:443 refused")
    client = client_for(Role.AUDITOR)

    body = client.get(SCANS_URL).json()

    assert [row["id"] for row in body["results"]] == [prod.pk, failed.pk]
    assert body["results"][0] == {
        "id": prod.pk, "source": "vc-prod", "status": "complete", "trigger": "user", "requested_by": "security_admin",
        "started_at": "2026-03-01T12:00:00Z", "finished_at": "2026-03-01T12:01:23Z",
        "observed_at": "2026-03-01T12:00:00Z", "vms_seen": 4, "vms_total": None, "discovered": 4, "changed": 0,
        "unchanged": 0, "missing": 0, "reappeared": 0, "removed": 0, "error": "", "file_name": "",
    }
    assert body["results"][1]["requested_by"] is None
    assert [row["id"] for row in client.get(SCANS_URL, {"source": "vc-lab"}).json()["results"]] == [failed.pk]
    assert [row["id"] for row in client.get(SCANS_URL, {"status": "complete"}).json()["results"]] == [prod.pk]
    assert client.get(f"{SCANS_URL}{failed.pk}/").json()["error"] == "connection to vc-lab.example.com:443 refused"


# --- access -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [VMS_URL, SOURCES_URL, SCANS_URL])
def test_the_inventory_api_is_read_only_and_closed_to_logins_without_a_role(estate, client, client_for, url):
    assert client.get(url).status_code == 401
    assert client_for("none").get(url).status_code == 403
    for role in Role:
        assert client_for(role).get(url).status_code == 200
        assert client_for(role).post(url, {"name": "new"}).status_code in (403, 405)


def test_a_vm_cannot_be_changed_through_the_api(estate, client_for):
    response = client_for(Role.ADMIN).patch(
        f"{VMS_URL}{estate['app01'].pk}/", {"name": "renamed"}, content_type="application/json"
    )

    assert response.status_code in (403, 405)
    estate["app01"].refresh_from_db()
    assert estate["app01"].name == "app01"
