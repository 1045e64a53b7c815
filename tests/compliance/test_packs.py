"""Evidence packs: one hashed PDF per framework and period, read back as an auditor reads it."""

import datetime
import io
import json

import pypdf
import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase
from django.utils import timezone

from compliance.choices import PackState
from compliance.models import Applicability, ControlTest, EvidencePack, Framework, Requirement, RiskException
from compliance.pack_sections import sha256_hex
from compliance.services.catalogs import catalogs_load
from compliance.services.packs import PackRefused, pack_build, pack_request, pack_verify
from compliance.services.sampling import sample_draw
from compliance.tasks import pack_build_task
from inventory.models import DeploymentApproval, Finding, Policy
from inventory.services.policies import policies_load
from portal.models import AuditAnchor, AuditEvent
from questionnaires.choices import ReconciliationTrigger
from questionnaires.services.reconciliation import reconciliation_run
from tests.compliance.factories import ControlEvaluationFactory, ControlFactory, ControlMappingFactory
from tests.factories import DeploymentRequestFactory, PersonFactory, VirtualMachineFactory
from tests.portal import test_pdf
from tests.questionnaires.factories import AssignmentFactory, CampaignFactory, DeclaredVMFactory
from tests.task_log import task_log

pytestmark = pytest.mark.django_db

# A real HTTP server on a free port that records every request made of it.
listener = test_pdf.listener
TODAY = datetime.date.today()
START = TODAY - datetime.timedelta(days=90)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def flat(text: str) -> str:
    """The text without white space: table cells wrap (a citation, a hash) wherever the column ends."""
    return "".join(text.split())


@pytest.fixture
def estate(shipped_catalogs):
    """Four ePHI VMs, one financial VM, one with no category, a template; a campaign of the period."""
    owner = PersonFactory(name="Olga Owner", department="Radiology")
    ephi = [VirtualMachineFactory(name=f"ehr-{n}", data_categories=["ephi"], owner=owner) for n in range(4)]
    ledger = VirtualMachineFactory(name="ledger", data_categories=["financial_reporting"])
    VirtualMachineFactory(name="scratch")
    VirtualMachineFactory(name="golden", is_template=True, data_categories=["ephi"])
    campaign = CampaignFactory(name="Q3 census")
    assignment = AssignmentFactory(campaign=campaign, person=owner)
    DeclaredVMFactory(assignment=assignment, name="ehr-0", notes="runs the EHR")
    return {"ephi": ephi, "ledger": ledger, "campaign": campaign, "assignment": assignment}


def _evidence(pack: EvidencePack) -> dict:
    """The rows of every table, as attached to the PDF."""
    return json.loads(pypdf.PdfReader(io.BytesIO(bytes(pack.pdf))).attachments["evidence.json"][0])


def build(**kwargs) -> EvidencePack:
    """Ask for a pack; the build task runs (eagerly) once the request commits."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        pack = pack_request(framework_slug=kwargs.pop("framework", "hipaa"), period_start=START, period_end=TODAY,
                            actor_label="test", **kwargs)
    pack.refresh_from_db()
    return pack


def test_a_pack_is_built_once_with_every_section_and_a_manifest_that_verifies(estate, role_users):
    reconciliation_run(campaign=estate["campaign"], trigger=ReconciliationTrigger.COMMAND)
    request = DeploymentRequestFactory(state="approved", vm=estate["ephi"][0], submitted_at=timezone.now(),
                                       decided_at=timezone.now())
    DeploymentApproval.objects.create(request=request, approver=role_users["security_admin"], decision="approve",
                                      at=timezone.now())

    control = ControlFactory(code="VMC-90", title="Audit log review", test_procedure="Read the weekly review log.")
    ControlMappingFactory(control=control, target=Requirement.objects.get(
        version__framework__slug="nist-800-53", citation="AU-6"), framework=Framework.objects.get(slug="nist-800-53"))
    week_ago = timezone.now() - datetime.timedelta(days=7)
    ControlEvaluationFactory(control=control, scope="hipaa", evaluated_at=week_ago, summary="97 of 100 approved")
    ControlEvaluationFactory(control=control, scope="hipaa", status="deficient", value=80,
                             summary="80 of 100 approved")

    group_plans = Requirement.objects.get(version__framework__slug="hipaa", citation="164.314(b)(1)")
    Applicability.objects.create(requirement=group_plans, applicable=False, justification="We sponsor no group plan",
                                 decided_by=role_users["compliance_officer"], decided_at=timezone.now())
    RiskException.objects.create(control=control, reason="Log tool replaced in Q4", status="approved",
                                 expires_on=TODAY + datetime.timedelta(days=30), requested_by=role_users["admin"],
                                 requested_at=timezone.now(), decided_by=role_users["compliance_officer"],
                                 decided_at=timezone.now())
    ControlTest.objects.create(control=control, due_on=TODAY, status="passed", note="Reviewed the weekly log",
                               performed_by=role_users["security_admin"], performed_at=timezone.now(),
                               created_at=timezone.now())

    policies_load()
    Finding.objects.create(policy=Policy.objects.get(kind="off_baseline"), vm=estate["ephi"][1], kind="off_baseline",
                           opened_at=timezone.now() - datetime.timedelta(days=10),
                           state_changed_at=timezone.now() - datetime.timedelta(days=10))

    pack = build(sample_size=4, sample_seed=7)

    assert pack.state == PackState.READY
    assert pack.pdf_sha256 == sha256_hex(bytes(pack.pdf))
    text = text_of(bytes(pack.pdf))
    for heading in ("HIPAA", "Contents", "Scope", "Summary of requirements", "Inventory and reconciliation",
                    "Audit sampling", "Questionnaire completion", "Audit trail", "Manifest"):
        assert heading in text
    assert "164.308(a)(1)(ii)(A)" in flat(text) and "Q3 census" in text and "Radiology" in text
    in_scope = {vm.pk for vm in estate["ephi"]}
    assert set(pack.manifest["population_ids"]) == in_scope
    assert pack.manifest["sample"] == {"seed": 7, "size": 4, "vm_ids": sample_draw(
        population_ids=list(in_scope), seed=7, size=4)}
    assert f"#{request.pk} approved" in text and f"approved by {role_users['security_admin']}" in text
    assert "Deployment requests submitted in the period" in text
    assert "VMC-90 Audit log review" in text and "Read the weekly review log." in text
    assert "80 of 100 approved" in text and "97 of 100 approved" in text
    assert flat("164.308(a)(1)(ii)(D) Information system activity review") in flat(text)
    requirement_row = next(row for row in _evidence(pack)["requirements"]["rows"] if row[0] == "164.308(a)(1)(ii)(D)")
    # VMC-90 is deficient, but the exception approved on it is in force at the period's end.
    assert requirement_row[4:] == ["VMC-90", "Excepted"]
    assert flat("excepted (an approved exception in force)") in flat(text)
    (findings,) = [row for row in _evidence(pack)["findings"]["rows"] if row[0] == "Off its hardening baseline"]
    assert findings == ["Off its hardening baseline", "Open", 1, 10, 10]
    assert flat("Off its hardening baseline: open since") in flat(text)
    for said in ("We sponsor no group plan", "Log tool replaced in Q4", "Reviewed the weekly log"):
        assert flat(said) in flat(text)
    reader = pypdf.PdfReader(io.BytesIO(bytes(pack.pdf)))
    listed = {entry["name"]: entry["sha256"] for entry in pack.manifest["attachments"]}
    assert {"population.xlsx", "control_evaluations.xlsx", "evidence.json"} <= set(listed)
    for name, (content,) in reader.attachments.items():
        if name != "manifest.json":
            assert sha256_hex(content) == listed[name]
    assert json.loads(reader.attachments["manifest.json"][0]) == pack.manifest
    assert listed["population.xlsx"] in flat(text)
    assert pack_verify(pack=pack) == []
    assert AuditAnchor.objects.count() == 1
    assert pack_build(pack_id=pack.pk).pdf_sha256 == pack.pdf_sha256
    assert AuditEvent.objects.filter(action="pack.built").count() == 1


def test_verify_pack_names_a_changed_byte_of_the_pdf_and_of_the_manifest(estate, capsys):
    pack = build()
    call_command("verify_pack", str(pack.pk))
    assert f"pack {pack.pk} intact" in capsys.readouterr().out

    pdf = bytearray(pack.pdf)
    pdf[len(pdf) // 2] ^= 0x01
    EvidencePack.objects.filter(pk=pack.pk).update(pdf=bytes(pdf))
    with pytest.raises(CommandError, match="does not verify"):
        call_command("verify_pack", str(pack.pk))
    assert "CHANGED: the PDF: its SHA-256 is" in capsys.readouterr().err

    EvidencePack.objects.filter(pk=pack.pk).update(pdf=pack.pdf)
    manifest = {**pack.manifest, "tables": [{**pack.manifest["tables"][0], "rows": 99}, *pack.manifest["tables"][1:]]}
    EvidencePack.objects.filter(pk=pack.pk).update(manifest=manifest)
    pack.refresh_from_db()
    problems = pack_verify(pack=pack)
    assert "the stored manifest: its SHA-256 differs from the one recorded when the pack was built" in problems
    assert "attachment manifest.json: differs from the stored manifest" in problems
    assert any(problem.startswith("table sources (") for problem in problems)


def test_build_pack_prints_the_id_and_hash_and_refuses_a_bad_period(estate, capsys):
    call_command("build_pack", "--framework", "hipaa", "--start", str(START), "--end", str(TODAY))
    pack = EvidencePack.objects.get()
    assert capsys.readouterr().out.strip() == f"pack {pack.pk} {pack.pdf_sha256}"

    with pytest.raises(CommandError, match="period: the start is after the end"):
        call_command("build_pack", "--framework", "hipaa", "--start", str(TODAY), "--end", str(START))
    with pytest.raises(CommandError, match="no regulation 'nist-800-53'"):
        call_command("build_pack", "--framework", "nist-800-53", "--start", str(START), "--end", str(TODAY))
    with pytest.raises(CommandError, match="is not a date"):
        call_command("build_pack", "--framework", "hipaa", "--start", "01/02/2026", "--end", str(TODAY))
    assert EvidencePack.objects.count() == 1


@pytest.mark.parametrize("field, value, message", [
    ("as_of", TODAY + datetime.timedelta(days=1), "as of: the date is in the future"),
    ("as_of", START - datetime.timedelta(days=1), "as of: the date is before the period starts"),
    ("sample_size", 0, "sample size: between 1 and 200"),
])
def test_a_bad_request_is_refused_and_nothing_is_queued(estate, field, value, message):
    with pytest.raises(PackRefused, match=message):
        pack_request(framework_slug="hipaa", period_start=START, period_end=TODAY, **{field: value})
    assert not EvidencePack.objects.exists()


def test_a_build_that_fails_keeps_no_pdf_and_says_why(estate, settings):
    settings.PDF_RENDER_MEMORY_MB = 60

    pack = build()

    assert pack.state == PackState.FAILED
    assert pack.pdf is None and pack.pdf_sha256 == "" and pack.manifest == {}
    assert "rendering the PDF" in pack.failure_reason
    assert AuditEvent.objects.filter(action="pack.failed", object_id=str(pack.pk)).exists()
    assert pack_verify(pack=pack) == [f"pack {pack.pk} is failed, not ready: there is nothing to verify"]


def test_the_same_seed_draws_the_same_sample_and_another_seed_another():
    population = list(range(1, 501))
    first = sample_draw(population_ids=population, seed=42, size=25)
    assert first == sample_draw(population_ids=list(reversed(population)), seed=42, size=25)
    assert len(set(first)) == 25 and set(first) <= set(population)
    assert first != sample_draw(population_ids=population, seed=43, size=25)
    assert sample_draw(population_ids=[3, 1], seed=1, size=25) == [1, 3]


def test_hostile_text_in_an_annotation_and_an_answer_fetches_and_attaches_nothing(estate, listener):
    hostile = (f'<img src="file:///etc/passwd"><link rel="attachment" href="file:///etc/passwd">'
               f'<img src="{listener}/pixel.png"> see {listener}/page')
    vm = estate["ephi"][0]
    vm.annotation = hostile
    vm.save()
    DeclaredVMFactory(assignment=estate["assignment"], name=vm.name, notes=hostile)
    reconciliation_run(campaign=estate["campaign"], trigger=ReconciliationTrigger.COMMAND)

    pack = build(sample_size=4)

    assert pack.state == PackState.READY
    pdf = bytes(pack.pdf)
    assert test_pdf._Counting.hits == []
    assert set(pypdf.PdfReader(io.BytesIO(pdf)).attachments) == {
        entry["name"] for entry in pack.manifest["attachments"]} | {"manifest.json"}
    assert b"root:x:0:0" not in pdf
    text = flat(text_of(pdf))
    assert flat('<img src="file:///etc/passwd">') in text and flat(f"{listener}/pixel.png") in text


@pytest.mark.django_db(transaction=True)
def test_a_pack_delivered_twice_to_a_real_pdf_worker_runs_twice_and_builds_once(worker_app):
    catalogs_load()
    VirtualMachineFactory(data_categories=["ephi"])
    with task_log() as log:
        # One at a time, as a PDF worker runs (each build takes a core); the claim also guards concurrent ones.
        worker = start_worker(worker_app, pool="threads", concurrency=1, perform_ping_check=False,
                              shutdown_timeout=60, queues=["pdf"])
        with worker:
            pack = pack_request(framework_slug="hipaa", period_start=START, period_end=TODAY, actor_label="test")
            pack_build_task.delay(pack.pk)  # a second delivery, as a broker redelivery would make
            log.wait_until(lambda: len(log.outcomes("compliance.pack_build")) == 2, seconds=120)

    outcomes = log.outcomes("compliance.pack_build")
    assert [state for state, _ in outcomes] == ["SUCCESS", "SUCCESS"]
    assert PackState.READY in [result for _, result in outcomes]
    pack.refresh_from_db()
    assert pack.state == PackState.READY and pack_verify(pack=pack) == []
    assert AuditEvent.objects.filter(action="pack.built").count() == 1
    assert AuditAnchor.objects.count() == 1
