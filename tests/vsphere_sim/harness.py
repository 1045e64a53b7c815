"""Start govmomi's vSphere API simulator (bin/vcsim, built from main.go by
build.sh) and drive scenarios against it through pyvmomi.

Usage::

    from tests.vsphere_sim.harness import Simulator, simulator_available

    ok, reason = simulator_available()      # builds bin/vcsim once if needed
    with Simulator(datacenters=1, clusters=2, cluster_hosts=2, vms=3) as sim:
        si = sim.connect()                  # pyvmomi ServiceInstance
        vm = find_vm(si, "DC0_C0_RP0_VM0")
        rename_vm(si, vm, "renamed")

The simulator accepts any user name and password and serves plain HTTP.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD_SCRIPT = HERE / "build.sh"
SIMULATOR_BINARY = HERE / "bin" / "vcsim"

USER = "user"
PASSWORD = "pass"
# about.instanceUuid of every simulator started without instance_uuid
# (govmomi's simulator/vpx ServiceContent; main.go's -instance-uuid default).
DEFAULT_INSTANCE_UUID = "dbed6e0c-bd88-4ef6-b594-21283e1c677f"


@functools.cache
def simulator_available() -> tuple[bool, str]:
    """Build the simulator with build.sh (once per process) and report
    ``(True, "")`` or ``(False, reason)``."""
    try:
        proc = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot build the vSphere simulator: {exc}"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-2000:]
        return False, f"cannot build the vSphere simulator ({BUILD_SCRIPT}): {detail}"
    if not os.access(SIMULATOR_BINARY, os.X_OK):
        return False, f"{SIMULATOR_BINARY} missing after build"
    return True, ""


class SimulatorError(RuntimeError):
    pass


class Simulator:
    """Context manager running one simulator process.

    Topology (passed to main.go's flags): ``datacenters``, ``clusters`` (per
    datacenter), ``cluster_hosts`` (hosts per cluster), ``hosts`` (standalone
    hosts per datacenter), ``vms`` (per cluster and per standalone host).
    VM names follow ``DC0_C0_RP0_VM0`` (cluster) and ``DC0_H0_VM0``
    (standalone host). ``instance_uuid`` sets the vCenter's
    ``about.instanceUuid`` (None keeps the simulator's fixed default,
    ``DEFAULT_INSTANCE_UUID``): give two simulators different ones to make
    them two different vCenters.
    """

    def __init__(
        self,
        *,
        datacenters: int = 1,
        clusters: int = 1,
        cluster_hosts: int = 3,
        hosts: int = 1,
        vms: int = 2,
        instance_uuid: str | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ):
        self.topology = {
            "datacenters": datacenters,
            "clusters": clusters,
            "cluster-hosts": cluster_hosts,
            "hosts": hosts,
            "vms": vms,
        }
        self.instance_uuid = instance_uuid
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self.host: str | None = None
        self.port: int | None = None
        self._stderr = None
        self._connections: list = []

    # -- process ---------------------------------------------------------

    def start(self) -> Simulator:
        ok, reason = simulator_available()
        if not ok:
            raise SimulatorError(reason)
        args = [str(SIMULATOR_BINARY), "-port", "0"]
        for flag, value in self.topology.items():
            args += [f"-{flag}", str(int(value))]
        if self.instance_uuid is not None:
            args += ["-instance-uuid", self.instance_uuid]
        # stderr goes to a file so a chatty simulator can never fill a pipe.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
        )
        try:
            self.url = self._read_url()
        except BaseException:
            self.stop()
            raise
        hostport = self.url.split("://", 1)[1].split("/", 1)[0]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        return self

    def _read_url(self) -> str:
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + self.startup_timeout
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SimulatorError(
                    f"simulator printed no URL within {self.startup_timeout:.0f} s{self._stderr_tail()}"
                )
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:  # EOF: the process died
                    self.process.wait(timeout=5)
                    raise SimulatorError(
                        f"simulator exited with {self.process.returncode}{self._stderr_tail()}"
                    )
                buf += chunk
        line = buf.split(b"\n", 1)[0].decode().strip()
        if not line.startswith("VCSIM_URL="):
            raise SimulatorError(f"unexpected simulator output: {line!r}")
        return line[len("VCSIM_URL=") :]

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return f": {text[-2000:]}" if text else ""

    def stop(self) -> None:
        for si in self._connections:
            with contextlib.suppress(Exception):  # the server may already be gone
                from pyVim.connect import Disconnect

                Disconnect(si)
        self._connections.clear()
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=self.stop_timeout)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- client ----------------------------------------------------------

    def connect(self, user: str = USER, pwd: str = PASSWORD):
        """A pyvmomi ServiceInstance logged in to the simulator; it is
        disconnected when the simulator stops."""
        from pyVim.connect import SmartConnect

        si = SmartConnect(protocol="http", host=self.host, port=self.port, user=user, pwd=pwd)
        self._connections.append(si)
        return si


def require_simulator() -> None:
    """Skip the calling test when the simulator cannot be built, with the
    reason; under CI (``CI`` set in the environment) fail instead, so a broken
    toolchain can never turn the simulator tests into silent skips."""
    import pytest

    ok, reason = simulator_available()
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"vSphere simulator unavailable under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def simulator_fixture(scope: str = "session", **topology):
    """Return a pytest fixture yielding a running :class:`Simulator`, or
    skipping the test when the simulator cannot be built (failing instead
    when ``CI`` is set, see :func:`require_simulator`). In a conftest::

        vsphere_sim = simulator_fixture(datacenters=1, clusters=2, vms=3)
    """
    import pytest

    @pytest.fixture(scope=scope)
    def _fixture():
        require_simulator()
        with Simulator(**topology) as sim:
            yield sim

    return _fixture


# -- inventory helpers -----------------------------------------------------


def retrieve(si, vim_type, properties=("name",)) -> list[dict]:
    """All objects of ``vim_type`` with the given property paths, read with
    one container view and RetrievePropertiesEx (paging followed).  Each
    result is a dict of the property values plus ``"obj"``."""
    from pyVmomi import vmodl

    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[
                vmodl.query.PropertyCollector.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[
                        vmodl.query.PropertyCollector.TraversalSpec(
                            name="view", path="view", skip=False, type=type(view)
                        )
                    ],
                )
            ],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim_type, pathSet=list(properties))],
        )
        pc = content.propertyCollector
        options = vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=1000)
        out = []
        result = pc.RetrievePropertiesEx([spec], options)
        while result is not None:
            for oc in result.objects:
                row = {p.name: p.val for p in oc.propSet}
                row["obj"] = oc.obj
                out.append(row)
            if not result.token:
                break
            result = pc.ContinueRetrievePropertiesEx(result.token)
        return out
    finally:
        view.Destroy()


def list_vms(si) -> list:
    """All vim.VirtualMachine objects, sorted by name."""
    from pyVmomi import vim

    rows = retrieve(si, vim.VirtualMachine, ["name"])
    return [r["obj"] for r in sorted(rows, key=lambda r: r.get("name", ""))]


def list_hosts(si) -> list:
    """All vim.HostSystem objects, sorted by name."""
    from pyVmomi import vim

    rows = retrieve(si, vim.HostSystem, ["name"])
    return [r["obj"] for r in sorted(rows, key=lambda r: r.get("name", ""))]


def find_vms(si, name: str) -> list:
    """Every VM called ``name`` (names are unique per folder only)."""
    from pyVmomi import vim

    return [r["obj"] for r in retrieve(si, vim.VirtualMachine, ["name"]) if r.get("name") == name]


def find_vm(si, name: str):
    """The VM called ``name``; LookupError if there is none or several."""
    found = find_vms(si, name)
    if len(found) != 1:
        raise LookupError(f"{len(found)} VMs named {name!r}")
    return found[0]


# -- scenario helpers (each waits for its task) -----------------------------


def _wait(si, task):
    from pyVim.task import WaitForTask

    WaitForTask(task, si=si)
    return task.info.result


def rename_vm(si, vm, new_name: str):
    _wait(si, vm.Rename_Task(newName=new_name))
    return vm


def relocate_vm(si, vm, host):
    """Move ``vm`` to ``host`` (and to the root pool of host's cluster or
    compute resource)."""
    from pyVmomi import vim

    spec = vim.vm.RelocateSpec(host=host, pool=host.parent.resourcePool)
    _wait(si, vm.RelocateVM_Task(spec=spec))
    return vm


def clone_vm(si, vm, name: str, power_on: bool = False):
    """Clone ``vm`` into its own folder and resource pool; returns the clone."""
    from pyVmomi import vim

    spec = vim.vm.CloneSpec(
        location=vim.vm.RelocateSpec(pool=vm.resourcePool),
        powerOn=power_on,
        template=False,
    )
    return _wait(si, vm.CloneVM_Task(folder=vm.parent, name=name, spec=spec))


def reconfigure_extra_config(si, vm, key: str, value: str):
    """Set one advanced setting (config.extraConfig)."""
    from pyVmomi import vim

    spec = vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key=key, value=value)])
    _wait(si, vm.ReconfigVM_Task(spec=spec))
    return vm


def power_off(si, vm):
    """Power off (no-op when already off)."""
    if vm.runtime.powerState != "poweredOff":
        _wait(si, vm.PowerOffVM_Task())
    return vm


def power_on(si, vm):
    """Power on (no-op when already on)."""
    if vm.runtime.powerState != "poweredOn":
        _wait(si, vm.PowerOnVM_Task())
    return vm


def destroy_vm(si, vm, power_off_first: bool = True) -> None:
    """Delete ``vm`` (powering it off first, as a real vCenter requires)."""
    if power_off_first:
        power_off(si, vm)
    _wait(si, vm.Destroy_Task())


def _datacenter_of(entity):
    from pyVmomi import vim

    obj = entity
    while obj is not None and not isinstance(obj, vim.Datacenter):
        obj = obj.parent
    if obj is None:
        raise LookupError(f"no datacenter above {entity}")
    return obj


def create_vm(
    si,
    name: str,
    pool=None,
    host=None,
    datastore=None,
    folder=None,
    memory_mb: int = 128,
    num_cpus: int = 1,
    guest_id: str = "otherGuest",
):
    """Create a VM with a minimal ConfigSpec; returns the new VM.

    Placement: ``pool`` (a ResourcePool) and/or ``host`` (a HostSystem);
    with neither, the first host's compute resource is used. ``datastore``
    defaults to the host's (or pool owner's) first datastore and ``folder``
    to the datacenter's VM folder.
    """
    from pyVmomi import vim

    if pool is None and host is None:
        host = list_hosts(si)[0]
    if pool is None:
        pool = host.parent.resourcePool
    if datastore is None:
        candidates = host.datastore if host is not None else pool.owner.datastore
        if not candidates:
            raise LookupError("no datastore to place the VM on")
        datastore = candidates[0]
    if folder is None:
        folder = _datacenter_of(pool).vmFolder
    spec = vim.vm.ConfigSpec(
        name=name,
        memoryMB=memory_mb,
        numCPUs=num_cpus,
        guestId=guest_id,
        files=vim.vm.FileInfo(vmPathName=f"[{datastore.name}]"),
    )
    return _wait(si, folder.CreateVM_Task(config=spec, pool=pool, host=host))
