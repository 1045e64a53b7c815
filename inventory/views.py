"""Pages of the inventory: VMs with their history and lineage, sources with their scans. Thin: reads go
through selectors, writes (a source's form, the "Scan now" button) through services."""

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import DetailView, FormView, ListView, TemplateView, View

from inventory.choices import ChangeKind, PowerState, Sanction, ScanStatus, SourceKind, VMStatus
from inventory.filters import ScanRunFilter, VMFilter
from inventory.forms import AreaMappingForm, VCenterSourceForm
from inventory.models import AreaMapping, Source, VMChange
from inventory.selectors import (
    area_mapping_list,
    scan_run_changes,
    scan_run_list,
    source_latest_scan,
    source_list,
    source_names,
    vm_deployment_requests,
    vm_detail,
    vm_filter_choices,
    vm_history,
    vm_lineage,
    vm_list,
)
from inventory.services.approvals import user_may_request_for_vm
from inventory.services.area_mappings import MAPPING_ROLES, area_mapping_create, area_mapping_delete
from inventory.services.scan import source_scan_request
from inventory.services.scan_runs import ScanAlreadyRunning
from inventory.services.sources import source_vcenter_create, source_vcenter_update, stored_password_usable
from inventory.vsphere.connection import VSphereError, vcenter_about
from portal.access import RoleRequiredMixin
from portal.choices import ALL_ROLES, OVERSIGHT_ROLES, Role
from portal.exports import (
    Export,
    ExportColumn,
    export_csv_response,
    export_filename,
    export_filters,
    export_xlsx_response,
)
from portal.selectors import app_vm_panels
from portal.services.audit import export_record
from portal.views import querystring

# Every role reads the inventory: managers their estate, compliance officers and
# security admins to act on it, auditors (read-only: they write nothing) and admins.
INVENTORY_ROLES = ALL_ROLES
# Starting a scan, adding or changing a source and testing its connection handle a vCenter's credentials:
# security admins and admins only.
SCAN_ROLES = frozenset({Role.SECURITY_ADMIN, Role.ADMIN})
# Seconds "Test connection" waits for each step (connect, log in, read): the probe, the login and the read
# together stay well inside gunicorn's 60-second worker timeout.
CONNECTION_TEST_TIMEOUT = 15

# Bootstrap colour of the badge for each value of a status, power state, sanction, scan status or change kind.
BADGES = {
    VMStatus.PRESENT: "success", VMStatus.MISSING: "warning", VMStatus.REMOVED: "secondary",
    PowerState.ON: "success", PowerState.OFF: "secondary", PowerState.SUSPENDED: "warning",
    PowerState.UNKNOWN: "light",
    ScanStatus.RUNNING: "info", ScanStatus.COMPLETE: "success", ScanStatus.PARTIAL: "warning",
    ScanStatus.FAILED: "danger",
    Sanction.APPROVED: "success", Sanction.PENDING: "info", Sanction.UNAPPROVED: "danger",
    ChangeKind.DISCOVERED: "primary", ChangeKind.RENAMED: "info", ChangeKind.RELOCATED: "info",
    ChangeKind.NETWORK_CHANGED: "info", ChangeKind.POWER_CHANGED: "secondary", ChangeKind.RECONFIGURED: "info",
    ChangeKind.REPURPOSED: "primary", ChangeKind.CLONED: "primary", ChangeKind.REAPPEARED: "success",
    ChangeKind.REQUEST_LINKED: "success", ChangeKind.SANCTION_CHANGED: "primary",
    ChangeKind.FINDING_OPENED: "danger", ChangeKind.FINDING_CHANGED: "warning", ChangeKind.VCENTER_ACTION: "dark",
}
SORTABLE_COLUMNS = ("name", "power_state", "status", "cluster", "host", "last_seen", "first_seen", "created_at")
# Labels for stored values shown in the timeline (a power change stores "poweredOff", a person reads "Off").
VALUE_LABELS = {
    "power_state": dict(PowerState.choices), "status": dict(VMStatus.choices), "sanction": dict(Sanction.choices),
}
LABELLED_KINDS = {
    ChangeKind.POWER_CHANGED: "power_state", ChangeKind.MISSING: "status", ChangeKind.REAPPEARED: "status",
    ChangeKind.REMOVED: "status",
}
# A dict-valued fact shows one row per key that changed: "advanced setting log.keepOld: 10 → 20".
KEYED_FIELDS = {"advanced_settings": "advanced setting", "custom_attributes": "custom attribute"}
FIELD_LABELS = {
    "cpu_count": "CPUs", "memory_mb": "memory (MB)", "mac_addresses": "MAC addresses", "guest_os": "guest OS",
}
# The order of a history entry's fields (PostgreSQL's jsonb keeps no key order); others follow alphabetically.
FIELD_ORDER = (
    "name", "power_state", "status", "source", "datacenter", "cluster", "host", "resource_pool", "folder",
    "datastores", "networks", "mac_addresses", "cpu_count", "memory_mb", "hardware_version", "guest_os",
    "is_template", "annotation", "owner", "purpose", "cloned_from", "instance_uuid", "bios_uuid",
    "advanced_settings", "custom_attributes",
)
# Stored for links, not for reading: a clone entry keeps its parent's id next to its name, a link its request's.
HIDDEN_FIELDS = {"cloned_from_id", "request_id"}
EMPTY = "—"


def _text(value: Any, field: str = "") -> str:
    """A stored history value as a person reads it: lists joined, dicts as key=value, nothing as a dash."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}={_text(item)}" for key, item in value.items())
    return VALUE_LABELS.get(field, {}).get(value, str(value))


def _field_position(name: str) -> tuple[int, str]:
    return (FIELD_ORDER.index(name) if name in FIELD_ORDER else len(FIELD_ORDER), name)


def change_rows(change: VMChange) -> list[dict[str, Any]]:
    """What a history entry changed, one row per field: ``{"field", "old", "new", "has_old"}``.

    Entries store a value (a rename: old and new name) or a dict of fields; a dict-valued
    fact (advanced settings, custom attributes) shows only its keys that differ.
    """
    old, new = change.old, change.new
    if not isinstance(old, dict) and not isinstance(new, dict):
        field = LABELLED_KINDS.get(change.kind, "")
        return [{"field": "", "old": _text(old, field), "new": _text(new, field), "has_old": old is not None}]
    old, new = old or {}, new or {}
    has_old = bool(old)
    rows = []
    for name in sorted((new.keys() | old.keys()) - HIDDEN_FIELDS, key=_field_position):
        before, after = old.get(name), new.get(name)
        if name in KEYED_FIELDS and isinstance(before, dict) and isinstance(after, dict):
            rows.extend(
                {"field": f"{KEYED_FIELDS[name]} {key}", "old": _text(before.get(key)), "new": _text(after.get(key)),
                 "has_old": True}
                for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)
            )
            continue
        rows.append({"field": FIELD_LABELS.get(name, name.replace("_", " ")), "old": _text(before, name),
                     "new": _text(after, name), "has_old": has_old})
    return rows


def duration_text(duration: datetime.timedelta | None) -> str:
    if duration is None:
        return EMPTY
    seconds = int(duration.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _page(request, queryset, per_page: int = 50):
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


class InventoryMixin(RoleRequiredMixin):
    """Every inventory page: readable by ``INVENTORY_ROLES``, with badge colours in its context."""

    allowed_roles = INVENTORY_ROLES

    def get_context_data(self, **kwargs):
        return super().get_context_data(badge=BADGES, can_scan=self.request.user.has_role(*SCAN_ROLES), **kwargs)


class ClampedPaginationMixin:
    """A page number past the last shows the last page (and one that is not a number the first), as a link kept
    from a longer list expects: never a 404."""

    def paginate_queryset(self, queryset, page_size):
        paginator = self.get_paginator(queryset, page_size)
        page = paginator.get_page(self.request.GET.get(self.page_kwarg))
        return paginator, page, page.object_list, page.has_other_pages()


# The status filter's choice that shows removed VMs too; without a status the list shows present and missing VMs
# only (a removed VM is history: its page and timeline stay).
ANY_STATUS = "any"


class VMListView(InventoryMixin, ClampedPaginationMixin, ListView):
    template_name = "inventory/vm_list.html"
    paginate_by = 50
    context_object_name = "vms"

    def get_queryset(self):
        data = self.request.GET.copy()
        self.status = data.get("status", "")
        if self.status == ANY_STATUS:
            del data["status"]
        self.filterset = VMFilter(data or None, queryset=vm_list(user=self.request.user))
        if self.status:
            return self.filterset.qs
        return self.filterset.qs.exclude(status=VMStatus.REMOVED)

    def get_context_data(self, **kwargs):
        current = self.request.GET.get("ordering", "")
        sort = {}
        for column in SORTABLE_COLUMNS:
            ascending = current == column
            sort[column] = {
                "url": "?" + querystring(self.request, ordering=f"-{column}" if ascending else column),
                "arrow": " ▲" if ascending else " ▼" if current == f"-{column}" else "",
            }
        cluster = self.request.GET.get("cluster", "")
        return super().get_context_data(
            filter=self.filterset,
            choices=vm_filter_choices(cluster_id=int(cluster) if cluster.isdigit() else None),
            selected={name: self.request.GET.get(name, "") for name in self.filterset.filters},
            power_states=PowerState.choices,
            statuses=VMStatus.choices,
            any_status=ANY_STATUS,
            sanctions=Sanction.choices,
            querystring=querystring(self.request),
            sort=sort,
            **kwargs,
        )


# The VM list's export: its columns, in the order of ``_vm_export_row``.
VM_EXPORT_COLUMNS = (
    ExportColumn("Name", 28), ExportColumn("Power state", 12, dict(PowerState.choices)),
    ExportColumn("Status", 10, dict(VMStatus.choices)), ExportColumn("Sanction", 12, dict(Sanction.choices)),
    ExportColumn("Source", 16), ExportColumn("Datacenter", 16), ExportColumn("Cluster", 16), ExportColumn("Host", 22),
    ExportColumn("Guest OS", 28), ExportColumn("IP addresses", 24), ExportColumn("VMware Tools", 14),
    ExportColumn("Created", 18), ExportColumn("First seen", 18), ExportColumn("Last seen", 18),
    ExportColumn("Copied", 8), ExportColumn("Inventory id", 10),
)


def _vm_export_row(vm) -> list[Any]:
    return [
        vm.name, vm.power_state, vm.status, vm.sanction, vm.source.name,
        vm.datacenter.name if vm.datacenter_id else None, vm.cluster.name if vm.cluster_id else None,
        vm.host.name if vm.host_id else None, vm.guest_os or None, ", ".join(vm.ip_addresses) or None,
        vm.tools_status or None, vm.created_at, vm.first_seen, vm.last_seen, "yes" if vm.copied else "no", vm.pk,
    ]


class VMExportView(InventoryMixin, View):
    """The VM list as filtered on its page, as CSV or xlsx; the export is written to the audit trail."""

    export = ""  # csv or xlsx

    def get(self, request):
        filterset = VMFilter(request.GET or None, queryset=vm_list(user=request.user))
        vms = filterset.qs
        filters = export_filters(filterset)
        count = vms.count()
        export_record(user=request.user, subject="inventory", export=self.export, filters=filters, rows=count)
        export = Export(
            title="Inventory: virtual machines", sheet="VMs",
            filename=export_filename(f"inventory-vms-{timezone.localdate():%Y%m%d}"), columns=VM_EXPORT_COLUMNS,
            rows=(_vm_export_row(vm) for vm in vms.iterator(chunk_size=2000)), user=request.user, count=count,
            filters=filters,
        )
        return export_xlsx_response(export) if self.export == "xlsx" else export_csv_response(export)


class VMDetailView(InventoryMixin, DetailView):
    """A VM's facts, its timeline (50 entries a page), its lineage and the panels other apps add (what the
    campaigns say of it)."""

    template_name = "inventory/vm_detail.html"
    context_object_name = "vm"

    def get_queryset(self):
        # A VM outside the user's part of the organisation is "not found", like one that does not exist.
        return vm_detail(user=self.request.user)

    def get_context_data(self, **kwargs):
        history = _page(self.request, vm_history(vm=self.object))
        for change in history:
            change.rows = change_rows(change)
        return super().get_context_data(
            history=history,
            lineage=vm_lineage(vm=self.object, user=self.request.user),
            panels=app_vm_panels(vm=self.object, user=self.request.user),
            advanced_settings=sorted(self.object.advanced_settings.items()),
            custom_attributes=sorted(self.object.custom_attributes.items()),
            deployment_requests=vm_deployment_requests(vm=self.object),
            may_request_for_vm=user_may_request_for_vm(user=self.request.user, vm=self.object),
            **kwargs,
        )


class SourceListView(InventoryMixin, ListView):
    template_name = "inventory/source_list.html"
    queryset = source_list()
    context_object_name = "sources"

    def get_context_data(self, **kwargs):
        return super().get_context_data(scan_statuses=dict(ScanStatus.choices), **kwargs)


class SourceDetailView(InventoryMixin, DetailView):
    """A source's settings (never its password), its latest scans and, for a vCenter, the scan button."""

    template_name = "inventory/source_detail.html"
    queryset = source_list()
    context_object_name = "source"
    recent_scans = 20

    def get_context_data(self, **kwargs):
        runs = list(scan_run_list().filter(source=self.object)[: self.recent_scans])
        for run in runs:
            run.duration_text = duration_text(run.duration)
        latest = source_latest_scan(source=self.object)
        return super().get_context_data(runs=runs, run=latest, **kwargs)


class SourceProgressPartial(InventoryMixin, TemplateView):
    """htmx fragment: the latest scan of a source; polls itself every 2 s while the scan runs."""

    template_name = "inventory/_scan_progress.html"

    def get_context_data(self, **kwargs):
        source = get_object_or_404(Source, pk=self.kwargs["pk"])
        return super().get_context_data(source=source, run=source_latest_scan(source=source), **kwargs)


class SourceScanView(InventoryMixin, TemplateView):
    """GET asks to confirm; POST opens a scan run and queues it (security admins and admins)."""

    allowed_roles = SCAN_ROLES
    write_roles = SCAN_ROLES
    template_name = "inventory/source_scan_confirm.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(source=get_object_or_404(Source, pk=self.kwargs["pk"]), **kwargs)

    def post(self, request, pk):
        source = get_object_or_404(Source, pk=pk)
        try:
            run = source_scan_request(source=source, user=request.user)
        except ScanAlreadyRunning as error:
            messages.warning(request, str(error))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Scan #{run.pk} of {source} requested.")
        return redirect("inventory:source_detail", pk=source.pk)


class SourceFormView(InventoryMixin, FormView):
    """Add a vCenter source (no ``pk``) or change one. The "Test connection" button posts the same form with
    ``action=test``: it connects with the form's values, saves nothing and answers with the result (a
    fragment for htmx, the whole page without JavaScript)."""

    allowed_roles = SCAN_ROLES
    write_roles = SCAN_ROLES
    template_name = "inventory/source_form.html"
    form_class = VCenterSourceForm

    @cached_property
    def source(self) -> Source | None:
        """The vCenter source being changed (None when adding); read after the role check, so a refused user
        learns nothing of which sources exist."""
        if "pk" not in self.kwargs:
            return None
        return get_object_or_404(Source, pk=self.kwargs["pk"], kind=SourceKind.VCENTER)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "source": self.source}

    def get_context_data(self, **kwargs):
        return super().get_context_data(source=self.source, **kwargs)

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        if request.POST.get("action") != "test":
            return self.form_valid(form) if form.is_valid() else self.form_invalid(form)
        result = self.connection_test(form)
        if request.htmx:
            return render(request, "inventory/_connection_result.html", {"result": result})
        return self.render_to_response(self.get_context_data(form=form, result=result))

    def connection_test(self, form: VCenterSourceForm) -> dict[str, Any]:
        """``{"ok", "message"}``: what the endpoint says it is, or why it cannot be reached; never the password."""
        if not form.is_valid():
            problems = "; ".join(f"{form[field].label}: {' '.join(errors)}" for field, errors in form.errors.items())
            return {"ok": False, "message": f"Fix the form first. {problems}"}
        data = form.cleaned_data
        password = data["password"]
        if not password and self.source is not None and stored_password_usable(
            self.source, host=data["host"], port=data["port"], use_http=data["use_http"]
        ):
            password = self.source.password
        if not password:
            return {"ok": False, "message": "Type the password: the stored one is only sent to the host, port and "
                                            "scheme it was given for."}
        try:
            about = vcenter_about(host=data["host"], port=data["port"], user=data["username"], password=password,
                                  use_http=data["use_http"], verify_tls=data["verify_tls"],
                                  timeout=CONNECTION_TEST_TIMEOUT)
        except VSphereError as error:
            return {"ok": False, "message": str(error)}
        return {"ok": True, "message": f"Connected to {data['host']}:{data['port']} as {data['username']}: {about}"}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            if self.source is None:
                source = source_vcenter_create(actor=self.request.user, **data)
            else:
                source = source_vcenter_update(source=self.source, actor=self.request.user, **data)
        except ValidationError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Source {source.name} {'added' if self.source is None else 'saved'}.")
        return redirect("inventory:source_detail", pk=source.pk)


class ScanRunListView(InventoryMixin, ClampedPaginationMixin, ListView):
    template_name = "inventory/scan_list.html"
    paginate_by = 50
    context_object_name = "runs"

    def get_queryset(self):
        self.filterset = ScanRunFilter(self.request.GET or None, queryset=scan_run_list())
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(
            filter=self.filterset, sources=source_names(),
            statuses=ScanStatus.choices, querystring=querystring(self.request), **kwargs,
        )
        for run in context["runs"]:
            run.duration_text = duration_text(run.duration)
        return context


class ScanRunDetailView(InventoryMixin, DetailView):
    """A scan run's counts, duration and error, and the history entries it recorded (50 a page)."""

    template_name = "inventory/scan_detail.html"
    queryset = scan_run_list()
    context_object_name = "run"

    def get_context_data(self, **kwargs):
        changes = _page(self.request, scan_run_changes(run=self.object, user=self.request.user))
        for change in changes:
            change.rows = change_rows(change)
        return super().get_context_data(
            changes=changes, duration=duration_text(self.object.duration), **kwargs
        )


class AreaMappingListView(RoleRequiredMixin, FormView):
    """Which person's area each cluster, folder or resource pool belongs to: who sees it, whose list it pre-fills."""

    allowed_roles = OVERSIGHT_ROLES
    write_roles = MAPPING_ROLES
    template_name = "inventory/area_mappings.html"
    form_class = AreaMappingForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            mappings=area_mapping_list(), can_edit=self.request.user.has_role(*MAPPING_ROLES), **kwargs
        )

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            mapping = area_mapping_create(
                person=data["person"], scope=data["scope"], pattern=data["pattern"], user=self.request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Added: {mapping}.")
        return redirect("inventory:area_mappings")


class AreaMappingDeleteView(RoleRequiredMixin, TemplateView):
    """GET asks to confirm; POST deletes the mapping."""

    allowed_roles = OVERSIGHT_ROLES
    write_roles = MAPPING_ROLES
    template_name = "inventory/area_mapping_confirm_delete.html"

    def get_context_data(self, **kwargs):
        mapping = get_object_or_404(AreaMapping.objects.select_related("person"), pk=self.kwargs["pk"])
        return super().get_context_data(
            mapping=mapping, can_edit=self.request.user.has_role(*MAPPING_ROLES), **kwargs
        )

    def post(self, request, pk):
        mapping = get_object_or_404(AreaMapping.objects.select_related("person"), pk=pk)
        label = str(mapping)
        area_mapping_delete(mapping=mapping, user=request.user)
        messages.success(request, f"Deleted: {label}.")
        return redirect("inventory:area_mappings")
