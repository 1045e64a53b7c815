"""Pages of attestation: the test calendar with its exports, a test (recorded by the control's owner or a
compliance officer, with evidence files), the evidence list and the download of a file.

Everybody with a role reaches these URLs, but only the compliance roles read every control's tests; anybody else
reads the tests of the controls they own (a 403 otherwise). Auditors read and never record. An evidence file is
always downloaded as an attachment with its stored type and ``nosniff``, never shown inline.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.generic import FormView, TemplateView, View

from compliance.choices import ControlTestStatus
from compliance.forms import EvidenceAddForm, TestRecordForm
from compliance.models import Evidence
from compliance.selectors import (
    TEST_WINDOWS,
    control_names,
    control_test_get,
    control_tests_for,
    evidence_for,
    may_read_control,
)
from compliance.services.attestations import (
    control_test_record,
    evidence_add,
    evidence_download_record,
    may_record,
    next_due,
)
from compliance.views_common import export_response, form_refused
from portal.access import RoleRequiredMixin
from portal.choices import ALL_ROLES, Role
from portal.exports import Export, ExportColumn

# Owners record their tests whatever their role; auditors never write.
RECORD_ROLES = ALL_ROLES - {Role.AUDITOR}
STATUS_BADGES = {ControlTestStatus.SCHEDULED: "info", ControlTestStatus.PASSED: "success",
                 ControlTestStatus.FAILED: "danger", ControlTestStatus.NOT_APPLICABLE: "secondary",
                 ControlTestStatus.MISSED: "warning"}
# The calendar opens on what is to do: missed tests and those due within a month.
DEFAULT_WINDOW = "open"
# Rows a page of the calendar shows.
TESTS_PER_PAGE = 100


class TestFilterMixin(RoleRequiredMixin):
    allowed_roles = ALL_ROLES

    def filters(self) -> dict[str, str]:
        status = self.request.GET.get("status", "")
        window = self.request.GET.get("window", DEFAULT_WINDOW)
        control = self.request.GET.get("control", "")
        return {"status": status if status in ControlTestStatus.values else "",
                "window": window if window in TEST_WINDOWS else DEFAULT_WINDOW,
                "control": control if control in dict(control_names()) else ""}


class TestListView(TestFilterMixin, TemplateView):
    """The test calendar: every attested control's tests by due date, overdue ones first to the eye."""

    template_name = "compliance/test_list.html"

    def get_context_data(self, **kwargs):
        filters = self.filters()
        tests = list(control_tests_for(user=self.request.user, **filters)[:TESTS_PER_PAGE])
        return super().get_context_data(
            tests=tests, filters=filters, statuses=ControlTestStatus.choices, windows=TEST_WINDOWS,
            controls=control_names(), badge=STATUS_BADGES, today=timezone.localdate(),
            shown_all=len(tests) < TESTS_PER_PAGE, per_page=TESTS_PER_PAGE, **kwargs,
        )


TEST_COLUMNS = [
    ExportColumn("Control", 10), ExportColumn("Title", 36), ExportColumn("Owner", 24), ExportColumn("Due on", 12),
    ExportColumn("Status", 14), ExportColumn("Recorded by", 24), ExportColumn("Recorded at", 18),
    ExportColumn("Note", 50), ExportColumn("Evidence files", 10),
]


class TestExportView(TestFilterMixin, View):
    kind = "csv"

    def get(self, request, *args, **kwargs):
        filters = self.filters()
        tests = control_tests_for(user=request.user, **filters)
        labels = {"status": "Status", "window": "When", "control": "Control"}
        export = Export(
            title="Control test calendar", filename="control-tests", columns=TEST_COLUMNS, user=request.user,
            count=tests.count(), sheet="Tests",
            rows=([t.control.code, t.control.title, t.control.owner.name if t.control.owner else "", t.due_on,
                   t.get_status_display(), str(t.performed_by) if t.performed_by else "", t.performed_at, t.note,
                   t.evidence_count] for t in tests),
            filters={labels[key]: TEST_WINDOWS.get(value, value) for key, value in filters.items()
                     if value and value != "all"},
        )
        return export_response(export, self.kind)


class TestDetailView(RoleRequiredMixin, FormView):
    """A test: the control's procedure and the evidence it needs; its owner or a compliance officer records the
    result and evidence, then may add newer versions of the evidence."""

    allowed_roles = ALL_ROLES
    write_roles = RECORD_ROLES
    template_name = "compliance/test_detail.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            self.test = control_test_get(pk=kwargs["pk"])
            if not may_read_control(user=request.user, control=self.test.control):
                raise PermissionDenied("Only the control's owner and the compliance roles read its tests.")
        return super().dispatch(request, *args, **kwargs)

    @property
    def open(self) -> bool:
        return self.test.status in (ControlTestStatus.SCHEDULED, ControlTestStatus.MISSED)

    def get_form_class(self):
        return TestRecordForm if self.open else EvidenceAddForm

    def get_initial(self):
        return {"expires_on": next_due(max(self.test.due_on, timezone.localdate()), self.test.control.frequency)}

    def form_valid(self, form):
        data = form.cleaned_data
        files = [(upload.name, upload.read()) for upload in data["files"]]
        try:
            if self.open:
                control_test_record(test=self.test, user=self.request.user, result=data["result"],
                                    note=data["note"], files=files, expires_on=data["expires_on"])
                messages.success(self.request, f"Test of {self.test.control.code} recorded.")
            else:
                evidence_add(test=self.test, user=self.request.user, files=files, expires_on=data["expires_on"])
                messages.success(self.request, "Evidence added.")
        except ValidationError as error:
            form_refused(form, error)
            return self.form_invalid(form)
        return redirect("compliance:test_detail", pk=self.test.pk)

    def post(self, request, *args, **kwargs):
        if not may_record(user=request.user, control=self.test.control):
            raise PermissionDenied("Only the control's owner or a compliance officer records its tests.")
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            test=self.test, control=self.test.control, badge=STATUS_BADGES, open=self.open,
            may_record=may_record(user=self.request.user, control=self.test.control), today=timezone.localdate(),
            **kwargs,
        )


class EvidenceListView(RoleRequiredMixin, TemplateView):
    allowed_roles = ALL_ROLES
    template_name = "compliance/evidence_list.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(evidence=list(evidence_for(user=self.request.user)[:TESTS_PER_PAGE]),
                                        today=timezone.localdate(), per_page=TESTS_PER_PAGE, **kwargs)


EVIDENCE_COLUMNS = [
    ExportColumn("Control", 10), ExportColumn("File", 36), ExportColumn("Version", 8), ExportColumn("Type", 20),
    ExportColumn("Bytes", 10), ExportColumn("SHA-256", 66), ExportColumn("Test due on", 12),
    ExportColumn("Uploaded by", 24), ExportColumn("Uploaded at", 18), ExportColumn("Valid until", 12),
]


class EvidenceExportView(RoleRequiredMixin, View):
    allowed_roles = ALL_ROLES
    kind = "csv"

    def get(self, request, *args, **kwargs):
        evidence = evidence_for(user=request.user)
        export = Export(
            title="Evidence files", filename="evidence", columns=EVIDENCE_COLUMNS, user=request.user,
            count=evidence.count(), sheet="Evidence",
            rows=([e.control.code, e.name, e.version, e.content_type, e.size, e.sha256, e.test.due_on,
                   str(e.uploaded_by), e.uploaded_at, e.expires_on] for e in evidence),
        )
        return export_response(export, self.kind)


def evidence_response(evidence: Evidence) -> FileResponse:
    """The file as a download: its stored type, its name as an attachment, and nothing a browser would run."""
    response = FileResponse(evidence.file.open("rb"), as_attachment=True, filename=evidence.name,
                            content_type=evidence.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Evidence-SHA256"] = evidence.sha256
    return response


class EvidenceDownloadView(RoleRequiredMixin, View):
    allowed_roles = ALL_ROLES

    def get(self, request, pk: int):
        evidence = get_object_or_404(Evidence.objects.select_related("control__owner"), pk=pk)
        if not may_read_control(user=request.user, control=evidence.control):
            raise PermissionDenied("Only the control's owner and the compliance roles read its evidence.")
        evidence_download_record(evidence=evidence, user=request.user)
        return evidence_response(evidence)
