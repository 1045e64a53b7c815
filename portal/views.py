"""Pages of the portal app: dashboard, org chart, people, the inbox and the audit trail. Thin: reads go through
selectors, writes through services."""

from axes.utils import reset as axes_reset
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.generic import DetailView, ListView, TemplateView, View

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
from portal.filters import AuditEventFilter, PersonFilter
from portal.forms import PersonRoleForm
from portal.models import AuditEvent, Person
from portal.selectors import (
    app_dashboard_cards,
    audit_actions,
    audit_anchor_latest,
    audit_event_list,
    dashboard_figures,
    notifications_for_user,
    person_chain_up,
    person_headcounts,
    person_list,
    person_matches_with_chain,
    person_reports,
    person_roots,
    person_search,
)
from portal.services.audit import (
    export_record,
    session_login_failed_record,
    session_login_record,
    session_logout_record,
)
from portal.services.notifications import notifications_mark_read
from portal.services.roles import user_grant_role, user_revoke_role


def querystring(request, **changes) -> str:
    """The request's query string without ``page``, with ``changes`` applied (a value of None drops the key)."""
    query = request.GET.copy()
    query.pop("page", None)
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    return query.urlencode()


def safe_next(request, default: str) -> str:
    """Where to go after a POST: the posted or queried ``next`` if it stays on this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


class DashboardView(RoleRequiredMixin, TemplateView):
    allowed_roles = ALL_ROLES
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            figures=dashboard_figures(user=user), cards=app_dashboard_cards(user=user), **kwargs
        )


class OrgChartView(RoleRequiredMixin, TemplateView):
    """The chain of command as an expandable tree; a search shows matching people with their chain."""

    allowed_roles = ALL_ROLES
    template_name = "portal/org_chart.html"
    search_limit = 100

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["query"] = self.request.GET.get("q", "").strip()
        context["headcounts"] = person_headcounts()
        if context["query"]:
            search = PersonFilter({"q": self.request.GET.get("q", "")}, queryset=person_list())
            context["matches"] = person_matches_with_chain(people=search.qs, limit=self.search_limit)
        else:
            context["nodes"] = person_roots()
        return context


class PersonReportsPartial(RoleRequiredMixin, TemplateView):
    """htmx fragment: the direct reports of one person, loaded when a branch is expanded."""

    allowed_roles = ALL_ROLES
    template_name = "portal/_org_nodes.html"

    def get_context_data(self, **kwargs):
        person = get_object_or_404(Person, pk=self.kwargs["pk"])
        return super().get_context_data(nodes=person_reports(person=person), headcounts=person_headcounts(), **kwargs)


class PersonDetailView(RoleRequiredMixin, DetailView):
    """A person and their reports; an admin also sees their login's roles and grants or revokes them here."""

    allowed_roles = ALL_ROLES
    write_roles = frozenset({Role.ADMIN})
    template_name = "portal/person_detail.html"
    queryset = person_list(active_only=False).select_related("user")
    context_object_name = "person"

    def get_context_data(self, **kwargs):
        headcounts = person_headcounts()
        return super().get_context_data(
            chain=person_chain_up(person=self.object),
            reports=person_reports(person=self.object),
            headcounts=headcounts,
            headcount=headcounts.get(self.object.pk, 0),
            can_manage_roles=self.request.user.has_role(*self.write_roles),
            role_choices=Role.choices,
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        person = self.get_object()
        form = PersonRoleForm(request.POST)
        if person.user is None:
            messages.error(request, f"{person.name} has no login to give roles to.")
        elif not form.is_valid():
            messages.error(request, " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
        else:
            role, login = Role(form.cleaned_data["role"]), person.user
            try:
                if form.cleaned_data["action"] == "grant":
                    user_grant_role(user=login, role=role, granted_by=request.user,
                                    expires_on=form.cleaned_data["expires_on"])
                    messages.success(request, f"{login} is now {role.label}.")
                else:
                    user_revoke_role(user=login, role=role, revoked_by=request.user)
                    messages.success(request, f"{login} is no longer {role.label}.")
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        return redirect("people:detail", pk=person.pk)


class AuditEventListView(RoleRequiredMixin, ListView):
    allowed_roles = OVERSIGHT_ROLES
    template_name = "portal/audit_list.html"
    paginate_by = 50
    context_object_name = "events"

    def get_queryset(self):
        self.filterset = AuditEventFilter(self.request.GET or None, queryset=audit_event_list())
        return self.filterset.qs

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            filter=self.filterset, actions=audit_actions(), querystring=querystring(self.request),
            anchor=audit_anchor_latest(), **kwargs
        )


# The audit trail's export: its columns, in the order of ``_audit_row``.
AUDIT_EXPORT_COLUMNS = (
    ExportColumn("#", 8), ExportColumn("When", 18), ExportColumn("Who", 22), ExportColumn("Action", 26),
    ExportColumn("Object", 40), ExportColumn("Object type", 22), ExportColumn("Object id", 10),
    ExportColumn("Details", 60), ExportColumn("Hash", 20),
)


def _audit_row(event: AuditEvent) -> list:
    details = "; ".join(f"{key}: {value}" for key, value in event.details.items())
    return [event.sequence, event.at, event.actor_label, event.action, event.object_repr, event.object_type or None,
            event.object_id or None, details or None, event.hash]


class AuditEventExportView(RoleRequiredMixin, View):
    """The trail as filtered on its page, as CSV or xlsx; the export is itself an event of the trail."""

    allowed_roles = OVERSIGHT_ROLES
    export = ""  # csv or xlsx

    def get(self, request):
        filterset = AuditEventFilter(request.GET or None, queryset=audit_event_list())
        events = filterset.qs
        filters = export_filters(filterset)
        count = events.count()
        export_record(user=request.user, subject="audit", export=self.export, filters=filters, rows=count)
        export = Export(
            title="Audit trail", sheet="Events", filename=export_filename(f"audit-trail-{timezone.localdate():%Y%m%d}"),
            columns=AUDIT_EXPORT_COLUMNS, rows=(_audit_row(event) for event in events.iterator(chunk_size=2000)),
            user=request.user, count=count, filters=filters,
        )
        return export_xlsx_response(export) if self.export == "xlsx" else export_csv_response(export)


def _address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


class LoginView(auth_views.LoginView):
    """The login page; each sign-in and each refused attempt goes in the audit trail (explicitly, here: a test's
    or a shell's ``login()`` is not a person signing in)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        session_login_record(user=form.get_user(), address=_address(self.request))
        return response

    def form_invalid(self, form):
        session_login_failed_record(username=self.request.POST.get("username", ""), address=_address(self.request))
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Signing out, recorded in the audit trail before the session ends."""

    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            session_logout_record(user=request.user, address=_address(request))
        return super().post(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Setting a new password from the e-mailed link also lifts a lockout for repeated failed logins:
    the person proved they own the address, which is what the lockout page tells them to do."""

    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=form.user.get_username())
        return response


class InboxView(RoleRequiredMixin, ListView):
    """The portal inbox; POST marks notifications read (``ids``, or all of them)."""

    allowed_roles = ALL_ROLES
    write_roles = ALL_ROLES  # marking one's own messages read changes no data of the census
    template_name = "portal/inbox.html"
    context_object_name = "notifications"
    paginate_by = 50

    def get_queryset(self):
        return notifications_for_user(self.request.user, unread_only=self.request.GET.get("unread") == "1")

    def get_context_data(self, **kwargs):
        return super().get_context_data(unread_only=self.request.GET.get("unread") == "1", **kwargs)

    def post(self, request):
        ids = [int(value) for value in request.POST.getlist("ids") if value.isdigit()]
        changed = notifications_mark_read(user=request.user, ids=ids if request.POST.get("all") != "1" else None)
        messages.success(request, f"{changed} message{'s' if changed != 1 else ''} marked read.")
        return redirect(safe_next(request, reverse("inbox")))


class PersonSearchPartial(RoleRequiredMixin, TemplateView):
    """htmx fragment: ``<option>`` elements of the people matching what was typed in a person field of any form.
    Everybody reads the org chart, so everybody may search it."""

    allowed_roles = ALL_ROLES
    template_name = "portal/_people_options.html"

    def get_context_data(self, **kwargs):
        text = next((value for value in self.request.GET.values() if value.strip()), "")
        return super().get_context_data(people=person_search(text=text), **kwargs)
# Django's error pages, in JSON under /api/ (what an API client can read).


def bad_request(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "The request cannot be read."}, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request, exception):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "No such endpoint."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error; it is in the portal's log."}, status=500)
    return defaults.server_error(request)
