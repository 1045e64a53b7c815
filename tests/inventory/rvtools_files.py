"""Write RVTools exports for tests: an xlsx workbook or a folder of ``RVTools_tab<Tab>.csv`` files.

An export is described as ``{tab: [row, ...]}``, each row a dict from header
to value; a tab's header is the union of its rows' keys, in first-seen order.
``vinfo_row`` and friends give complete, valid RVTools 4.x rows to override;
``as_rvtools3`` turns an export into its 3.x spelling (no ``VM ID``, MB for MiB).

    sheets = {"vInfo": [vinfo_row(VM="db01", **{"VM UUID": "..."})], "vMetaData": [vmetadata_row(when)]}
    write_xlsx(tmp_path / "export.xlsx", sheets)
    write_csv_folder(tmp_path / "export", as_rvtools3(sheets), date_format="%d.%m.%Y %H:%M:%S")
"""

import csv
import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

Sheets = dict[str, list[dict[str, Any]]]

VCENTER_SERVER = "vc01.example.com"
VCENTER_UUID = "0c2b6e3a-61ad-4b3e-9d1c-6c0f4f1b2a10"
US_DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def _identity(vinfo: dict[str, Any]) -> dict[str, Any]:
    """The join columns of a vInfo row, to repeat on its rows in the other tabs."""
    keys = ("VM", "VM ID", "VM UUID", "VI SDK Server", "VI SDK UUID")
    return {key: vinfo[key] for key in keys if key in vinfo}


def vinfo_row(**values: Any) -> dict[str, Any]:
    """A complete RVTools 4.x vInfo row (a powered-on Windows VM on esx01 in DC1/Cluster1), with ``values`` over it."""
    row: dict[str, Any] = {
        "VM": "app01",
        "Powerstate": "poweredOn",
        "Template": False,
        "SRM Placeholder": False,
        "Config status": "green",
        "DNS Name": "app01.example.com",
        "Connection state": "connected",
        "Guest state": "running",
        "Heartbeat": "green",
        "PowerOn": datetime.datetime(2024, 3, 1, 8, 30, 15),
        "Suspend time": None,
        "Creation date": datetime.datetime(2023, 1, 15, 10, 0, 5),
        "Change Version": "2024-03-01T08:29:58.123456Z",
        "CPUs": 4,
        "Memory": 8192,
        "NICs": 1,
        "Disks": 1,
        "Total disk capacity MiB": 40960,
        "Primary IP Address": "10.0.0.10",
        "Network #1": "VM Network",
        "Network #2": None,
        "Resource pool": "Resources",
        "Folder ID": "group-v3",
        "Folder": "Production/Apps",
        "vApp": None,
        "Provisioned MiB": 49152,
        "In Use MiB": 20480,
        "Unshared MiB": 20480,
        "EFI Secure boot": False,
        "Firmware": "efi",
        "HW version": "vmx-13",
        "HW upgrade status": "none",
        "Path": "[ds-prod-01] app01/app01.vmx",
        "Annotation": "Billing application",
        "Datacenter": "DC1",
        "Cluster": "Cluster1",
        "Host": "esx01.example.com",
        "OS according to the configuration file": "Microsoft Windows Server 2019 (64-bit)",
        "OS according to the VMware Tools": "Microsoft Windows Server 2019 Standard (64-bit)",
        "VM ID": "vm-101",
        "SMBIOS UUID": "4203a1b2-c3d4-e5f6-0718-293a4b5c6d7e",
        "VM UUID": "5003a1b2-c3d4-e5f6-0718-293a4b5c6d7e",
        "VI SDK Server type": "VMware vCenter Server",
        "VI SDK API Version": "7.0.3",
        "VI SDK Server": VCENTER_SERVER,
        "VI SDK UUID": VCENTER_UUID,
    }
    row.update(values)
    return row


def vtools_row(vinfo: dict[str, Any], **values: Any) -> dict[str, Any]:
    """The vTools row of the VM of ``vinfo`` (tools OK, version 12352), with ``values`` over it."""
    row = {
        "VM": vinfo["VM"],
        "Powerstate": vinfo.get("Powerstate"),
        "Template": vinfo.get("Template"),
        "VM Version": vinfo.get("HW version"),
        "Tools": "toolsOk",
        "Tools Version": 12352,
        "Required Version": 12352,
        "Upgradeable": False,
        "Upgrade Policy": "manual",
        **_identity(vinfo),
    }
    row.update(values)
    return row


def vnetwork_row(vinfo: dict[str, Any], **values: Any) -> dict[str, Any]:
    """One NIC of the VM of ``vinfo`` (Network adapter 1 on VM Network), with ``values`` over it."""
    row = {
        "VM": vinfo["VM"],
        "Powerstate": vinfo.get("Powerstate"),
        "NIC label": "Network adapter 1",
        "Adapter": "Vmxnet3",
        "Network": "VM Network",
        "Switch": "vSwitch0",
        "Connected": True,
        "Starts Connected": True,
        "Mac Address": "00:50:56:9a:00:01",
        "Type": "assigned",
        "IPv4 Address": "10.0.0.10",
        "IPv6 Address": None,
        **_identity(vinfo),
    }
    row.update(values)
    return row


def vhost_row(**values: Any) -> dict[str, Any]:
    """A vHost row (esx01 in DC1/Cluster1, ESXi 7.0.3), with ``values`` over it."""
    row = {
        "Host": "esx01.example.com",
        "Datacenter": "DC1",
        "Cluster": "Cluster1",
        "Config status": "green",
        "CPU Model": "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz",
        "# CPU": 2,
        "# Memory": 786432,
        "ESX Version": "VMware ESXi 7.0.3 build-20036589",
        "Boot time": datetime.datetime(2024, 1, 10, 6, 0, 0),
        "Vendor": "Dell Inc.",
        "Model": "PowerEdge R740",
        "Serial number": "ABC1234",
        "Service tag": "ABC1234",
        "BIOS Version": "2.19.1",
        "Object ID": "host-10",
        "UUID": "4c4c4544-0042-3010-8053-b2c04f4b3132",
        "VI SDK Server": VCENTER_SERVER,
        "VI SDK UUID": VCENTER_UUID,
    }
    row.update(values)
    return row


def vmetadata_row(created: datetime.datetime, **values: Any) -> dict[str, Any]:
    row = {
        "RVTools major version": 4,
        "RVTools version": "4.6.1.0",
        "xlsx creation datetime": created,
        "Server": VCENTER_SERVER,
    }
    row.update(values)
    return row


def as_rvtools3(sheets: Sheets) -> Sheets:
    """The same export as RVTools 3.x writes it: no ``VM ID`` column, ``MB`` where 4.x says ``MiB``."""
    return {
        tab: [{key.replace("MiB", "MB"): value for key, value in row.items() if key != "VM ID"} for row in rows]
        for tab, rows in sheets.items()
    }


def header_of(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def write_xlsx(path: Path, sheets: Sheets) -> Path:
    """One sheet per tab, header in row 1; datetimes become Excel dates, None an empty cell."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for tab, rows in sheets.items():
        sheet = workbook.create_sheet(tab)
        header = header_of(rows)
        sheet.append(header)
        for row in rows:
            sheet.append([row.get(key) for key in header])
    workbook.save(path)
    return path


def _csv_value(value: Any, date_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, datetime.datetime):
        return value.strftime(date_format)
    return str(value)


def write_csv_folder(folder: Path, sheets: Sheets, *, date_format: str = US_DATE_FORMAT, delimiter: str = ",") -> Path:
    """One ``RVTools_tab<Tab>.csv`` per tab (UTF-8 with BOM, as RVTools writes); datetimes in ``date_format``."""
    folder.mkdir(parents=True, exist_ok=True)
    for tab, rows in sheets.items():
        header = header_of(rows)
        with (folder / f"RVTools_tab{tab}.csv").open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(header)
            for row in rows:
                writer.writerow([_csv_value(row.get(key), date_format) for key in header])
    return folder


# Exports shaped like real ones: a small estate with what real exports carry (templates, an SRM placeholder,
# names that repeat across clusters, a VM with two NICs), and the ways real files differ from a full export.

ESTATE_VMS = (
    # (VM, number, Powerstate, Cluster, Host, extra vInfo values)
    ("db01", 1, "poweredOn", "Cluster1", "esx01.example.com", {}),
    ("web01", 2, "poweredOn", "Cluster1", "esx02.example.com", {}),
    ("web01", 3, "poweredOn", "Cluster2", "esx03.example.com", {"Primary IP Address": "10.0.2.13"}),
    ("app02", 4, "poweredOff", "Cluster1", "esx01.example.com", {}),
    ("tpl-rhel9", 5, "poweredOff", "Cluster1", "esx02.example.com", {"Template": True, "Primary IP Address": None}),
    ("dr-db01", 6, "poweredOff", "Cluster2", "esx03.example.com",
     {"SRM Placeholder": True, "Primary IP Address": None}),
    ("backup01", 7, "suspended", "Cluster2", "esx03.example.com", {}),
    ("jump01", 8, "poweredOn", "Cluster2", "esx03.example.com", {"Network #2": "Management"}),
)
ESTATE_HOSTS = (
    ("esx01.example.com", "Cluster1", "host-11", "4c4c4544-0000-0000-0000-0000000000e1"),
    ("esx02.example.com", "Cluster1", "host-12", "4c4c4544-0000-0000-0000-0000000000e2"),
    ("esx03.example.com", "Cluster2", "host-13", "4c4c4544-0000-0000-0000-0000000000e3"),
)


def estate_vm_uuid(number: int) -> str:
    return f"5003aaaa-0000-0000-0000-{number:012d}"


def estate_export(created: datetime.datetime) -> Sheets:
    """Eight VMs on three hosts of one vCenter, with vInfo, vTools, vNetwork, vHost and vMetaData, as RVTools 4.x."""
    vinfo = [
        vinfo_row(
            VM=name, Powerstate=power, Cluster=cluster, Host=host,
            **{
                "VM ID": f"vm-{100 + number}",
                "VM UUID": estate_vm_uuid(number),
                "SMBIOS UUID": f"4203aaaa-0000-0000-0000-{number:012d}",
                "Primary IP Address": f"10.0.1.{number}",
                "Path": f"[ds-{cluster.lower()}] {name}/{name}.vmx",
                **extra,
            },
        )
        for name, number, power, cluster, host, extra in ESTATE_VMS
    ]
    vnetwork = []
    for row, (_, number, *_rest) in zip(vinfo, ESTATE_VMS, strict=True):
        vnetwork.append(vnetwork_row(row, **{"Mac Address": f"00:50:56:aa:00:{number:02x}",
                                             "IPv4 Address": row["Primary IP Address"]}))
        if row.get("Network #2"):
            vnetwork.append(vnetwork_row(row, **{"NIC label": "Network adapter 2", "Network": row["Network #2"],
                                                 "Mac Address": f"00:50:56:aa:01:{number:02x}",
                                                 "IPv4 Address": None}))
    return {
        "vInfo": vinfo,
        "vTools": [vtools_row(row) for row in vinfo],
        "vNetwork": vnetwork,
        "vHost": [
            vhost_row(Host=host, Cluster=cluster, **{"Object ID": moref, "UUID": uuid})
            for host, cluster, moref, uuid in ESTATE_HOSTS
        ],
        "vMetaData": [vmetadata_row(created)],
    }


def without_columns(sheets: Sheets, *names: str) -> Sheets:
    """The export with ``names`` gone from every tab, as older or hand-trimmed exports are."""
    return {tab: [{key: value for key, value in row.items() if key not in names} for row in rows]
            for tab, rows in sheets.items()}


def trimmed_last_row(sheets: Sheets, tab: str, *, from_column: str) -> Sheets:
    """The export with the cells of ``tab``'s last row cleared from ``from_column`` on, as when trimmed by hand."""
    rows = [dict(row) for row in sheets[tab]]
    keys = list(rows[-1])
    rows[-1] = {key: (None if index >= keys.index(from_column) else value) for index, (key, value)
                in enumerate(rows[-1].items())}
    return {**sheets, tab: rows}


def cut_off_last_row(folder: Path, tab: str, *, inside_column: str) -> Path:
    """Cut the last record of a CSV tab half-way through ``inside_column``'s value, as an interrupted export ends."""
    path = folder / f"RVTools_tab{tab}.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = list(csv.reader(handle))
    header, last = records[0], records[-1]
    position = header.index(inside_column)
    kept = last[:position] + [last[position][: len(last[position]) // 2]]
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="")  # the last record without a line end: the writer stopped
        for record in records[:-1]:
            writer.writerow(record)
            handle.write("\r\n")
        writer.writerow(kept)
    return path
