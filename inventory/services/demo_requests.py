"""The demo's deployment requests, filed and decided through the services by the demo logins: one in each state, a
VM fulfilled by the number in its annotation when its import is scanned, and work waiting for ``secadmin``.

Newly built VMs come from a small CSV import of their own (``NEW_BUILDS_SOURCE``): the estate's RVTools exports
predate the requests.
"""

import datetime
import io

from django.utils import timezone

from inventory.choices import Decision, Environment
from inventory.models import DeploymentRequest, VirtualMachine
from inventory.services.approvals import (
    deployment_request_create,
    deployment_request_decide,
    deployment_request_link_vm,
    deployment_request_withdraw,
    deployment_requests_end_date_run,
    deployment_requests_link_from_scan,
)
from inventory.services.imports import vm_csv_import
from portal.models import Person, User

NEW_BUILDS_SOURCE = "new-builds (CSV)"
REJECT_COMMENT = "Plain FTP sends credentials in clear text: use the SFTP gateway in the DMZ instead."
NEW_BUILDS_HEADER = "name,vm_id,platform,host,power_state,guest_os,ip_addresses,cpu_count,memory_mb,annotation\n"


def _values(purpose: str, **overrides) -> dict:
    today = timezone.localdate()
    values = {
        "purpose": purpose, "description": "", "environment": Environment.PRODUCTION, "data_categories": [],
        "target_datacenter": "EAST-DC1", "target_cluster": "east-dc1-cl1", "vcpu": 4, "memory_gb": 16,
        "disk_gb": 200, "os": "Red Hat Enterprise Linux 9", "backup_engaged": True,
        "backup_contact": "backup-team@demo.vmcensus.example", "monitoring_engaged": True,
        "monitoring_contact": "noc@demo.vmcensus.example", "patching_engaged": True,
        "patching_contact": "patching@demo.vmcensus.example", "security_engaged": False, "security_contact": "",
        "start_date": today, "end_date": today + datetime.timedelta(days=365),
    }
    values.update(overrides)
    return values


def _new_builds(rows: list[tuple[str, str, str]]) -> list:
    """Import the new builds (name, guest OS, annotation) and link what names a request, as a scan's task does:
    with a broker configured that task waits for a worker, and the demo shows the link at once."""
    lines = [NEW_BUILDS_HEADER]
    for number, (name, guest, annotation) in enumerate(rows, 1):
        lines.append(f"{name},nb-{number},vmware-workstation,ws{number:02d}.build.demo.vmcensus.example,on,"
                     f"{guest},192.168.70.{number},4,16384,{annotation}\n")
    runs = vm_csv_import(stream=io.BytesIO("".join(lines).encode()), source_name=NEW_BUILDS_SOURCE,
                         file_name="new-builds.csv")
    for run in runs:
        deployment_requests_link_from_scan(run=run)
    return runs


def demo_requests_load() -> list[str]:
    """File the demo's requests once; a second run finds them and changes nothing."""
    if DeploymentRequest.objects.exists():
        return ["Deployment requests: already loaded."]
    manager, officer, secadmin = (User.objects.get(username=name) for name in ("manager", "officer", "secadmin"))
    reports = list(Person.objects.filter(parent__user=manager, active=True).order_by("name")[:3])
    owner, second_owner, third_owner = (reports + [manager.person] * 3)[:3]
    today = timezone.localdate()

    payroll = deployment_request_create(
        user=manager, owner=owner, submit=True,
        **_values("Payroll reporting", description="Month-end payroll reports for Finance.",
                  data_categories=["financial_reporting", "personal"], os="Microsoft Windows Server 2022"),
    )
    deployment_request_decide(request=payroll, user=secadmin, decision=Decision.APPROVE,
                              comment="Backup and patching engaged; baseline check after deployment.")
    load_test = deployment_request_create(
        user=manager, owner=second_owner, submit=True,
        **_values("Q3 load test rig", environment=Environment.TEST, start_date=today - datetime.timedelta(days=120),
                  end_date=today - datetime.timedelta(days=5)),
    )
    deployment_request_decide(request=load_test, user=secadmin, decision=Decision.APPROVE)
    _new_builds([
        ("pay-report01", "Microsoft Windows Server 2022 (64-bit)", f"Payroll reporting - {payroll.number}"),
        ("loadtest01", "Red Hat Enterprise Linux 9 (64-bit)", "load test rig"),
        ("shadow-ftp01", "Ubuntu Linux (64-bit)", "temporary file drop"),
    ])
    deployment_request_link_vm(request=load_test, vm=VirtualMachine.objects.get(name="loadtest01"), user=secadmin)

    etl = deployment_request_create(
        user=manager, owner=third_owner, submit=True,
        **_values("Data warehouse ETL node", end_date=today + datetime.timedelta(days=10),
                  data_categories=["customer_financial"]),
    )
    deployment_request_decide(request=etl, user=secadmin, decision=Decision.APPROVE)
    ftp = deployment_request_create(
        user=manager, owner=second_owner, submit=True,
        **_values("Public FTP server for partners", environment=Environment.PRODUCTION, security_engaged=False),
    )
    deployment_request_decide(request=ftp, user=secadmin, decision=Decision.REJECT, comment=REJECT_COMMENT)
    old_idea = deployment_request_create(user=manager, owner=owner, **_values("Second payroll test box"))
    deployment_request_withdraw(request=old_idea, user=manager)

    # Waiting for the security admins.
    deployment_request_create(
        user=manager, owner=owner, submit=True,
        **_values("EHR interface engine", description="HL7 feeds between the EHR and the lab systems.",
                  data_categories=["ephi"], security_engaged=True, security_contact="secops@demo.vmcensus.example"),
    )
    deployment_request_create(
        user=officer, owner=officer.person, submit=True,
        **_values("GRC evidence store", data_categories=["none"], environment=Environment.STAGING, quorum=2),
    )
    deployment_request_create(
        user=manager, owner=third_owner, submit=True,
        **_values("CI build agents", environment=Environment.DEVELOPMENT, end_date=None, patching_engaged=False,
                  patching_contact="", vcpu=8, memory_gb=32),
    )
    # Filed by the security admin for a VM found running without approval: another security admin decides it.
    deployment_request_create(
        user=secadmin, owner=second_owner, vm=VirtualMachine.objects.get(name="shadow-ftp01"), submit=True,
        **_values("Partner file drop (found running)", environment=Environment.PRODUCTION,
                  os="Ubuntu Linux 22.04"),
    )
    deployment_request_create(user=manager, owner=owner, **_values("Capacity test cluster",
                                                                   environment=Environment.TEST))
    ended = deployment_requests_end_date_run(today=today)
    return [f"Deployment requests: {DeploymentRequest.objects.count()} ({ended.expired} expired, "
            f"{ended.reminded} owner(s) reminded of an end date)."]
