"""Pages of deployment requests: the form, the list (mine, my area's, all), the security admins' review queue, a
request with its votes and history, the retroactive request from a VM's page, and the list's exports.

Thin: reads through the selectors, every change through ``services/approvals.py``, which also decides who may do
what to which request (the roles here only open the door).
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from inventory.choices import DataCategory, Decision, Environment, RequestState
from inventory.filters import DeploymentRequestFilter
from inventory.forms import DecisionForm, DeploymentRequestForm, LinkVMForm
from inventory.models import DeploymentRequest, VirtualMachine
from inventory.selectors import (
    deployment_request_approvals,
    deployment_request_history,
    deployment_request_list,
    deployment_request_review_queue,
    vm_detail,
)
from inventory.services.approvals import (
    APPROVER_ROLES,
    LINKER_ROLES,
    REQUEST_ATTRIBUTE,
    REQUESTER_ROLES,
    deployment_request_create,
    deployment_request_decide,
    deployment_request_link_vm,
    deployment_request_submit,
    deployment_request_withdraw,
    deployment_requests_export_record,
    request_quorum,
    user_may_request_for_vm,
)
from inventory.views import BADGES
from portal.access import RoleRequiredMixin
from portal.choices import ALL_ROLES
from portal.exports import Export, ExportColumn, export_csv_response, export_filename, export_xlsx_response
from portal.selectors import person_for_user
from portal.views import querystring

# Everybody reads requests (managers those of their area, the other roles all of them); the services decide the
# rest: the requester submits and withdraws, security admins decide and link.
REQUEST_READ_ROLES = ALL_ROLES
REQUEST_ACTION_ROLES = REQUESTER_ROLES | APPROVER_ROLES | LINKER_ROLES
STATE_BADGES = {
    RequestState.DRAFT: "secondary", RequestState.SUBMITTED: "info", RequestState.APPROVED: "success",
    RequestState.REJECTED: "danger", RequestState.WITHDRAWN: "light", RequestState.FULFILLED: "primary",
    RequestState.EXPIRED: "warning",
}


# How the request's page names each audit event of its history.
HISTORY_LABELS = {
    "deployment_request.created": "Filed", "deployment_request.submitted": "Submitted",
    "deployment_request.vote_approve": "Voted to approve", "deployment_request.vote_reject": "Voted to reject",
    "deployment_request.approved": "Approved", "deployment_request.rejected": "Rejected",
    "deployment_request.withdrawn": "Withdrawn", "deployment_request.vm_linked": "VM linked",
    "deployment_request.fulfilled": "Fulfilled", "deployment_request.expired": "Expired",
}


def _form_errors(form, error: ValidationError) -> None:
    """A service's refusal shown on the form: on the fields it names, else above the form."""
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


class RequestMixin(RoleRequiredMixin):
    allowed_roles = REQUEST_READ_ROLES

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            state_badge=STATE_BADGES, badge=BADGES, can_request=self.request.user.has_role(*REQUESTER_ROLES),
            can_review=self.request.user.has_role(*APPROVER_ROLES), **kwargs,
        )


class RequestListView(RequestMixin, ListView):
    """The requests the user may read, filtered: "mine" (``?mine=true``), by state, environment, owner, text."""

    template_name = "inventory/requests/list.html"
    paginate_by = 50
    context_object_name = "requests"

    def get_queryset(self):
        self.filterset = DeploymentRequestFilter(
            self.request.GET or None, queryset=deployment_request_list(user=self.request.user), request=self.request
        )
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            filter=self.filterset, states=RequestState.choices, environments=Environment.choices,
            selected={name: self.request.GET.get(name, "") for name in self.filterset.filters},
            querystring=querystring(self.request), **kwargs,
        )


class RequestReviewView(RequestMixin, ListView):
    """The security admins' queue: submitted requests, oldest first, with their quorum progress."""

    allowed_roles = APPROVER_ROLES
    template_name = "inventory/requests/review.html"
    paginate_by = 50
    context_object_name = "requests"

    def get_queryset(self):
        return deployment_request_review_queue(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for request in context["requests"]:
            request.needed = request_quorum(request)
            request.own = request.requested_by_id == self.request.user.pk or (
                request.requester.user_id == self.request.user.pk
            )
        return context


class RequestFormView(RequestMixin, FormView):
    """A new request (``vm`` absent), or a retroactive one for the VM ``vm``: the VM runs already, and the request
    asks to approve it as it is. Saved as a draft, or submitted at once."""

    allowed_roles = REQUESTER_ROLES
    write_roles = REQUESTER_ROLES
    template_name = "inventory/requests/form.html"
    form_class = DeploymentRequestForm

    @cached_property
    def vm(self) -> VirtualMachine | None:
        if "pk" not in self.kwargs:
            return None
        return get_object_or_404(vm_detail(user=self.request.user), pk=self.kwargs["pk"])

    @cached_property
    def person(self):
        return person_for_user(user=self.request.user)

    @cached_property
    def vm_allowed(self) -> bool:
        return self.vm is None or user_may_request_for_vm(user=self.request.user, vm=self.vm)

    def get_initial(self):
        today = timezone.localdate()
        initial: dict[str, Any] = {"start_date": today, "vcpu": 2, "memory_gb": 8, "disk_gb": 100}
        if self.person is not None:
            initial["owner"] = f"{self.person.name} <{self.person.email}>"
        vm = self.vm
        if vm is not None:
            if vm.owner is not None:
                initial["owner"] = f"{vm.owner.name} <{vm.owner.email}>"
            initial.update(
                purpose=vm.purpose or f"Retroactive approval of {vm.name}", os=vm.guest_os or vm.guest_os_tools,
                target_datacenter=vm.datacenter.name if vm.datacenter else "",
                target_cluster=vm.cluster.name if vm.cluster else "",
                vcpu=vm.cpu_count or 1, memory_gb=max(1, (vm.memory_mb or 1024) // 1024),
                data_categories=[value for value in vm.data_categories if value in DataCategory.values],
                start_date=timezone.localdate(vm.created_at) if vm.created_at else today,
            )
        return initial

    def get_context_data(self, **kwargs):
        return super().get_context_data(vm=self.vm, person=self.person, vm_allowed=self.vm_allowed,
                                        attribute=REQUEST_ATTRIBUTE, **kwargs)

    def post(self, request, *args, **kwargs):
        if not self.vm_allowed:
            raise PermissionDenied("Only a security admin or a manager above the VM's owner files a request for it.")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            created = deployment_request_create(
                user=self.request.user, owner=form.cleaned_data["owner"], vm=self.vm,
                submit=self.request.POST.get("action") == "submit", **form.request_values(),
            )
        except ValidationError as error:
            _form_errors(form, error)
            return self.form_invalid(form)
        except PermissionDenied as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        done = "submitted to the security admins" if created.state == RequestState.SUBMITTED else "saved as a draft"
        messages.success(self.request, f"{created.number} {done}.")
        return redirect("inventory:request_detail", pk=created.pk)


class RequestDetailView(RequestMixin, DetailView):
    """A request: what it asks, its votes against its quorum, its linked VM, its audit history; and the buttons of
    whoever may act on it now (POST ``action``: submit, withdraw, approve, reject, link)."""

    write_roles = REQUEST_ACTION_ROLES
    template_name = "inventory/requests/detail.html"
    context_object_name = "deployment_request"

    def get_queryset(self):
        # A request outside the user's part of the organisation is "not found", like one that does not exist.
        return deployment_request_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        request, user = self.object, self.request.user
        approvals = list(deployment_request_approvals(request=request))
        is_requester = user.pk == request.requested_by_id or request.requester.user_id == user.pk
        submitted = request.state == RequestState.SUBMITTED
        history = list(deployment_request_history(request=request))
        for event in history:
            event.label = HISTORY_LABELS.get(event.action, event.action)
        return super().get_context_data(
            approvals=approvals, history=history, quorum=request_quorum(request),
            is_requester=is_requester,
            may_submit=is_requester and request.state == RequestState.DRAFT,
            may_withdraw=is_requester and request.state in (RequestState.DRAFT, RequestState.SUBMITTED)
            or (is_requester and request.state == RequestState.APPROVED and request.vm_id is None),
            may_decide=submitted and user.has_role(*APPROVER_ROLES) and not is_requester
            and all(vote.approver_id != user.pk for vote in approvals),
            may_link=user.has_role(*LINKER_ROLES) and request.vm_id is None
            and request.state in (RequestState.DRAFT, RequestState.SUBMITTED, RequestState.APPROVED),
            decision_form=kwargs.pop("decision_form", None) or DecisionForm(),
            link_form=kwargs.pop("link_form", None) or LinkVMForm(),
            attribute=REQUEST_ATTRIBUTE,
            support=[(team.capitalize(), getattr(request, f"{team}_engaged"), getattr(request, f"{team}_contact"))
                     for team in ("backup", "monitoring", "patching", "security")],
            **kwargs,
        )

    def post(self, request, pk):
        self.object = self.get_object()
        action = request.POST.get("action", "")
        handlers = {"submit": self._submit, "withdraw": self._withdraw, "approve": self._decide,
                    "reject": self._decide, "link": self._link}
        if action not in handlers:
            messages.error(request, "Choose what to do with the request.")
            return redirect("inventory:request_detail", pk=pk)
        return handlers[action](action)

    def _done(self, text: str):
        messages.success(self.request, text)
        return redirect("inventory:request_detail", pk=self.object.pk)

    def _refused(self, error: ValidationError, **forms):
        if forms:
            for form in forms.values():
                _form_errors(form, error)
            return self.render_to_response(self.get_context_data(**forms), status=400)
        messages.error(self.request, " ".join(error.messages))
        return redirect("inventory:request_detail", pk=self.object.pk)

    def _submit(self, action):
        try:
            deployment_request_submit(request=self.object, user=self.request.user)
        except ValidationError as error:
            return self._refused(error)
        return self._done(f"{self.object.number} submitted to the security admins.")

    def _withdraw(self, action):
        try:
            deployment_request_withdraw(request=self.object, user=self.request.user)
        except ValidationError as error:
            return self._refused(error)
        return self._done(f"{self.object.number} withdrawn.")

    def _decide(self, action):
        form = DecisionForm({"decision": Decision.APPROVE if action == "approve" else Decision.REJECT,
                             "comment": self.request.POST.get("comment", "")})
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(decision_form=form), status=400)
        try:
            deployment_request_decide(request=self.object, user=self.request.user, **form.cleaned_data)
        except ValidationError as error:
            return self._refused(error, decision_form=form)
        self.object.refresh_from_db()
        return self._done(f"Your vote on {self.object.number} is recorded: it is now "
                          f"{self.object.get_state_display().lower()}.")

    def _link(self, action):
        form = LinkVMForm(self.request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(link_form=form), status=400)
        vm = VirtualMachine.objects.filter(pk=form.cleaned_data["vm"]).first()
        if vm is None:
            form.add_error("vm", f"No VM has the id {form.cleaned_data['vm']}.")
            return self.render_to_response(self.get_context_data(link_form=form), status=400)
        try:
            deployment_request_link_vm(request=self.object, vm=vm, user=self.request.user)
        except ValidationError as error:
            return self._refused(error, link_form=form)
        return self._done(f"{vm.name} linked to {self.object.number}.")


# The export's columns: heading and width, in the order of ``_export_row``.
EXPORT_COLUMNS = (
    ExportColumn("Number", 12), ExportColumn("State", 12), ExportColumn("Purpose", 36),
    ExportColumn("Environment", 16), ExportColumn("Requester", 22), ExportColumn("Requester (e-mail)", 26),
    ExportColumn("Owner", 22), ExportColumn("Owner (e-mail)", 26), ExportColumn("Data categories", 28),
    ExportColumn("Datacenter", 16), ExportColumn("Cluster", 16), ExportColumn("vCPUs", 7),
    ExportColumn("Memory (GB)", 10), ExportColumn("Disk (GB)", 10), ExportColumn("Operating system", 26),
    ExportColumn("Backup", 24), ExportColumn("Monitoring", 24), ExportColumn("Patching", 24),
    ExportColumn("Security", 24), ExportColumn("Start", 11), ExportColumn("End", 11),
    ExportColumn("Approvals", 10), ExportColumn("Quorum", 8), ExportColumn("Retroactive", 11),
    ExportColumn("VM", 24), ExportColumn("VM id", 8), ExportColumn("Created", 18), ExportColumn("Submitted", 18),
    ExportColumn("Decided", 18),
)


def _team(request: DeploymentRequest, team: str) -> str:
    contact = getattr(request, f"{team}_contact")
    if not getattr(request, f"{team}_engaged"):
        return "not engaged"
    return f"engaged: {contact}" if contact else "engaged"


def _export_row(request: DeploymentRequest) -> list[Any]:
    return [
        request.number, request.get_state_display(), request.purpose, request.get_environment_display(),
        request.requester.name, request.requester.email, request.owner.name, request.owner.email,
        ", ".join(request.data_category_labels),
        request.target_datacenter, request.target_cluster, request.vcpu, request.memory_gb, request.disk_gb,
        request.os, *(_team(request, team) for team in ("backup", "monitoring", "patching", "security")),
        request.start_date, request.end_date, request.approvals_count, request_quorum(request),
        "yes" if request.retroactive else "no", request.vm.name if request.vm_id else "", request.vm_id,
        request.created_at, request.submitted_at, request.decided_at,
    ]


class RequestExportView(RequestMixin, View):
    """The list as filtered on the page, as CSV or xlsx; each export is in the audit trail with its filters."""

    export = ""  # csv or xlsx

    def get(self, request):
        filterset = DeploymentRequestFilter(
            request.GET or None, queryset=deployment_request_list(user=request.user), request=request
        )
        requests: QuerySet = filterset.qs
        filters = {str(filterset.filters[name].label or name): value
                   for name, value in request.GET.items() if name in filterset.filters and value}
        count = requests.count()
        deployment_requests_export_record(user=request.user, export=self.export, filters=filters, rows=count)
        export = Export(
            title="Deployment requests", sheet="Requests",
            filename=export_filename(f"deployment-requests-{timezone.localdate():%Y%m%d}"),
            columns=EXPORT_COLUMNS, rows=(_export_row(item) for item in requests.iterator(chunk_size=2000)),
            user=request.user, count=count, filters=filters,
        )
        return export_xlsx_response(export) if self.export == "xlsx" else export_csv_response(export)
