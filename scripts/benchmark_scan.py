"""Benchmark the vSphere scanner against govmomi's simulator and print the figures the discovery issue asks for.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python scripts/benchmark_scan.py

It builds a simulator inventory of 10,000 VMs (2 datacenters x (9 clusters + 1
standalone host) x 500 VMs), scans it into a throwaway database
(``vmcensus_benchmark``, created and dropped here), and prints: the bare paged
RetrievePropertiesEx through pyvmomi (the floor of any pyvmomi scanner), the
wire-and-parse floor (the same request parsed with lxml), a full first scan,
a rescan with nothing changed, a rescan after 1% of the VMs were renamed,
the SQL queries of each, and the process's peak memory; then, with the default
policies loaded, a rescan followed by the first evaluation, one followed by
an evaluation that changes nothing, and that evaluation alone (its share of a
rescan). On 600 VMs it also
times attribute-by-attribute reads (the approach of popular sync tools).
"""

import argparse
import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from pyVmomi import vim  # noqa: E402

from inventory.choices import FindingState, ScanStatus  # noqa: E402
from inventory.models import Finding  # noqa: E402
from inventory.services.findings import policies_evaluate  # noqa: E402
from inventory.services.policies import policies_load  # noqa: E402
from inventory.services.scan import source_scan  # noqa: E402
from inventory.services.sources import source_vcenter_save  # noqa: E402
from inventory.vsphere.collector import (  # noqa: E402
    KINDS,
    PROPERTIES,
    VIEW_TYPES,
    PyvmomiRetriever,
    filter_spec,
    retrieve_all,
)
from inventory.vsphere.fastpath import FastRetriever  # noqa: E402
from tests.vsphere_sim import harness  # noqa: E402

TARGET_FULL_RATIO = 1.5
TARGET_RESCAN_RATIO = 1.2
TARGET_PEAK_MB = 600
# The policy evaluation that follows a scan may add at most this share to it.
TARGET_EVALUATION_SHARE = 0.20
STRETCH_FULL_SECONDS = 10.0


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def measured(label: str, results: dict):
    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        yield
    results[label] = (time.perf_counter() - started, counter.count, peak_mb())


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_retrieval(si, *, fast: bool) -> float:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(container=content.rootFolder, type=VIEW_TYPES, recursive=True)
    started = time.perf_counter()
    pc = content.propertyCollector
    retriever = FastRetriever(si._stub, pc, KINDS) if fast else PyvmomiRetriever(pc)
    rows = retrieve_all(retriever, filter_spec(view))
    elapsed = time.perf_counter() - started
    view.DestroyView()
    return elapsed, sum(1 for row in rows if row[0] == "VirtualMachine")


def attribute_reads(si) -> tuple[float, int]:
    """What sync tools do: walk the VMs and read each property through pyvmomi attribute access."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(container=content.rootFolder, type=[vim.VirtualMachine],
                                                   recursive=True)
    started = time.perf_counter()
    count = 0
    # The simulator drops the connection when parentVApp is read on its own (it is unset); skip that one.
    paths = [path for path in PROPERTIES[vim.VirtualMachine] if path != "parentVApp"]
    for vm in view.view:
        for path in paths:
            value = vm
            for part in path.split("."):
                value = getattr(value, part, None) if value is not None else None
        count += 1
    view.DestroyView()
    return time.perf_counter() - started, count


PAGE_REPEATS = 3
INVENTORY_PATHS = (
    "/inventory/vms/",
    "/inventory/vms/?power_state=poweredOff&ordering=-last_seen",
    "/inventory/vms/?q=VM4&status=present",
    "/inventory/vms/?page=150",
    "/api/v1/vms/?page_size=1000",
    "/api/v1/vms/?source=benchmark&power_state=poweredOn&page_size=100",
)


def time_inventory_pages() -> dict[str, tuple[float, int]]:
    """The VM list page and API list as a user gets them, through the whole request cycle."""
    from django.test import Client

    from portal.models import User

    user = User.objects.create_superuser("benchmark-admin", "admin@benchmark.invalid", None)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    figures = {}
    for path in INVENTORY_PATHS:
        slowest, queries = 0.0, 0
        for _ in range(PAGE_REPEATS):
            counter = QueryCounter()
            started = time.perf_counter()
            with connection.execute_wrapper(counter):
                response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            slowest, queries = max(slowest, time.perf_counter() - started), counter.count
        figures[path] = (slowest, queries)
    return figures


def rename_one_percent(si) -> int:
    vms = harness.list_vms(si)
    chosen = vms[:: 100]
    for vm in chosen:
        harness.rename_vm(si, vm, vm.name + "-renamed")
    return len(chosen)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vms-per-pool", type=int, default=500, help="VMs per cluster / standalone host (500: 10,000)")
    parser.add_argument("--clusters", type=int, default=9)
    parser.add_argument("--skip-small", action="store_true", help="Skip the 600-VM attribute-read comparison.")
    args = parser.parse_args()
    available, reason = harness.simulator_available()
    if not available:
        sys.exit(f"The simulator cannot be built: {reason}")

    connection.settings_dict.setdefault("TEST", {})["NAME"] = "vmcensus_benchmark"
    old_config = setup_databases(verbosity=0, interactive=False)
    results: dict[str, tuple[float, int, float]] = {}
    evaluated: dict[str, tuple[float, int, float]] = {}
    try:
        print(f"Database: {connection.vendor}. Starting the simulator ...", flush=True)
        topology = {"datacenters": 2, "clusters": args.clusters, "vms": args.vms_per_pool}
        with harness.Simulator(**topology, startup_timeout=300) as sim:
            si = sim.connect()
            source = source_vcenter_save(name="benchmark", host=sim.host, port=sim.port, username="user",
                                         password=harness.PASSWORD, use_http=True)
            for label in ("full first scan", "rescan, nothing changed"):
                with measured(label, results):
                    run = source_scan(source=source)
                assert run.status == ScanStatus.COMPLETE, run.error
                print(f"  {label}: {run.vms_seen} VMs, {run.discovered} discovered, {run.changed} changed", flush=True)
            renamed = rename_one_percent(si)
            with measured("rescan, 1% renamed", results):
                run = source_scan(source=source)
            assert run.status == ScanStatus.COMPLETE and run.changed == renamed, (run.changed, renamed)
            print(f"  rescan, 1% renamed: {run.changed} changed of {run.vms_seen}", flush=True)
            vm_count = run.vms_seen
            # The policies: their evaluation runs after every complete scan (eagerly here, in the scan's process).
            policies_load()
            for label in ("rescan + first evaluation", "rescan + evaluation"):
                with measured(label, evaluated):
                    run = source_scan(source=source)
                assert run.status == ScanStatus.COMPLETE, run.error
            with measured("evaluation alone", evaluated):
                policies_evaluate(source=source)
            findings = Finding.objects.exclude(state=FindingState.RESOLVED).count()
            pages = time_inventory_pages()
            # A fresh session each: the simulator drops connections left idle during the scans.
            fast_floor, _ = bare_retrieval(sim.connect(), fast=True)
            bare, _ = bare_retrieval(sim.connect(), fast=False)
        small = None
        if not args.skip_small:
            with harness.Simulator(datacenters=2, clusters=5, vms=50) as sim:
                source = source_vcenter_save(name="benchmark-600", host=sim.host, port=sim.port, username="user",
                                             password=harness.PASSWORD, use_http=True)
                started = time.perf_counter()
                run = source_scan(source=source)
                small_scan = time.perf_counter() - started
                small = (attribute_reads(sim.connect()), small_scan, run.vms_seen)
    finally:
        teardown_databases(old_config, verbosity=0)

    print(f"\nScanner benchmark: {vm_count} VMs, database {connection.vendor}")
    print(f"  bare RetrievePropertiesEx via pyvmomi (floor of a pyvmomi scanner): {bare:7.2f} s")
    print(f"  wire-and-parse floor (same request, lxml):                        {fast_floor:7.2f} s")
    for label, (seconds, queries, peak) in results.items():
        target = TARGET_FULL_RATIO if label.startswith("full") else TARGET_RESCAN_RATIO
        ratio = seconds / bare
        print(f"  {label:<24} {seconds:7.2f} s  {ratio:5.2f}x bare (target <= {target}x: {verdict(ratio <= target)})"
              f"  {queries:5d} SQL queries  peak {peak:6.0f} MB")
    full_seconds = results["full first scan"][0]
    peak = max(value[2] for value in results.values())
    print(f"  peak memory of the scans: {peak:.0f} MB (target < {TARGET_PEAK_MB} MB: {verdict(peak < TARGET_PEAK_MB)})")
    print(f"  stretch: full scan {full_seconds:.2f} s (target < {STRETCH_FULL_SECONDS} s: "
          f"{verdict(full_seconds < STRETCH_FULL_SECONDS)})")
    rescan = results["rescan, nothing changed"][0]
    print(f"\n  policies after a scan ({findings} unresolved findings):")
    for label, (seconds, queries, _peak) in evaluated.items():
        print(f"    {label:<26} {seconds:7.2f} s  {queries:5d} SQL queries")
    share = evaluated["evaluation alone"][0] / rescan
    print(f"    the evaluation alone is {share:.0%} of a rescan with nothing changed "
          f"(target < {TARGET_EVALUATION_SHARE:.0%}: {verdict(share < TARGET_EVALUATION_SHARE)})")
    print(f"\n  inventory pages and API on {vm_count} VMs (slowest of {PAGE_REPEATS}, whole request):")
    for path, (seconds, queries) in pages.items():
        print(f"    {path:<68} {seconds * 1000:7.1f} ms  {queries:3d} SQL queries")
    if small:
        (reads, read_count), small_scan, small_vms = small
        print(f"\n  {small_vms} VMs: attribute-by-attribute reads {reads:.2f} s for {read_count} VMs; "
              f"full scan {small_scan:.2f} s; ratio {reads / small_scan:.1f}x")


if __name__ == "__main__":
    main()
