"""Evidence requests, the auditor's "provided by client" list: file one, answer it, accept it or ask again.

An auditor files a request on a control (a catalog requirement of a granted framework) or a VM, due on a date;
compliance officers and security admins answer with a note and perhaps a file (checked as control test evidence
is, ``compliance.evidence_files``); the auditor accepts the answer or
asks again. Each turn is an ``EvidenceResponse`` row and an audit event; the other side is told in the inbox.
"""

import datetime
import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from compliance.choices import EvidenceRequestState
from compliance.evidence_files import evidence_file_checked
from compliance.models import EvidenceRequest, EvidenceResponse, Framework, Requirement
from compliance.selectors import latest_versions
from inventory.choices import VMStatus
from inventory.models import VirtualMachine
from portal.choices import NotificationKind, Role
from portal.exports import Export, ExportColumn
from portal.models import Person, User
from portal.services.audit import audit_log
from portal.services.notifications import notification_new, notifications_notify

NOTE_MAX = 10_000
REQUESTS_PATH = "/compliance/requests/"


class EvidenceRequestRefused(ValueError):
    """A request or an answer that cannot be taken; ``field`` names the form field it is about."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _answerers() -> list[int]:
    """The people who answer requests: compliance officers with a person in the org chart."""
    return list(Person.objects.filter(user__groups__name=Role.COMPLIANCE_OFFICER, active=True).values_list(
        "pk", flat=True).distinct())


def _tell(person_ids, *, kind: str, request: EvidenceRequest, subject: str, body: str, turn: int) -> None:
    notifications_notify([
        notification_new(person_id=person_id, kind=kind, about=request, subject=subject, body=body,
                         link=f"{REQUESTS_PATH}{request.pk}/", dedupe_key=f"evidence-request:{request.pk}:{turn}")
        for person_id in person_ids
    ])


@transaction.atomic
def evidence_request_create(
    *,
    user: User,
    framework: Framework,
    title: str,
    due_date: datetime.date,
    description: str = "",
    requirement: Requirement | None = None,
    vm: VirtualMachine | None = None,
) -> EvidenceRequest:
    """File a request on a control of ``framework`` or a VM; the answerers are told."""
    if (requirement is None) == (vm is None):
        raise EvidenceRequestRefused("requirement", "name a control or a VM, not both and not neither")
    if requirement is not None and requirement.version.framework_id != framework.pk:
        raise EvidenceRequestRefused("requirement", f"{requirement.citation} is not a requirement of {framework}")
    if due_date < timezone.localdate():
        raise EvidenceRequestRefused("due_date", "the due date is in the past")
    if not title.strip():
        raise EvidenceRequestRefused("title", "say what is asked for")
    request = EvidenceRequest.objects.create(
        framework=framework, requirement=requirement, vm=vm, title=title.strip()[:200],
        description=description[:NOTE_MAX], due_date=due_date, requested_by=user, requested_at=timezone.now(),
    )
    audit_log(action="evidence_request.filed", actor=user, obj=request,
              details={"framework": framework.slug, "requirement": requirement.citation if requirement else None,
                       "vm": vm.pk if vm else None, "due": due_date})
    about = requirement.citation if requirement else f"VM {vm.name}"
    person_ids = _answerers()
    if vm is not None and vm.owner_id:
        person_ids.append(vm.owner_id)
    _tell(set(person_ids), kind=NotificationKind.EVIDENCE_REQUEST, request=request, turn=0,
          subject=f"Evidence requested on {about}, due {due_date}", body=f"{user} asks: {request.title}")
    return request


@transaction.atomic
def evidence_request_answer(
    *, request: EvidenceRequest, user: User, note: str = "", file_name: str = "", file_content: bytes | None = None
) -> EvidenceResponse:
    """The client's answer: a note, a file or both; the request waits for the auditor's review."""
    request = EvidenceRequest.objects.select_for_update().get(pk=request.pk)
    if request.state == EvidenceRequestState.ACCEPTED:
        raise EvidenceRequestRefused("note", "the request is accepted already: it takes no more answers")
    if not note.strip() and file_content is None:
        raise EvidenceRequestRefused("note", "answer with a note, a file or both")
    if len(note) > NOTE_MAX:
        raise EvidenceRequestRefused("note", f"the note is longer than {NOTE_MAX} characters")
    clean = ""
    if file_content is not None:
        try:
            clean = evidence_file_checked(name=file_name, content=file_content).name
        except ValidationError as refusal:
            raise EvidenceRequestRefused("file", " ".join(refusal.messages)) from None
    response = EvidenceResponse.objects.create(
        request=request, by=user, at=timezone.now(), note=note.strip(), state_after=EvidenceRequestState.ANSWERED,
        file_name=clean, file_content=file_content, file_size=len(file_content or b""),
        file_sha256=hashlib.sha256(file_content).hexdigest() if file_content is not None else "",
    )
    request.state = EvidenceRequestState.ANSWERED
    request.save(update_fields=["state"])
    audit_log(action="evidence_request.answered", actor=user, obj=request,
              details={"file": clean, "sha256": response.file_sha256, "bytes": response.file_size})
    person = getattr(request.requested_by, "person", None)
    if person is not None:
        _tell([person.pk], kind=NotificationKind.EVIDENCE_REQUEST_ANSWERED, request=request, turn=response.pk,
              subject=f"Evidence request answered: {request.title}", body=f"{user} answered request {request.pk}.")
    return response


@transaction.atomic
def evidence_request_review(*, request: EvidenceRequest, user: User, accept: bool, note: str = "") -> EvidenceResponse:
    """The auditor accepts an answered request, or asks again (with a note saying what is missing)."""
    request = EvidenceRequest.objects.select_for_update().get(pk=request.pk)
    if request.state != EvidenceRequestState.ANSWERED:
        raise EvidenceRequestRefused("note", f"only an answered request can be reviewed; this one is "
                                             f"{request.get_state_display().lower()}")
    if not accept and not note.strip():
        raise EvidenceRequestRefused("note", "say what is still missing")
    state = EvidenceRequestState.ACCEPTED if accept else EvidenceRequestState.ASKED_AGAIN
    response = EvidenceResponse.objects.create(
        request=request, by=user, at=timezone.now(), note=note.strip()[:NOTE_MAX], state_after=state)
    request.state = state
    request.closed_at = response.at if accept else None
    request.save(update_fields=["state", "closed_at"])
    audit_log(action=f"evidence_request.{'accepted' if accept else 'asked_again'}", actor=user, obj=request,
              details={"note": response.note[:500]})
    if not accept:
        _tell(_answerers(), kind=NotificationKind.EVIDENCE_REQUEST, request=request, turn=response.pk,
              subject=f"Evidence asked for again: {request.title}", body=f"{user}: {response.note[:300]}")
    return response


def evidence_request_target(*, framework: Framework, control: str, vm: str) -> dict:
    """What a request names, from the form's text: a citation of the framework's newest catalog, or a VM by name
    (or id); refused when it names both, neither, or nothing that exists."""
    control, vm = control.strip(), vm.strip()
    if bool(control) == bool(vm):
        raise EvidenceRequestRefused("control", "name a control or a VM, not both and not neither")
    if control:
        requirement = Requirement.objects.filter(version__in=latest_versions().filter(framework=framework),
                                                 citation=control).select_related("version").first()
        if requirement is None:
            raise EvidenceRequestRefused("control", f"{framework} has no requirement {control!r}")
        return {"requirement": requirement}
    machines = VirtualMachine.objects.filter(pk=int(vm)) if vm.isdigit() else VirtualMachine.objects.filter(name=vm)
    found = list(machines.exclude(status=VMStatus.REMOVED)[:2])
    if len(found) != 1:
        raise EvidenceRequestRefused(
            "vm", f"no VM is named {vm!r}" if not found else f"more than one VM is named {vm!r}: give its id")
    return {"vm": found[0]}


# The columns audit firms' PBC ("provided by client") trackers use, in their order.
EXPORT_COLUMNS = [ExportColumn("Request #", 10), ExportColumn("Framework", 14), ExportColumn("Control / item", 22),
                  ExportColumn("Request", 40), ExportColumn("Requested by", 18), ExportColumn("Date requested", 14),
                  ExportColumn("Due date", 12), ExportColumn("Status", 16), ExportColumn("Provided by", 18),
                  ExportColumn("Date provided", 14), ExportColumn("Files provided", 30),
                  ExportColumn("Auditor comments", 40), ExportColumn("Date closed", 14)]


def _export_row(request: EvidenceRequest) -> list:
    responses = list(request.responses.all())
    answers = [r for r in responses if r.state_after == EvidenceRequestState.ANSWERED]
    reviews = [r for r in responses if r.state_after != EvidenceRequestState.ANSWERED and r.note]
    last = answers[-1] if answers else None
    item = request.requirement.citation if request.requirement_id else f"VM {request.vm.name} (#{request.vm_id})"
    files = "; ".join(f"{r.file_name} (SHA-256 {r.file_sha256})" for r in answers if r.file_name)
    return [request.pk, request.framework.name, item, request.title, str(request.requested_by),
            request.requested_at, request.due_date, request.get_state_display(), str(last.by) if last else "",
            last.at if last else None, files, "\n".join(r.note for r in reviews), request.closed_at]


def evidence_requests_export(*, requests, user: User) -> Export:
    """The list as an export for ``portal.exports`` (requests with ``responses__by`` prefetched)."""
    rows = [_export_row(request) for request in requests]
    return Export(title="Evidence requests (provided by client)", filename="evidence-requests",
                  columns=EXPORT_COLUMNS, rows=rows, user=user, count=len(rows), sheet="PBC list")
