"""Every URL pattern declares who may use it, and the declaration is enforced for every role.

The walk covers every pattern the URLconf has, so a new page or endpoint without
``allowed_roles`` fails here. Public pages are the login and password-reset
flow only; the Django admin has its own staff check, tested at the end.
"""

import datetime

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from compliance.choices import DecisionOutcome, Implementation, RequirementKind
from compliance.models import ControlTest
from compliance.services.applicability import addressable_decision_set, applicability_set
from compliance.services.attestations import control_test_record
from compliance.services.evidence_requests import evidence_request_answer, evidence_request_create
from compliance.services.exceptions import exception_request
from compliance.services.plans import SECTION_FIELDS, plan_version_create
from inventory.choices import ActionBatchState, ActionKind, PolicyKind
from inventory.models import ActionBatch, Baseline, Finding, Policy
from inventory.services.policies import policies_load
from portal.choices import Role
from portal.services.audit import audit_log
from questionnaires.choices import QuestionKind, ReconciliationTrigger
from questionnaires.models import ReconciliationItem
from questionnaires.services.reconciliation import reconciliation_run
from tests.compliance.factories import (
    ControlEvaluationFactory,
    ControlFactory,
    ControlMappingFactory,
    EvidencePackFactory,
    FrameworkGrantFactory,
    RequirementFactory,
)
from tests.factories import (
    AreaMappingFactory,
    DeploymentRequestFactory,
    HostFactory,
    PersonFactory,
    ScanRunFactory,
    SourceFactory,
    VirtualMachineFactory,
)
from tests.questionnaires.factories import AssignmentFactory, CampaignFactory, QuestionFactory, SectionFactory

PUBLIC_URL_NAMES = {
    "login", "logout", "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
}
ROLES = [role.value for role in Role]


def _walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            assert pattern.name, f"URL pattern {pattern.pattern} has no name: name it so it can be checked"
            yield f"{namespace}{pattern.name}", pattern


def all_url_names() -> list[str]:
    return sorted({name for name, _ in _walk(get_resolver().url_patterns)})


@pytest.fixture
def sample_kwargs(org, role_users, settings, tmp_path):
    """A real object for every URL keyword, so detail pages answer 200 to those allowed.

    ``"*"`` holds the value of each keyword for every URL; a URL name may override some
    (``pk`` is a person on people pages, a VM on VM pages, a source on source pages ...).
    """
    event = audit_log(action="test.sample", actor=role_users[Role.ADMIN])
    source = SourceFactory(name="vc-sample")
    run = ScanRunFactory(source=source)
    # A campaign headed by the security admin's person, with a part delegated to the manager's person: each role
    # reads the manager's part (the assignee, the manager above, the oversight roles); the officer owns it.
    head_person = PersonFactory(user=role_users[Role.SECURITY_ADMIN])
    part_person = PersonFactory(parent=head_person, user=role_users[Role.MANAGER])
    # The manager's own VM: managers read the VMs of their part of the organisation.
    vm = VirtualMachineFactory(host=HostFactory(cluster__datacenter__source=source), owner=part_person)
    vm_list = QuestionFactory(kind=QuestionKind.VM_LIST)
    campaign = CampaignFactory(
        version=vm_list.section.version, scope=head_person, owner=role_users[Role.COMPLIANCE_OFFICER]
    )
    head = AssignmentFactory(campaign=campaign, person=head_person)
    part = AssignmentFactory(campaign=campaign, person=part_person, parent=head)
    SectionFactory(version=campaign.version)
    requirement = RequirementFactory(version__framework__slug="hipaa")
    specification = RequirementFactory(
        version=requirement.version, kind=RequirementKind.IMPLEMENTATION_SPECIFICATION,
        implementation=Implementation.ADDRESSABLE,
    )
    applicability = applicability_set(requirement=requirement, applicable=True, justification="",
                                      user=role_users[Role.COMPLIANCE_OFFICER])
    decision = addressable_decision_set(requirement=specification, outcome=DecisionOutcome.IMPLEMENTED,
                                        user=role_users[Role.COMPLIANCE_OFFICER])
    plan = plan_version_create(
        user=role_users[Role.COMPLIANCE_OFFICER], sections={field: "A section." for field in SECTION_FIELDS},
        change_summary="First.", review_due_on=datetime.date.today() + datetime.timedelta(days=100),
        stakeholders=[part_person],
    )
    exception = exception_request(user=role_users[Role.SECURITY_ADMIN], requirement=requirement, reason="Legacy.",
                                  expires_on=datetime.date.today() + datetime.timedelta(days=30))
    # Governance: the shipped policies and baselines, a finding on the manager's VM and a batch on it.
    policies_load()
    rogue = Policy.objects.get(kind=PolicyKind.ROGUE)
    finding = Finding.objects.create(policy=rogue, vm=vm, kind=rogue.kind, opened_at=timezone.now(),
                                     state_changed_at=timezone.now(), evidence={"summary": "no approval"})
    batch = ActionBatch.objects.create(policy=rogue, action=ActionKind.POWER_OFF, state=ActionBatchState.DRY_RUN,
                                       proposed_by=role_users[Role.SECURITY_ADMIN], proposed_at=timezone.now())
    evaluation = ControlEvaluationFactory()
    # An attested control owned by the manager's person, with a recorded test and its evidence file.
    settings.MEDIA_ROOT = tmp_path
    attested = ControlFactory(metric="", threshold=None, owner=part_person)
    test = ControlTest.objects.create(control=attested, due_on=datetime.date.today(), created_at=timezone.now())
    control_test_record(test=test, user=role_users[Role.COMPLIANCE_OFFICER], result="passed", note="",
                        files=[("report.txt", b"All good.")],
                        expires_on=datetime.date.today() + datetime.timedelta(days=90))
    control_urls = ["control_detail", "control_evaluations_csv", "control_evaluations_xlsx"]
    # The manager's submitted request for their VM: every role may read it, security admins decide it.
    deployment_request = DeploymentRequestFactory(
        requested_by=role_users[Role.MANAGER], requester=part_person, owner=part_person, state="submitted", vm=vm
    )
    # A ready HIPAA pack the auditor was granted, and a request of the auditor's answered with a file.
    pack = EvidencePackFactory(framework=requirement.version.framework)
    FrameworkGrantFactory(auditor=role_users[Role.AUDITOR], framework=pack.framework,
                          granted_by=role_users[Role.COMPLIANCE_OFFICER])
    evidence = evidence_request_create(user=role_users[Role.AUDITOR], framework=pack.framework, title="Scan logs",
                                       due_date=datetime.date.today(), requirement=requirement)
    answer = evidence_request_answer(request=evidence, user=role_users[Role.COMPLIANCE_OFFICER], note="Attached",
                                     file_name="logs.txt", file_content=b"scan log\n")
    # Reconciled: the manager's VM is undeclared, routed to the manager, whom every role may read it of.
    recon_run = reconciliation_run(campaign=campaign, trigger=ReconciliationTrigger.COMMAND)
    campaign_urls = ["campaign_detail", "campaign_edit", "campaign_delete",
                     "campaign_launch", "campaign_close", "campaign_reopen", "export_vms_csv",
                     "export_answers_csv", "export_xlsx", "reconciliation", "reconciliation_answer",
                     "reconciliation_route", "reconciliation_run", "reconciliation_export_csv",
                     "reconciliation_export_xlsx"]
    assignment_urls = ["assignment", "assignment_children", "assignment_delegate", "assignment_submit",
                       "assignment_review", "assignment_answer_for", "assignment_reassign"]
    return {
        **{f"questionnaires:{name}": {"pk": campaign.pk} for name in campaign_urls},
        **{f"questionnaires:{name}": {"pk": part.pk} for name in assignment_urls},
        "questionnaires:assignment_section": {"pk": part.pk, "section_id": vm_list.section_id},
        "questionnaires:assignment_vms": {"pk": part.pk, "question_id": vm_list.pk},
        "inventory:area_mapping_delete": {"pk": AreaMappingFactory().pk},
        "*": {"pk": org["vp_a"].pk, "sequence": event.sequence, "uidb64": "MQ", "token": "set-password"},
        "inventory:vm_detail": {"pk": vm.pk},
        "inventory:vm_request_add": {"pk": vm.pk},
        "inventory:request_detail": {"pk": deployment_request.pk},
        **{f"api:deploymentrequest-{name}": {"pk": deployment_request.pk} for name in (
            "detail", "submit", "approve", "reject", "withdraw", "link-vm",
        )},
        "inventory:source_detail": {"pk": source.pk},
        "inventory:source_edit": {"pk": source.pk},
        "inventory:source_scan": {"pk": source.pk},
        "inventory:source_progress": {"pk": source.pk},
        "inventory:scan_detail": {"pk": run.pk},
        "inventory:finding_detail": {"pk": finding.pk},
        "inventory:policy_detail": {"pk": rogue.pk},
        "inventory:baseline_detail": {"pk": Baseline.objects.order_by("pk").first().pk},
        "inventory:action_batch_detail": {"pk": batch.pk},
        "api:finding-detail": {"pk": finding.pk},
        "api:finding-acknowledge": {"pk": finding.pk},
        "api:finding-except": {"pk": finding.pk},
        "api:policy-detail": {"pk": rogue.pk},
        "api:baseline-detail": {"pk": Baseline.objects.order_by("pk").first().pk},
        "api:vm-detail": {"pk": vm.pk},
        "api:vm-history": {"pk": vm.pk},
        "api:source-detail": {"pk": source.pk},
        "api:scanrun-detail": {"pk": run.pk},
        **{f"api:campaign-{name}": {"pk": campaign.pk} for name in ("detail", "launch", "close", "reopen", "progress")},
        **{f"api:assignment-{name}": {"pk": part.pk} for name in (
            "detail", "delegate", "submit", "review", "answer-for", "reassign", "answers", "declared-vms",
        )},
        "api:questionnairetemplate-detail": {"pk": campaign.version.template_id},
        "api:reconciliationrun-detail": {"pk": recon_run.pk},
        "api:reconciliationitem-detail": {"pk": ReconciliationItem.objects.get(vm=vm).pk},
        "compliance:framework_detail": {"slug": requirement.version.framework.slug},
        "compliance:framework_oscal": {"slug": requirement.version.framework.slug},
        "api:framework-detail": {"slug": requirement.version.framework.slug},
        "api:requirement-detail": {"pk": requirement.pk},
        **{f"compliance:{name}": {"slug": "hipaa"} for name in (
            "applicability_list", "applicability_export_csv", "applicability_export_xlsx")},
        "compliance:applicability_edit": {"pk": requirement.pk},
        "compliance:decision_edit": {"pk": specification.pk},
        "compliance:plan_version": {"number": plan.number},
        "compliance:plan_signoff": {"number": plan.number},
        "api:planversion-detail": {"number": plan.number},
        "api:planversion-signoff": {"number": plan.number},
        "compliance:exception_detail": {"pk": exception.pk},
        "compliance:test_detail": {"pk": test.pk},
        "api:controltest-detail": {"pk": test.pk},
        "api:evidence-detail": {"pk": test.evidence_files.get().pk},
        "api:evidence-download": {"pk": test.evidence_files.get().pk},
        "compliance:evidence_download": {"pk": test.evidence_files.get().pk},
        "api:riskexception-detail": {"pk": exception.pk},
        "api:riskexception-decide": {"pk": exception.pk},
        "api:applicability-detail": {"pk": applicability.pk},
        "api:addressabledecision-detail": {"pk": decision.pk},
        **{f"compliance:{name}": {"code": evaluation.control.code} for name in control_urls},
        "compliance:evaluation_detail": {"pk": evaluation.pk},
        "api:control-detail": {"code": evaluation.control.code},
        "api:controlmapping-detail": {"pk": ControlMappingFactory(control=evaluation.control).pk},
        "api:controlevaluation-detail": {"pk": evaluation.pk},
        **{f"compliance:{name}": {"pk": pack.pk} for name in ("pack_detail", "pack_progress", "pack_pdf",
                                                               "pack_manifest")},
        "compliance:request_detail": {"pk": evidence.pk},
        "compliance:request_file": {"pk": evidence.pk, "response_id": answer.pk},
    }


def _url(name: str, sample_kwargs: dict) -> str:
    pattern = dict(_walk(get_resolver().url_patterns))[name]
    keywords = list(pattern.pattern.converters) or list(pattern.pattern.regex.groupindex)
    values = {**sample_kwargs["*"], **sample_kwargs.get(name, {})}
    missing = [keyword for keyword in keywords if keyword not in values]
    assert not missing, f"{name}: add a sample value for {missing} to sample_kwargs"
    return reverse(name, kwargs={keyword: values[keyword] for keyword in keywords})


def _declared_roles(url: str) -> tuple[frozenset | None, frozenset]:
    func = resolve(url).func
    view = getattr(func, "view_class", None) or getattr(func, "cls", None)
    return getattr(view, "allowed_roles", None), getattr(view, "write_roles", frozenset())


def test_the_walk_sees_the_portal_urls():
    names = all_url_names()
    assert {"dashboard", "people:org_chart", "audit:list", "api:person-list", "api:schema", "login"} <= set(names)
    assert {"inventory:vm_list", "inventory:source_scan", "api:vm-history", "api:source-list"} <= set(names)
    assert {"inventory:source_add", "inventory:source_edit"} <= set(names)
    assert {"inventory:request_list", "inventory:request_add", "inventory:request_review", "inventory:request_detail",
            "inventory:vm_request_add", "api:deploymentrequest-list", "api:deploymentrequest-approve"} <= set(names)
    assert {"questionnaires:my", "questionnaires:assignment", "questionnaires:campaign_detail"} <= set(names)
    assert {"compliance:framework_list", "compliance:framework_detail", "api:requirement-list"} <= set(names)
    assert {"compliance:control_list", "compliance:control_detail", "compliance:dashboard",
            "compliance:evaluation_detail", "api:control-list", "api:controlevaluation-list"} <= set(names)
    assert {"compliance:pack_list", "compliance:pack_pdf", "compliance:grant_list", "compliance:request_list",
            "compliance:request_export"} <= set(names)


@pytest.mark.parametrize("name", all_url_names())
def test_every_url_declares_and_enforces_its_roles(name, sample_kwargs, client, client_for):
    url = _url(name, sample_kwargs)
    allowed, writers = _declared_roles(url)
    if name in PUBLIC_URL_NAMES:
        assert allowed is None, f"{name} is public but declares roles"
        return
    assert allowed, f"{name} ({url}) declares no allowed_roles: every view must say who may use it"
    is_api = url.startswith("/api/")

    anonymous = client.get(url)
    if is_api:
        assert anonymous.status_code in (401, 403), f"anonymous GET {url}: {anonymous.status_code}"
    else:
        assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login")), url

    # An API action that only takes POST answers GET with 405 once the role check has let the caller in.
    actions = getattr(resolve(url).func, "actions", None)
    read_status = 200 if actions is None or "get" in actions else 405
    for role in [*ROLES, "none"]:
        response = client_for(role).get(url)
        if role in allowed:
            assert response.status_code == read_status, f"{role} GET {url}: {response.status_code}"
        else:
            assert response.status_code == 403, f"{role} GET {url}: {response.status_code}, expected 403"
        if role not in writers:
            posted = client_for(role).post(url, {})
            assert posted.status_code in (403, 405), f"{role} POST {url}: {posted.status_code}, expected 403"


@pytest.mark.parametrize("role", [*ROLES, "none"])
def test_admin_site_is_for_admins_only(role, client, client_for):
    assert client.get("/admin/").status_code == 302
    response = client_for(role).get("/admin/portal/person/")
    if role == Role.ADMIN:
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
