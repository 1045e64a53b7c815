"""File imports (RVTools exports, the VM CSV): parse everything first (``inventory.imports``), then write everything
or nothing.

They feed the same identity and history code as the vSphere scanner; an
import is a complete observation of its source, so VMs absent from a new
export of the same source go missing like after a scan.
"""

from pathlib import Path
from typing import IO

from django.db import transaction

from inventory.choices import ScanStatus, ScanTrigger, SourceKind
from inventory.imports.rvtools import parse_rvtools
from inventory.imports.vm_csv import parse_vm_csv
from inventory.models import ScanRun
from inventory.observations import Inventory
from inventory.services.identity import inventory_apply
from inventory.services.scan_runs import scan_run_finish, scan_run_start
from inventory.services.sources import source_import_get_or_create
from portal.models import User


def _inventory_import(
    *, inventories: list[Inventory], source_name: str, kind: str, file_name: str, user: User | None
) -> list[ScanRun]:
    runs = []
    with transaction.atomic():
        source = source_import_get_or_create(name=source_name, kind=kind, actor=user)
        for inventory in inventories:
            run = scan_run_start(
                source=source, trigger=ScanTrigger.IMPORT, user=user, observed_at=inventory.observed_at,
                file_name=file_name,
            )
            counts = inventory_apply(run=run, inventory=inventory, complete=True)
            runs.append(scan_run_finish(run=run, status=ScanStatus.COMPLETE, counts=counts))
    return runs


def rvtools_import(*, path: Path, source_name: str, user: User | None = None) -> list[ScanRun]:
    """Import an RVTools workbook or folder of tab CSVs; raises ``ImportRefused`` naming every bad cell."""
    return _inventory_import(
        inventories=parse_rvtools(path), source_name=source_name, kind=SourceKind.RVTOOLS,
        file_name=path.name, user=user,
    )


def vm_csv_import(
    *, stream: IO[bytes], source_name: str, file_name: str = "", platform: str = "", user: User | None = None
) -> list[ScanRun]:
    """Import the generic VM CSV (docs/import-vms.md) for platforms without an API."""
    return _inventory_import(
        inventories=[parse_vm_csv(stream, platform_default=platform)], source_name=source_name,
        kind=SourceKind.CSV, file_name=file_name, user=user,
    )
