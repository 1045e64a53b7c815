"""The pack pages as each role meets them: officers build, auditors read granted frameworks while their access
lasts and draw samples, managers see nothing; evidence requests go back and forth and export to xlsx."""

import datetime
import io

import openpyxl
import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from compliance.choices import EvidenceRequestState, PackState
from compliance.models import EvidencePack, EvidenceRequest, EvidenceResponse, FrameworkGrant, PackSample
from compliance.services.sampling import sample_draw
from portal.choices import NotificationKind, Role
from portal.models import AuditEvent, Notification
from tests.compliance.factories import EvidencePackFactory, FrameworkGrantFactory, RequirementFactory
from tests.factories import PersonFactory, VirtualMachineFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()


@pytest.fixture
def hipaa_pack(role_users):
    requirement = RequirementFactory(version__framework__slug="hipaa", citation="164.312(b)")
    return EvidencePackFactory(framework=requirement.version.framework,
                               manifest={"population_ids": list(range(1, 101)), "tables": [], "attachments": []})


@pytest.fixture
def granted(role_users, hipaa_pack):
    return FrameworkGrantFactory(auditor=role_users[Role.AUDITOR], framework=hipaa_pack.framework,
                                 granted_by=role_users[Role.COMPLIANCE_OFFICER])


def test_the_officer_asks_for_a_pack_and_the_build_runs_once_it_commits(shipped_catalogs, client_for):
    VirtualMachineFactory(data_categories=["ephi"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client_for(Role.COMPLIANCE_OFFICER).post(reverse("compliance:pack_list"), {
            "framework": "hipaa", "period_start": TODAY - datetime.timedelta(days=30), "period_end": TODAY,
            "sample_size": 5})
    pack = EvidencePack.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("compliance:pack_detail", args=[pack.pk])
    assert pack.state == PackState.READY and pack.built_by_label == str(pack.built_by)
    page = client_for(Role.COMPLIANCE_OFFICER).get(reverse("compliance:pack_progress", args=[pack.pk]))
    assert pack.pdf_sha256 in page.content.decode() and "data-polling" not in page.content.decode()


@pytest.mark.parametrize("data, message", [
    ({"framework": "hipaa", "period_start": TODAY, "period_end": TODAY - datetime.timedelta(days=1),
      "sample_size": 5}, "The end is before the start."),
    ({"framework": "hipaa", "period_start": TODAY, "period_end": TODAY, "as_of": TODAY + datetime.timedelta(days=2),
      "sample_size": 5}, "as of: the date is in the future"),
    ({"framework": "nist-800-53", "period_start": TODAY, "period_end": TODAY, "sample_size": 5},
     "Select a valid choice"),
    ({"framework": "hipaa", "period_start": "yesterday", "period_end": TODAY, "sample_size": 5}, "Enter a valid date"),
])
def test_a_bad_pack_request_is_a_form_error_and_queues_nothing(shipped_catalogs, client_for, data, message):
    response = client_for(Role.COMPLIANCE_OFFICER).post(reverse("compliance:pack_list"), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not EvidencePack.objects.exists()


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN, Role.SECURITY_ADMIN, Role.MANAGER])
def test_only_compliance_officers_build_packs(shipped_catalogs, client_for, role):
    response = client_for(role).post(reverse("compliance:pack_list"), {
        "framework": "hipaa", "period_start": TODAY, "period_end": TODAY, "sample_size": 5})
    assert response.status_code == 403
    assert not EvidencePack.objects.exists()


def test_a_building_pack_polls_and_a_failed_one_says_why(hipaa_pack, client_for):
    EvidencePack.objects.filter(pk=hipaa_pack.pk).update(state=PackState.BUILDING, pdf=None, pdf_sha256="",
                                                         progress=40, progress_step="Reading: Audit sampling")
    officer = client_for(Role.COMPLIANCE_OFFICER)
    page = officer.get(reverse("compliance:pack_progress", args=[hipaa_pack.pk])).content.decode()
    assert "data-polling" in page and "40 %" in page and "Audit sampling" in page
    assert officer.get(reverse("compliance:pack_pdf", args=[hipaa_pack.pk])).status_code == 404

    EvidencePack.objects.filter(pk=hipaa_pack.pk).update(state=PackState.FAILED, failure_reason="out of memory")
    page = officer.get(reverse("compliance:pack_detail", args=[hipaa_pack.pk])).content.decode()
    assert "The build failed: out of memory" in page and "Download the PDF" not in page


def test_an_auditor_reads_granted_frameworks_only_and_each_download_is_audited(hipaa_pack, granted, client_for):
    sox_pack = EvidencePackFactory(framework__slug="sox", framework__name="SOX ITGC")
    auditor = client_for(Role.AUDITOR)

    listing = auditor.get(reverse("compliance:pack_list")).content.decode()
    assert f'data-pack="{hipaa_pack.pk}"' in listing and f'data-pack="{sox_pack.pk}"' not in listing
    assert auditor.get(reverse("compliance:pack_detail", args=[sox_pack.pk])).status_code == 404
    assert auditor.get(reverse("compliance:pack_pdf", args=[sox_pack.pk])).status_code == 404

    download = auditor.get(reverse("compliance:pack_pdf", args=[hipaa_pack.pk]))
    assert download.status_code == 200 and download.content == bytes(hipaa_pack.pdf)
    assert download["X-Content-SHA256"] == hipaa_pack.pdf_sha256
    auditor.get(reverse("compliance:pack_manifest", args=[hipaa_pack.pk]))
    events = AuditEvent.objects.filter(action="pack.downloaded").order_by("sequence")
    assert [(e.actor.username, e.details["what"], e.details["pdf_sha256"]) for e in events] == [
        ("auditor", "pdf", hipaa_pack.pdf_sha256), ("auditor", "manifest", hipaa_pack.pdf_sha256)]


def test_an_auditor_whose_access_ended_or_whose_grant_was_revoked_reads_nothing(hipaa_pack, granted, client_for,
                                                                                 role_users):
    auditor = client_for(Role.AUDITOR)
    granted.revoked_at = timezone.now()
    granted.save()
    assert auditor.get(reverse("compliance:pack_pdf", args=[hipaa_pack.pk])).status_code == 404

    FrameworkGrantFactory(auditor=role_users[Role.AUDITOR], framework=hipaa_pack.framework,
                          granted_by=role_users[Role.COMPLIANCE_OFFICER])
    role_users[Role.AUDITOR].access_expires_on = TODAY - datetime.timedelta(days=1)
    role_users[Role.AUDITOR].save()
    response = client_for(Role.AUDITOR).get(reverse("compliance:pack_pdf", args=[hipaa_pack.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not AuditEvent.objects.filter(action="pack.downloaded").exists()


@pytest.mark.parametrize("role", [Role.MANAGER, "none"])
def test_managers_see_no_pack(hipaa_pack, client_for, role):
    assert client_for(role).get(reverse("compliance:pack_list")).status_code == 403
    assert client_for(role).get(reverse("compliance:pack_pdf", args=[hipaa_pack.pk])).status_code == 403


def test_an_auditor_draws_a_sample_again_and_the_same_seed_draws_the_same_vms(hipaa_pack, granted, client_for):
    auditor = client_for(Role.AUDITOR)
    url = reverse("compliance:pack_detail", args=[hipaa_pack.pk])

    assert auditor.post(url, {"size": 10}).status_code == 302
    first = PackSample.objects.get()
    assert auditor.post(url, {"size": 10, "seed": first.seed}).status_code == 302
    again = PackSample.objects.exclude(pk=first.pk).get()

    assert first.vm_ids == again.vm_ids == sample_draw(population_ids=list(range(1, 101)), seed=first.seed, size=10)
    assert len(set(first.vm_ids)) == 10 and first.drawn_by.username == "auditor"
    assert AuditEvent.objects.filter(action="pack.sample_drawn").count() == 2
    page = auditor.get(url).content.decode()
    assert str(first.seed) in page and ", ".join(map(str, first.vm_ids)) in page

    refused = auditor.post(url, {"size": 0})
    assert refused.status_code == 400 and PackSample.objects.count() == 2


def test_grants_are_given_by_compliance_officers_to_auditors_with_an_end_date(hipaa_pack, client_for, role_users):
    url = reverse("compliance:grant_list")
    granting = client_for(Role.COMPLIANCE_OFFICER).post(url, {"auditor": "auditor", "framework": "hipaa"})
    assert granting.status_code == 302
    grant = FrameworkGrant.objects.get()
    assert grant.granted_by == role_users[Role.COMPLIANCE_OFFICER] and grant.revoked_at is None
    assert client_for(Role.ADMIN).post(url, {"revoke": grant.pk}).status_code == 403

    refused = client_for(Role.COMPLIANCE_OFFICER).post(url, {"auditor": "manager", "framework": "hipaa"})
    assert refused.status_code == 400 and FrameworkGrant.objects.count() == 1

    client_for(Role.COMPLIANCE_OFFICER).post(url, {"revoke": grant.pk})
    grant.refresh_from_db()
    assert grant.revoked_at is not None


def test_the_pack_list_reads_a_fixed_number_of_queries(hipaa_pack, client_for, django_assert_max_num_queries):
    for _ in range(15):
        EvidencePackFactory(framework=hipaa_pack.framework)
    officer = client_for(Role.COMPLIANCE_OFFICER)
    with django_assert_max_num_queries(10):
        page = officer.get(reverse("compliance:pack_list"))
    assert page.content.decode().count("data-pack=") == 16


# --- evidence requests ------------------------------------------------------------------------------------------


def test_an_evidence_request_goes_from_the_auditor_to_the_client_and_back(hipaa_pack, granted, client_for,
                                                                          role_users):
    PersonFactory(user=role_users[Role.COMPLIANCE_OFFICER])
    PersonFactory(user=role_users[Role.AUDITOR])
    auditor, officer = client_for(Role.AUDITOR), client_for(Role.COMPLIANCE_OFFICER)

    filed = auditor.post(reverse("compliance:request_list"), {
        "framework": "hipaa", "control": "164.312(b)", "title": "Audit log review records", "due_date": TODAY})
    evidence = EvidenceRequest.objects.get()
    assert filed.status_code == 302 and evidence.requirement.citation == "164.312(b)"
    assert Notification.objects.filter(kind=NotificationKind.EVIDENCE_REQUEST,
                                       person__user=role_users[Role.COMPLIANCE_OFFICER]).exists()

    url = reverse("compliance:request_detail", args=[evidence.pk])
    content = b"%PDF-1.4 review log"
    upload = io.BytesIO(content)
    upload.name = "review.pdf"
    assert officer.post(url, {"note": "The weekly review", "file": upload}).status_code == 302
    evidence.refresh_from_db()
    assert evidence.state == EvidenceRequestState.ANSWERED
    assert Notification.objects.filter(kind=NotificationKind.EVIDENCE_REQUEST_ANSWERED).count() == 1

    assert auditor.post(url, {"decision": "ask_again", "note": ""}).status_code == 400
    assert auditor.post(url, {"decision": "ask_again", "note": "Only one week: send the quarter"}).status_code == 302
    evidence.refresh_from_db()
    assert evidence.state == EvidenceRequestState.ASKED_AGAIN
    officer.post(url, {"note": "The quarter's reviews"})
    auditor.post(url, {"decision": "accept"})
    evidence.refresh_from_db()
    assert evidence.state == EvidenceRequestState.ACCEPTED and evidence.closed_at is not None

    sent = EvidenceResponse.objects.exclude(file_name="").get()
    download = auditor.get(reverse("compliance:request_file", args=[evidence.pk, sent.pk]))
    assert download.content == content and download["Content-Disposition"] == 'attachment; filename="review.pdf"'

    export = auditor.get(reverse("compliance:request_export"))
    sheet = openpyxl.load_workbook(io.BytesIO(export.content))["PBC list"]
    header, row = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert header[:8] == ["Request #", "Framework", "Control / item", "Request", "Requested by", "Date requested",
                          "Due date", "Status"]
    assert row[2] == "164.312(b)" and row[7] == "Accepted" and "review.pdf" in row[10]
    assert row[11] == "Only one week: send the quarter"


@pytest.mark.parametrize("name, content, message", [
    ("run.exe", b"MZ", "is not a PDF, PNG, JPEG, CSV, XLSX or TXT file"),
    ("fake.pdf", b"<html><body>hi</body></html>", "is named .pdf but its content is HTML"),
    ("empty.csv", b"", "The submitted file is empty"),
])
def test_a_bad_answer_file_is_refused_naming_why_and_nothing_changes(hipaa_pack, granted, client_for, role_users,
                                                                     name, content, message):
    evidence = EvidenceRequest.objects.create(
        framework=hipaa_pack.framework, requirement=hipaa_pack.framework.versions.get().requirements.get(),
        title="Logs", due_date=TODAY, requested_by=role_users[Role.AUDITOR], requested_at=timezone.now())
    upload = io.BytesIO(content)
    upload.name = name
    response = client_for(Role.COMPLIANCE_OFFICER).post(
        reverse("compliance:request_detail", args=[evidence.pk]), {"note": "here", "file": upload})
    assert response.status_code == 400 and message in response.content.decode()
    evidence.refresh_from_db()
    assert evidence.state == EvidenceRequestState.OPEN and not EvidenceResponse.objects.exists()


@pytest.mark.parametrize("data, message", [
    ({"control": "", "vm": ""}, "name a control or a VM"),
    ({"control": "999.9", "vm": ""}, "has no requirement"),
    ({"control": "", "vm": "no-such-vm"}, "no VM is named"),
    ({"control": "164.312(b)", "due_date": TODAY - datetime.timedelta(days=1)}, "the due date is in the past"),
])
def test_a_bad_request_is_refused_and_nothing_is_filed(hipaa_pack, granted, client_for, data, message):
    response = client_for(Role.AUDITOR).post(reverse("compliance:request_list"), {
        "framework": "hipaa", "title": "Logs", "due_date": TODAY, **data})
    assert response.status_code == 400 and message in response.content.decode()
    assert not EvidenceRequest.objects.exists()


def test_an_auditor_files_no_request_on_a_framework_not_granted(hipaa_pack, client_for):
    response = client_for(Role.AUDITOR).post(reverse("compliance:request_list"), {
        "framework": "hipaa", "control": "164.312(b)", "title": "Logs", "due_date": TODAY})
    assert response.status_code == 400 and not EvidenceRequest.objects.exists()
