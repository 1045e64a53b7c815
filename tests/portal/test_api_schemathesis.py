"""Schemathesis against the running API: every response must be what the OpenAPI schema says (status codes,
content types, bodies, nullable fields), never a server error, for a role that reads everything (an auditor)
and one that writes (an admin). Seeded and deterministic, with few examples per operation, so CI stays fast
and a failure reproduces."""

import datetime
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.authtoken.models import Token

from compliance.choices import EvaluationTrigger
from compliance.services.catalogs import catalogs_load
from compliance.services.controls import controls_load
from compliance.services.evaluation import controls_evaluate
from portal.choices import Role
from questionnaires.models import Assignment, Question, TemplateVersion
from questionnaires.services.campaigns import campaign_create, campaign_launch
from tests.factories import (
    HostFactory,
    PersonFactory,
    ScanRunFactory,
    SourceFactory,
    UserFactory,
    VirtualMachineFactory,
    VMChangeFactory,
)
from tests.questionnaires.factories import DeclaredVMFactory

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20261201
EXAMPLES_PER_OPERATION = 8


@pytest.fixture
def estate(transactional_db):
    """An organisation with a launched campaign, the standard templates, an inventory, the compliance catalogs and
    control library evaluated, and two API tokens."""
    call_command("load_questionnaire_templates", stdout=io.StringIO())
    admin = UserFactory(username="fuzz-admin", role=Role.ADMIN)
    auditor = UserFactory(username="fuzz-auditor", role=Role.AUDITOR)
    auditor.access_expires_on = datetime.date(2099, 1, 1)
    auditor.save()
    ceo = PersonFactory(name="Carol CEO", email="ceo@example.com", user=admin)
    vp = PersonFactory(name="Alice VP", email="vp@example.com", parent=ceo)
    PersonFactory(name="Ann Lead", email="ann@example.com", parent=vp)
    campaign = campaign_create(
        name="Fuzzed census", version=TemplateVersion.objects.order_by("id").first(), scope=ceo, owner=admin,
        due_date=datetime.date(2099, 1, 31), cascade=True,
    )
    campaign_launch(campaign=campaign, user=admin)
    vm_list = Question.objects.get(section__version=campaign.version, key="vm_list")
    DeclaredVMFactory(assignment=Assignment.objects.get(campaign=campaign, person=vp), question=vm_list,
                      name="desk01", platform="", purpose="", status="")
    source = SourceFactory(name="vc-fuzz")
    ScanRunFactory(source=source)
    vm = VirtualMachineFactory(host=HostFactory(cluster__datacenter__source=source))
    VMChangeFactory(vm=vm)
    catalogs_load()
    controls_load()
    controls_evaluate(trigger=EvaluationTrigger.COMMAND)
    return {
        "admin": Token.objects.create(user=admin).key,
        "auditor": Token.objects.create(user=auditor).key,
    }


# The admin reads and writes everything: every phase, the coverage phase's boundary and wrong-type cases included.
# The auditor reads everything and may write nothing: generated cases for every operation.
PHASES = {"admin": "examples,coverage,fuzzing", "auditor": "examples,fuzzing"}


def _schemathesis(base_url: str, token: str, phases: str, workdir: Path) -> subprocess.CompletedProcess:
    # Two workers halve the time on PostgreSQL; SQLite takes one writer at a time, so two would only wait.
    workers = "2" if connection.vendor == "postgresql" else "1"
    command = [
        str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG), "run", f"{base_url}/api/v1/schema/",
        "--url", f"{base_url}/", "--header", f"Authorization: Token {token}", "--checks", "all",
        "--phases", phases, "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
        "--generation-deterministic", "--workers", workers, "--no-color",
    ]
    # In a folder of its own: schemathesis keeps a cache of past failures in its working directory, and a run
    # must not depend on an earlier one.
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=workdir)


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_the_api_keeps_to_its_schema(estate, live_server, role, capsys, tmp_path):
    started = time.monotonic()
    result = _schemathesis(live_server.url, estate[role], PHASES[role], tmp_path)
    seconds = time.monotonic() - started
    cases = re.search(r"(\d+) generated, .*", result.stdout)
    with capsys.disabled():
        print(f"\nschemathesis as {role} ({PHASES[role]}) in {seconds:.0f} s: "
              f"{cases[0] if cases else 'no test case ran'}")
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]
    assert cases is not None and int(cases[1]) > 0
