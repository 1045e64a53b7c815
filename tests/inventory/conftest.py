import os

import pytest

from tests.vsphere_sim import harness


@pytest.fixture(scope="session")
def vsphere_simulator_available():
    """Skip scanner tests when the simulator cannot be built here; under CI they must run."""
    available, reason = harness.simulator_available()
    if not available:
        if os.environ.get("CI"):
            pytest.fail(f"The vSphere simulator is required under CI: {reason}")
        pytest.skip(f"vSphere simulator unavailable: {reason}")
