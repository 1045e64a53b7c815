"""The inventory pages: the VM list with its filters and sorting, the VM page with its facts, timeline and
lineage, sources with the "Scan now" button and its progress, scan runs, and the queries each page needs."""

import csv
import datetime
import io
import socket

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from inventory.choices import ChangeKind, PowerState, Sanction, ScanStatus, ScanTrigger, SourceKind, VMStatus
from inventory.models import ScanRun, VMChange
from portal.choices import Role
from portal.models import AuditEvent
from tests.factories import (
    ClusterFactory,
    DatacenterFactory,
    HostFactory,
    PersonFactory,
    ScanRunFactory,
    SourceFactory,
    VirtualMachineFactory,
    VMChangeFactory,
)
from tests.page_reading import Element, buttons, facts, links, options, read, rows, selected

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
VMS_URL = "/inventory/vms/"
SOURCES_URL = "/inventory/sources/"
SCANS_URL = "/inventory/scans/"


def make_estate() -> dict:
    """Two vCenters. vc-prod: DC-East / Prod-Cluster / esx-prod-01, esx-prod-02; vc-lab: DC-Lab / Lab-Cluster /
    esx-lab-01. Six VMs with distinct power states, statuses, guests, IPs and times (last seen T0 - n hours)."""
    prod = SourceFactory(name="vc-prod", host="vc-prod.example.com")
    lab = SourceFactory(name="vc-lab", host="vc-lab.example.com")
    prod_cluster = ClusterFactory(name="Prod-Cluster", datacenter=DatacenterFactory(name="DC-East", source=prod))
    lab_cluster = ClusterFactory(name="Lab-Cluster", datacenter=DatacenterFactory(name="DC-Lab", source=lab))
    hosts = {
        "prod1": HostFactory(name="esx-prod-01.example.com", cluster=prod_cluster),
        "prod2": HostFactory(name="esx-prod-02.example.com", cluster=prod_cluster),
        "lab1": HostFactory(name="esx-lab-01.example.com", cluster=lab_cluster),
    }
    shared_bios = "4210aaaa-0000-0000-0000-00000000c0de"

    def vm(name, host, hours, **facts):
        return VirtualMachineFactory(
            name=name, host=hosts[host], last_seen=T0 - datetime.timedelta(hours=hours),
            first_seen=T0 - datetime.timedelta(days=30, hours=hours),
            created_at=T0 - datetime.timedelta(days=60, hours=hours),
            **facts,
        )

    vms = {
        "app01": vm("app01", "prod1", 1, ip_addresses=["10.1.0.11"], annotation="payments tier",
                    sanction=Sanction.APPROVED, instance_uuid="50001111-aaaa-bbbb-cccc-000000000001"),
        "app02": vm("app02", "prod2", 2, power_state=PowerState.OFF, ip_addresses=["10.1.0.12"],
                    guest_os="Microsoft Windows Server 2019 (64-bit)", tools_status="toolsNotRunning"),
        "db01": vm("db01", "prod1", 3, status=VMStatus.MISSING, ip_addresses=["10.1.0.21"], copied=True,
                   bios_uuid=shared_bios, guest_os="Red Hat Enterprise Linux 8 (64-bit)"),
        "lab-db01": vm("lab-db01", "lab1", 4, ip_addresses=["192.168.5.21"], copied=True, bios_uuid=shared_bios),
        "lab-web01": vm("lab-web01", "lab1", 5, power_state=PowerState.SUSPENDED, status=VMStatus.REMOVED,
                        guest_os="Ubuntu Linux (64-bit)", annotation="ticket CHG-1234", ip_addresses=[]),
        "tmpl-rhel9": vm("tmpl-rhel9", "prod2", 6, power_state=PowerState.OFF, is_template=True, ip_addresses=[],
                         tools_status="toolsOld"),
    }
    return {"prod": prod, "lab": lab, "prod_cluster": prod_cluster, "lab_cluster": lab_cluster, "hosts": hosts,
            **vms}


@pytest.fixture
def estate(db) -> dict:
    return make_estate()


def _names(response) -> list[str]:
    return [vm.name for vm in response.context["vms"]]


# --- the VM list ------------------------------------------------------------------------------------------------


def test_the_vm_list_shows_every_vm_by_name_with_its_facts(estate, client_for):
    response = client_for(Role.AUDITOR).get(VMS_URL, {"status": "any"})

    page = read(response.content.decode())
    assert response.status_code == 200
    assert "Inventory 6 VMs" in page.text()
    table = page.find("table")
    rhel9 = "Red Hat Enterprise Linux 9 (64-bit)"
    # name (with its flags) and source · power · status · cluster and datacenter · host · guest · IPs · last seen
    assert rows(table) == [
        ["app01 vc-prod", "On", "Present", "Prod-Cluster DC-East", "esx-prod-01.example.com", rhel9, "10.1.0.11",
         "2026-03-01 11:00"],
        ["app02 vc-prod", "Off", "Present", "Prod-Cluster DC-East", "esx-prod-02.example.com",
         "Microsoft Windows Server 2019 (64-bit)", "10.1.0.12", "2026-03-01 10:00"],
        ["db01 copied vc-prod", "On", "Missing", "Prod-Cluster DC-East", "esx-prod-01.example.com",
         "Red Hat Enterprise Linux 8 (64-bit)", "10.1.0.21", "2026-03-01 09:00"],
        ["lab-db01 copied vc-lab", "On", "Present", "Lab-Cluster DC-Lab", "esx-lab-01.example.com", rhel9,
         "192.168.5.21", "2026-03-01 08:00"],
        ["lab-web01 vc-lab", "Suspended", "Removed", "Lab-Cluster DC-Lab", "esx-lab-01.example.com",
         "Ubuntu Linux (64-bit)", "—", "2026-03-01 07:00"],
        ["tmpl-rhel9 template vc-prod", "Off", "Present", "Prod-Cluster DC-East", "esx-prod-02.example.com", rhel9,
         "—", "2026-03-01 06:00"],
    ]
    assert ("app02", f"/inventory/vms/{estate['app02'].pk}/") in links(table)
    assert [badge.attrs["title"] for badge in table.find_all("span") if badge.text() == "copied"] == [
        "Shares its BIOS UUID with another live VM",
    ] * 2
    # the selects offer the estate's sources, clusters and hosts
    assert options(page, "source") == [("Any", ""), ("vc-lab", "vc-lab"), ("vc-prod", "vc-prod")]
    assert ("Prod-Cluster · vc-prod", str(estate["prod_cluster"].pk)) in options(page, "cluster")
    assert ("esx-lab-01.example.com", str(estate["hosts"]["lab1"].pk)) in options(page, "host")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"source": "vc-lab"}, ["lab-db01"]),  # lab-web01 is removed: hidden unless asked for
        ({"source": "vc-lab", "status": "any"}, ["lab-db01", "lab-web01"]),
        ({"source": "vc-prod"}, ["app01", "app02", "db01", "tmpl-rhel9"]),
        ({"source": "vc-nowhere"}, []),
        ({"power_state": "poweredOff"}, ["app02", "tmpl-rhel9"]),
        ({"power_state": "suspended", "status": "any"}, ["lab-web01"]),
        ({"status": "missing"}, ["db01"]),
        ({"status": "removed"}, ["lab-web01"]),
        ({"status": "present", "source": "vc-prod"}, ["app01", "app02", "tmpl-rhel9"]),
        ({"guest_os": "windows"}, ["app02"]),
        ({"tools_status": "toolsOld"}, ["tmpl-rhel9"]),
        ({"sanction": "approved"}, ["app01"]),
        ({"copied": "true"}, ["db01", "lab-db01"]),
        ({"q": "app"}, ["app01", "app02"]),
        ({"q": "10.1.0.2"}, ["db01"]),
        ({"q": "192.168"}, ["lab-db01"]),
        ({"q": "PAYMENTS"}, ["app01"]),
        ({"q": "chg-1234", "status": "any"}, ["lab-web01"]),
        ({"q": "50001111-aaaa"}, ["app01"]),
        ({"q": "4210aaaa"}, ["db01", "lab-db01"]),
        ({"q": "db 192.168"}, ["lab-db01"]),
    ],
)
def test_each_filter_narrows_the_list(estate, client_for, query, expected):
    response = client_for(Role.AUDITOR).get(VMS_URL, query)

    assert response.status_code == 200
    assert _names(response) == expected


def test_removed_vms_are_hidden_until_asked_for(estate, client_for):
    response = client_for(Role.AUDITOR).get(VMS_URL)

    page = read(response.content.decode())
    assert "Inventory 5 VMs" in page.text()
    assert "lab-web01" not in [row[0].split()[0] for row in rows(page.find("table"))]
    assert "Removed VMs are hidden: choose “Removed” or “Any, removed too” to see them." in page.text()
    assert options(page, "status")[0] == ("Present or missing", "")
    assert options(page, "status")[-1] == ("Any, removed too", "any")


@pytest.mark.parametrize("page_number", ["2", "99", "999999999999"])
def test_a_page_past_the_last_shows_the_last_page(db, client_for, page_number):
    VirtualMachineFactory.create_batch(55, host=HostFactory())

    response = client_for(Role.AUDITOR).get(VMS_URL, {"page": page_number})

    page = read(response.content.decode())
    assert response.status_code == 200
    assert "Page 2 of 2" in page.text()
    assert len(rows(page.find("table"))) == 5


def test_a_page_that_is_not_a_number_shows_the_first_page(db, client_for):
    VirtualMachineFactory.create_batch(55, host=HostFactory())

    response = client_for(Role.AUDITOR).get(VMS_URL, {"page": "last'"})

    assert response.status_code == 200
    assert "Page 1 of 2" in read(response.content.decode()).text()


def test_filters_by_datacenter_cluster_and_host_take_ids(estate, client_for):
    client = client_for(Role.AUDITOR)
    lab_dc = estate["lab_cluster"].datacenter

    assert _names(client.get(VMS_URL, {"cluster": estate["prod_cluster"].pk})) == [
        "app01", "app02", "db01", "tmpl-rhel9",
    ]
    assert _names(client.get(VMS_URL, {"host": estate["hosts"]["prod1"].pk})) == ["app01", "db01"]
    assert _names(client.get(VMS_URL, {"datacenter": lab_dc.pk, "status": "any"})) == ["lab-db01", "lab-web01"]


def test_the_moref_is_searched_exactly(estate, client_for):
    estate["app01"].moref = "vm-42"
    estate["app01"].save()
    estate["app02"].moref = "vm-420"
    estate["app02"].save()

    assert _names(client_for(Role.AUDITOR).get(VMS_URL, {"q": "VM-42"})) == ["app01"]


def test_the_chosen_filters_stay_selected(estate, client_for):
    response = client_for(Role.AUDITOR).get(VMS_URL, {"source": "vc-lab", "power_state": "suspended"})
    page = read(response.content.decode())

    assert (selected(page, "source"), selected(page, "power_state"), selected(page, "status")) == (
        ["vc-lab"], ["Suspended"], [],
    )


def test_an_unknown_cluster_is_reported_and_ignored(estate, client_for):
    response = client_for(Role.AUDITOR).get(VMS_URL, {"cluster": 999999, "status": "missing"})

    assert _names(response) == ["db01"]
    assert "cluster: Select a valid choice." in response.content.decode()


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-name", ["tmpl-rhel9", "lab-web01", "lab-db01", "db01", "app02", "app01"]),
        ("last_seen", ["tmpl-rhel9", "lab-web01", "lab-db01", "db01", "app02", "app01"]),
        ("-last_seen", ["app01", "app02", "db01", "lab-db01", "lab-web01", "tmpl-rhel9"]),
        ("host", ["lab-db01", "lab-web01", "app01", "db01", "app02", "tmpl-rhel9"]),
        ("-cluster", ["app01", "app02", "db01", "tmpl-rhel9", "lab-db01", "lab-web01"]),
        ("power_state", ["app02", "tmpl-rhel9", "app01", "db01", "lab-db01", "lab-web01"]),
        ("status", ["db01", "app01", "app02", "lab-db01", "tmpl-rhel9", "lab-web01"]),
        ("-created_at", ["app01", "app02", "db01", "lab-db01", "lab-web01", "tmpl-rhel9"]),
    ],
)
def test_sorting(estate, client_for, ordering, expected):
    assert _names(client_for(Role.AUDITOR).get(VMS_URL, {"ordering": ordering, "status": "any"})) == expected


def test_column_headers_sort_and_keep_the_filters(estate, client_for):
    page = read(client_for(Role.AUDITOR).get(VMS_URL, {"source": "vc-prod", "ordering": "host"}).content.decode())

    headers = links(page.find("thead"))
    assert ("Host ▲", "?source=vc-prod&ordering=-host") in headers
    assert ("Name", "?source=vc-prod&ordering=name") in headers
    assert page.find("form", method="get").find("input", name="ordering").attrs["value"] == "host"  # filtering keeps it


def test_the_list_is_paginated_by_fifty_keeping_the_filters(db, client_for):
    host = HostFactory()
    VirtualMachineFactory.create_batch(55, host=host)
    response = client_for(Role.AUDITOR).get(VMS_URL, {"status": "present"})

    page = read(response.content.decode())
    assert len(rows(page.find("table"))) == 50
    assert "Page 1 of 2" in page.text()
    assert ("Next", "?status=present&page=2") in links(page)
    assert len(client_for(Role.AUDITOR).get(VMS_URL, {"status": "present", "page": 2}).context["vms"]) == 5


def _queries(client, url, params=None) -> int:
    client.get(url, params)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def test_the_vm_list_needs_the_same_queries_for_3_or_30_vms(db, client_for):
    client = client_for(Role.COMPLIANCE_OFFICER)
    hosts = [HostFactory(), HostFactory()]
    filtered = {"cluster": hosts[1].cluster_id, "q": "vm", "ordering": "host"}
    for index in range(3):
        VirtualMachineFactory(host=hosts[index % 2])
    few, filtered_few = _queries(client, VMS_URL), _queries(client, VMS_URL, filtered)

    for index in range(27):
        VirtualMachineFactory(host=hosts[index % 2], datacenter=None)
    HostFactory.create_batch(5)

    assert len(client.get(VMS_URL).context["vms"]) == 30
    assert _queries(client, VMS_URL) == few
    assert _queries(client, VMS_URL, filtered) == filtered_few


# --- the VM page ------------------------------------------------------------------------------------------------


def test_the_vm_page_shows_its_facts(estate, client_for):
    vm = estate["app01"]
    vm.owner = PersonFactory(name="Olga Owner")
    vm.purpose = "Payments API"
    vm.created_by = "VSPHERE.LOCAL\\alice"
    vm.advanced_settings = {"isolation.tools.copy.disable": "TRUE", "log.keepOld": "10"}
    vm.custom_attributes = {"Backup": "gold"}
    vm.mac_addresses = ["00:50:56:aa:bb:cc"]
    vm.save()

    response = client_for(Role.AUDITOR).get(f"/inventory/vms/{vm.pk}/")

    page = read(response.content.decode())
    assert response.status_code == 200
    shown = {label: value.text() for label, value in facts(page).items()}
    assert {label: shown[label] for label in (
        "Instance UUID", "Source", "Cluster", "Created by", "Created", "Last boot", "Resource pool", "IP addresses",
        "MAC addresses", "CPUs · memory", "Sanction", "Owner", "Purpose", "Backup",
    )} == {
        "Instance UUID": "50001111-aaaa-bbbb-cccc-000000000001",
        "Source": "vc-prod",
        "Cluster": "Prod-Cluster",
        "Created by": "VSPHERE.LOCAL\\alice",
        "Created": "2025-12-31 11:00",
        "Last boot": "—",
        "Resource pool": "—",
        "IP addresses": "10.1.0.11",
        "MAC addresses": "00:50:56:aa:bb:cc",
        "CPUs · memory": "2 vCPU · 4096 MB",
        "Sanction": "Approved",
        "Owner": "Olga Owner",
        "Purpose": "Payments API",
        "Backup": "gold",
    }
    assert links(facts(page)["Source"]) == [("vc-prod", f"/inventory/sources/{estate['prod'].pk}/")]
    assert links(facts(page)["Cluster"]) == [("Prod-Cluster", f"/inventory/vms/?cluster={estate['prod_cluster'].pk}")]
    assert links(facts(page)["Owner"]) == [("Olga Owner", f"/people/{vm.owner.pk}/")]
    assert "Advanced settings (2)" in [heading.text() for heading in page.find_all("h2")]
    assert rows(page.find("div", css_class="advanced-settings").find("table")) == [
        ["isolation.tools.copy.disable", "TRUE"], ["log.keepOld", "10"],
    ]
    assert "Not cloned from another VM" in page.text()


def _timeline(page: Element) -> list[str]:
    """Each history row as its visible text."""
    table = page.find("table", css_class="timeline")
    return [row.text() for row in table.find_all("tr") if "data-kind" in row.attrs]


def test_the_timeline_renders_each_change_readably(estate, client_for, role_users):
    vm = estate["app01"]
    run = ScanRunFactory(source=estate["prod"])
    at = T0 - datetime.timedelta(days=1)
    VMChangeFactory(vm=vm, kind=ChangeKind.DISCOVERED, at=at - datetime.timedelta(days=9), scan_run=run, old=None,
                    new={"name": "app01", "host": "esx-prod-01.example.com", "power_state": "poweredOn"})
    VMChangeFactory(vm=vm, kind=ChangeKind.RENAMED, at=at - datetime.timedelta(days=3), scan_run=run,
                    old="app-old", new="app01", actor="VSPHERE.LOCAL\\bob")
    VMChangeFactory(vm=vm, kind=ChangeKind.RELOCATED, at=at - datetime.timedelta(days=2), scan_run=run,
                    old={"host": "esx-prod-02.example.com", "datastores": ["ds1"]},
                    new={"host": "esx-prod-01.example.com", "datastores": ["ds1", "ds2"]})
    VMChangeFactory(vm=vm, kind=ChangeKind.RECONFIGURED, at=at - datetime.timedelta(days=1), scan_run=run,
                    old={"cpu_count": 2, "advanced_settings": {"a": "1", "b": "2", "c": "3"}},
                    new={"cpu_count": 4, "advanced_settings": {"a": "1", "b": "20", "d": "4"}})
    VMChangeFactory(vm=vm, kind=ChangeKind.POWER_CHANGED, at=at, scan_run=run, old="poweredOn", new="poweredOff")
    VMChangeFactory(vm=vm, kind=ChangeKind.REPURPOSED, at=at + datetime.timedelta(hours=1), scan_run=None,
                    user=role_users[Role.SECURITY_ADMIN], old={"purpose": ""}, new={"purpose": "Payments API"})

    page = read(client_for(Role.AUDITOR).get(f"/inventory/vms/{vm.pk}/").content.decode())

    scan = f"scan #{run.pk}"
    assert _timeline(page) == [
        "2026-02-28 13:00 Repurposed purpose: — → Payments API security_admin —",
        f"2026-02-28 12:00 Power changed On → Off — {scan}",
        f"2026-02-27 12:00 Reconfigured CPUs: 2 → 4 advanced setting b: 2 → 20 advanced setting c: 3 → — "
        f"advanced setting d: — → 4 — {scan}",
        f"2026-02-26 12:00 Relocated host: esx-prod-02.example.com → esx-prod-01.example.com datastores: ds1 → ds1, ds2"
        f" — {scan}",
        f"2026-02-25 12:00 Renamed app-old → app01 VSPHERE.LOCAL\\bob {scan}",
        f"2026-02-19 12:00 Discovered name: app01 power state: On host: esx-prod-01.example.com — {scan}",
    ]
    assert links(page.find("table", css_class="timeline")).count((scan, f"/inventory/scans/{run.pk}/")) == 5
    assert "History (6 entries)" in [heading.text() for heading in page.find_all("h2")]


def test_the_timeline_is_paginated(estate, client_for):
    VMChangeFactory.create_batch(53, vm=estate["app01"])

    response = client_for(Role.AUDITOR).get(f"/inventory/vms/{estate['app01'].pk}/", {"page": 2})

    assert len(response.context["history"]) == 3
    assert "Page 2 of 2" in response.content.decode()


def test_the_lineage_panel_shows_parent_siblings_children_and_template(estate, client_for):
    template = estate["tmpl-rhel9"]
    parent = estate["app01"]
    parent.template = template
    parent.save()
    me = VirtualMachineFactory(name="app01-clone-b", host=estate["hosts"]["prod1"], cloned_from=parent)
    VirtualMachineFactory(name="app01-clone-a", host=estate["hosts"]["prod1"], cloned_from=parent)
    VirtualMachineFactory(name="app01-clone-c", host=estate["hosts"]["prod2"], cloned_from=parent)
    VirtualMachineFactory(name="grandchild", host=estate["hosts"]["prod2"], cloned_from=me)
    client = client_for(Role.AUDITOR)

    lineage = client.get(f"/inventory/vms/{me.pk}/").context["lineage"]
    assert lineage.parent == parent
    assert [vm.name for vm in lineage.siblings] == ["app01-clone-a", "app01-clone-c"]
    assert [vm.name for vm in lineage.children] == ["grandchild"]
    assert lineage.template is None

    panel = facts(read(client.get(f"/inventory/vms/{parent.pk}/").content.decode()).find("div", css_class="lineage"))
    assert links(panel["Deployed from template"]) == [("tmpl-rhel9", f"/inventory/vms/{template.pk}/")]
    assert [name for name, _ in links(panel["Clones of this VM (3)"])] == [
        "app01-clone-a", "app01-clone-b", "app01-clone-c",
    ]

    deployed = client.get(f"/inventory/vms/{template.pk}/").context["lineage"]
    assert [vm.name for vm in deployed.deployed] == ["app01"]


def test_long_lineage_lists_are_capped(estate, client_for):
    parent = estate["app01"]
    VirtualMachineFactory.create_batch(52, host=estate["hosts"]["prod1"], cloned_from=parent)

    response = client_for(Role.AUDITOR).get(f"/inventory/vms/{parent.pk}/")

    assert len(response.context["lineage"].children) == 50
    assert response.context["lineage"].children_count == 52
    assert "first 50 of 52" in response.content.decode()


def test_the_vm_page_needs_a_bounded_number_of_queries(estate, client_for):
    client = client_for(Role.AUDITOR)
    parent = estate["app01"]
    small = VirtualMachineFactory(host=estate["hosts"]["prod1"], cloned_from=parent, template=estate["tmpl-rhel9"])
    big = VirtualMachineFactory(host=estate["hosts"]["prod1"], cloned_from=parent, template=estate["tmpl-rhel9"])
    VMChangeFactory.create_batch(2, vm=small, scan_run=ScanRunFactory(source=estate["prod"]))
    VirtualMachineFactory(host=estate["hosts"]["prod2"], cloned_from=small)
    VMChangeFactory.create_batch(40, vm=big, scan_run=ScanRunFactory(source=estate["prod"]))
    VirtualMachineFactory.create_batch(30, host=estate["hosts"]["prod2"], cloned_from=big)

    few = _queries(client, f"/inventory/vms/{small.pk}/")
    many = _queries(client, f"/inventory/vms/{big.pk}/")

    assert few == many


# --- sources and the scan button --------------------------------------------------------------------------------


def test_the_source_list_counts_vms_by_status_and_shows_the_latest_scan(estate, client_for):
    old = ScanRunFactory(source=estate["prod"], started_at=T0 - datetime.timedelta(days=2))
    latest = ScanRunFactory(source=estate["prod"], started_at=T0, status=ScanStatus.PARTIAL)
    SourceFactory(name="rvtools-dc2", kind=SourceKind.RVTOOLS, host="")

    response = client_for(Role.AUDITOR).get(SOURCES_URL)

    table = read(response.content.decode()).find("table")
    # name · kind · endpoint · present · missing · removed · all VMs · latest scan (the newest, not the older one)
    assert rows(table) == [
        ["rvtools-dc2", "RVTools import", "—", "0", "0", "0", "0", "never scanned"],
        ["vc-lab", "vCenter / ESXi", "vc-lab.example.com:443", "1", "0", "1", "2", "never scanned"],
        ["vc-prod", "vCenter / ESXi", "vc-prod.example.com:443", "3", "1", "0", "4",
         f"#{latest.pk} Partial 2026-03-01 12:00"],
    ]
    prod_links = links(table.find("tr", data_source="vc-prod"))
    assert ("1", "/inventory/vms/?source=vc-prod&status=missing") in prod_links
    assert (f"#{latest.pk}", f"/inventory/scans/{latest.pk}/") in prod_links
    assert f"/inventory/scans/{old.pk}/" not in [address for _, address in prod_links]


def test_the_source_list_needs_the_same_queries_for_few_or_many_sources(db, client_for):
    client = client_for(Role.AUDITOR)

    def add_source():
        host = HostFactory()
        VirtualMachineFactory.create_batch(3, host=host)
        ScanRunFactory.create_batch(2, source=host.source)

    for _ in range(3):
        add_source()
    few = _queries(client, SOURCES_URL)
    for _ in range(12):
        add_source()

    assert _queries(client, SOURCES_URL) == few


def test_the_source_page_never_shows_the_password(estate, client_for):
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM inventory_source WHERE id = %s", [estate["prod"].pk])
        encrypted = cursor.fetchone()[0]
    assert encrypted and encrypted != "s3cret-vcenter-pass"

    for role in (Role.AUDITOR, Role.ADMIN):
        html = client_for(role).get(f"/inventory/sources/{estate['prod'].pk}/").content.decode()

        assert "s3cret-vcenter-pass" not in html
        assert encrypted not in html
        assert "stored, encrypted; never shown" in html
        assert "https://vc-prod.example.com:443/sdk" in html


def test_the_scan_button_is_for_security_admins_and_admins(estate, client_for):
    url = f"/inventory/sources/{estate['prod'].pk}/"
    scan_url = f"/inventory/sources/{estate['prod'].pk}/scan/"

    def scan_forms(role) -> list[list[tuple[str, bool]]]:
        page = read(client_for(role).get(url).content.decode())
        return [buttons(form) for form in page.find_all("form", method="post", action=scan_url)]

    for role in (Role.SECURITY_ADMIN, Role.ADMIN):
        assert scan_forms(role) == [[("Scan now", True)]]
    for role in (Role.AUDITOR, Role.MANAGER, Role.COMPLIANCE_OFFICER):
        assert scan_forms(role) == []


def _free_port() -> int:
    """A TCP port nothing listens on: bound by the OS, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_scan_now_opens_a_run_and_the_task_records_why_it_failed(db, client_for, role_users,
                                                                    django_capture_on_commit_callbacks):
    # given a vCenter source on a port where nothing listens
    port = _free_port()
    source = SourceFactory(name="vc-closed", host="127.0.0.1", port=port)

    # when a security admin presses "Scan now"
    client = client_for(Role.SECURITY_ADMIN)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/inventory/sources/{source.pk}/scan/")
        # then a running run is open until the transaction commits and the task runs
        run = ScanRun.objects.get(source=source)
        assert (run.status, run.trigger, run.requested_by) == (
            ScanStatus.RUNNING, ScanTrigger.USER, role_users[Role.SECURITY_ADMIN],
        )

    assert len(callbacks) == 1
    assert response.status_code == 302 and response["Location"] == f"/inventory/sources/{source.pk}/"
    run.refresh_from_db()
    assert run.status == ScanStatus.FAILED
    assert run.error == (
        f"connection to 127.0.0.1:{port} refused: nothing listens on that port (check the host, the port and firewalls)"
    )
    assert run.finished_at is not None
    assert list(AuditEvent.objects.order_by("sequence").values_list("action", "actor_label")) == [
        ("scan.requested", "security_admin"), ("scan.failed", "security_admin"),
    ]
    page = read(client.get(response["Location"]).content.decode())
    assert f"Scan #{run.pk} of vc-closed requested." in page.find(role="alert").text()
    progress = page.find("div", id="scan-progress").text()
    assert progress.startswith(f"Latest scan: #{run.pk} Failed started ")
    assert f"127.0.0.1:{port} refused" in progress


def test_scan_now_while_a_scan_runs_says_so_and_opens_nothing(db, client_for, django_capture_on_commit_callbacks):
    source = SourceFactory(name="vc-busy")
    running = ScanRunFactory(source=source, status=ScanStatus.RUNNING, started_at=datetime.datetime.now(datetime.UTC))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(Role.ADMIN).post(f"/inventory/sources/{source.pk}/scan/", follow=True)

    page = read(response.content.decode())
    assert callbacks == []
    assert list(ScanRun.objects.values_list("pk", flat=True)) == [running.pk]
    (warning,) = page.find_all(role="alert", css_class="alert-warning")
    assert warning.text().startswith(f"A scan of vc-busy is already running (scan #{running.pk}, started ")
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.MANAGER, Role.COMPLIANCE_OFFICER, "none"])
def test_scan_now_is_refused_to_other_roles(db, client_for, role, django_capture_on_commit_callbacks):
    source = SourceFactory(name="vc-guarded")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(role).post(f"/inventory/sources/{source.pk}/scan/")

    assert response.status_code == 403
    assert callbacks == []
    assert not ScanRun.objects.exists()
    assert not AuditEvent.objects.exists()


def test_an_import_source_cannot_be_scanned(db, client_for):
    source = SourceFactory(name="rvtools-dc2", kind=SourceKind.RVTOOLS, host="")

    page = client_for(Role.ADMIN).get(f"/inventory/sources/{source.pk}/").content.decode()
    response = client_for(Role.ADMIN).post(f"/inventory/sources/{source.pk}/scan/", follow=True)

    assert "/scan/" not in page
    assert not ScanRun.objects.exists()
    expected = "rvtools-dc2 is fed by file imports (RVTools import): import a newer file instead of scanning it."
    assert expected in response.content.decode()


def test_the_scan_confirmation_page(estate, client_for):
    page = read(client_for(Role.SECURITY_ADMIN).get(f"/inventory/sources/{estate['prod'].pk}/scan/").content.decode())

    assert "Scan vc-prod now?" in page.text()
    assert "https://vc-prod.example.com:443/sdk" in [code.text() for code in page.find_all("code")]


def test_the_progress_block_polls_while_the_scan_runs_and_stops_when_it_ends(db, client_for):
    source = SourceFactory(name="vc-progress")
    run = ScanRunFactory(source=source, status=ScanStatus.RUNNING, vms_seen=250, vms_total=1000)
    client = client_for(Role.AUDITOR)
    url = f"/inventory/sources/{source.pk}/progress/"

    def progress_block(page_url: str, **headers) -> Element:
        return read(client.get(page_url, **headers).content.decode()).find("div", id="scan-progress")

    running = progress_block(url, HTTP_HX_REQUEST="true")
    polling = {name: running.attrs.get(name) for name in ("hx-get", "hx-trigger", "hx-swap")}
    assert polling == {"hx-get": url, "hx-trigger": "every 2s", "hx-swap": "outerHTML"}
    assert "250 / 1000 VMs processed" in running.text()
    bar = running.find(role="progressbar")
    assert (bar.attrs["aria-valuenow"], bar.attrs["aria-valuemax"]) == ("250", "1000")
    assert bar.find("div").attrs["style"] == "width: 25%"
    assert buttons(running) == []  # an auditor has no button
    assert progress_block(f"/inventory/sources/{source.pk}/").attrs.get("hx-get") == url  # the full page polls too

    run.status, run.vms_seen, run.discovered = ScanStatus.COMPLETE, 1000, 1000
    run.finished_at = run.started_at + datetime.timedelta(minutes=2)
    run.save()
    done = progress_block(url, HTTP_HX_REQUEST="true")
    assert [name for name in done.attrs if name.startswith("hx-")] == []
    assert "1000 VMs seen: 1000 discovered, 0 changed, 0 missing, 0 reappeared, 0 removed." in done.text()
    assert ("Reload the page", f"/inventory/sources/{source.pk}/") in links(done)


def test_the_progress_block_shows_a_disabled_button_to_admins_while_running(db, client_for):
    source = SourceFactory(name="vc-progress")
    ScanRunFactory(source=source, status=ScanStatus.RUNNING)

    page = read(client_for(Role.ADMIN).get(f"/inventory/sources/{source.pk}/progress/").content.decode())

    assert buttons(page) == [("Scanning…", False)]
    assert "0 VMs processed (counting…)" in page.text()


# --- scan runs --------------------------------------------------------------------------------------------------


def test_the_scan_list_filters_by_source_and_status(estate, client_for):
    prod_run = ScanRunFactory(source=estate["prod"], started_at=T0)
    lab_run = ScanRunFactory(source=estate["lab"], started_at=T0 - datetime.timedelta(hours=1))
    failed = ScanRunFactory(source=estate["lab"], started_at=T0 - datetime.timedelta(hours=2),
                            status=ScanStatus.FAILED, error="connection to vc-lab:443 refused")
    client = client_for(Role.AUDITOR)

    def ids(params=None):
        return [run.pk for run in client.get(SCANS_URL, params).context["runs"]]

    assert ids() == [prod_run.pk, lab_run.pk, failed.pk]
    assert ids({"source": "vc-lab"}) == [lab_run.pk, failed.pk]
    assert ids({"status": "failed"}) == [failed.pk]
    table = read(client.get(SCANS_URL).content.decode()).find("table")
    # # · source · status · started · duration · trigger · seen · new · changed · missing · back · removed · error
    assert rows(table)[2] == [
        str(failed.pk), "vc-lab", "Failed", "2026-03-01 10:00", "1 min 23 s", "Command line",
        "0", "0", "0", "0", "0", "0", "connection to vc-lab:443 refused",
    ]


def test_the_scan_page_shows_counts_duration_error_and_the_changes_it_recorded(estate, client_for):
    run = ScanRunFactory(source=estate["prod"], status=ScanStatus.PARTIAL, vms_seen=4, discovered=1, changed=2,
                         error="Writing the inventory failed: disk full")
    VMChangeFactory(vm=estate["db01"], kind=ChangeKind.MISSING, scan_run=run, old="present", new="missing", at=T0)
    VMChangeFactory(vm=estate["app01"], kind=ChangeKind.RENAMED, scan_run=run, old="app-1", new="app01", at=T0)
    VMChangeFactory(vm=estate["app02"], kind=ChangeKind.RENAMED, at=T0)  # another scan's

    response = client_for(Role.AUDITOR).get(f"/inventory/scans/{run.pk}/")

    page = read(response.content.decode())
    assert page.find(role="alert").text() == "Error: Writing the inventory failed: disk full"
    shown = {label: value.text() for label, value in facts(page).items()}
    assert (shown["Duration"], shown["VMs seen"], shown["Discovered"], shown["Changed"]) == (
        "1 min 23 s", "4", "1", "2",
    )
    assert _timeline(page) == [
        "2026-03-01 12:00 app01 Renamed app-1 → app01 —",
        "2026-03-01 12:00 db01 Missing Present → Missing —",
    ]
    assert VMChange.objects.count() == 3


def test_the_navigation_links_to_the_inventory_and_the_sources(db, client_for):
    navigation = links(read(client_for(Role.AUDITOR).get("/").content.decode()).find("nav"))

    assert ("Inventory", "/inventory/vms/") in navigation
    assert ("Sources", "/inventory/sources/") in navigation


def test_the_scan_page_of_an_import_source_explains_how_to_refresh_it(client_for):
    source = SourceFactory(name="rvtools-east", kind=SourceKind.RVTOOLS, host="")

    page = client_for("security_admin").get(reverse("inventory:source_scan", args=[source.pk])).content.decode()

    assert "is refreshed by importing a file" in page
    assert 'import_rvtools EXPORT.xlsx --source "rvtools-east"' in page
    assert "Scan now" not in page


def test_the_vm_list_exports_what_it_shows_with_labels_and_records_it(estate, client_for):
    client = client_for(Role.SECURITY_ADMIN)
    html = client.get("/inventory/vms/", {"source": "vc-prod"}).content.decode()
    assert ("xlsx", "/inventory/vms/export.xlsx?source=vc-prod") in links(read(html))

    response = client.get("/inventory/vms/export.csv", {"source": "vc-prod", "power_state": PowerState.OFF})

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(row["Name"], row["Power state"], row["Power state (code)"]) for row in rows] == [
        ("app02", "Off", PowerState.OFF.value), ("tmpl-rhel9", "Off", PowerState.OFF.value)]
    assert rows[0]["Host"] == "esx-prod-02.example.com"
    event = AuditEvent.objects.get(action="inventory.exported")
    assert event.details == {"export": "csv", "rows": 2,
                             "filters": {"Source (name)": "vc-prod", "Power state": PowerState.OFF.label}}

    workbook = load_workbook(io.BytesIO(client.get("/inventory/vms/export.xlsx", {"status": "missing"}).content))
    assert workbook.sheetnames == ["About", "VMs", "Codes"]
    header, *vms = list(workbook["VMs"].iter_rows(values_only=True))
    record = dict(zip(header, vms[0], strict=True))
    assert (record["Name"], record["Status"]) == ("db01", VMStatus.MISSING.label)
    assert isinstance(record["Last seen"], datetime.datetime)
    assert dict(workbook["About"].iter_rows(values_only=True))["Rows"] == 1
