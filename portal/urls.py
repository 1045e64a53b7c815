"""Root URLs. Every page and endpoint declares the roles that may use it (see tests/portal/test_access.py)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from compliance.api import urls as compliance_api_urls
from inventory.api import urls as inventory_api_urls
from portal import views
from portal.api import urls as portal_api_urls
from portal.forms import LoginForm
from questionnaires.api import urls as questionnaires_api_urls

people_patterns = [
    path("", views.OrgChartView.as_view(), name="org_chart"),
    path("search/", views.PersonSearchPartial.as_view(), name="search"),
    path("<int:pk>/", views.PersonDetailView.as_view(), name="detail"),
    path("<int:pk>/reports/", views.PersonReportsPartial.as_view(), name="reports"),
]

audit_patterns = [
    path("", views.AuditEventListView.as_view(), name="list"),
    path("events.csv", views.AuditEventExportView.as_view(export="csv"), name="export_csv"),
    path("events.xlsx", views.AuditEventExportView.as_view(export="xlsx"), name="export_xlsx"),
]

account_patterns = [
    path(
        "login/",
        views.LoginView.as_view(redirect_authenticated_user=True, authentication_form=LoginForm),
        name="login",
    ),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]

api_patterns = [
    *portal_api_urls.urlpatterns,
    *inventory_api_urls.urlpatterns,
    *questionnaires_api_urls.urlpatterns,
    *compliance_api_urls.urlpatterns,
]

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("inbox/", views.InboxView.as_view(), name="inbox"),
    path("people/", include((people_patterns, "people"))),
    path("audit/", include((audit_patterns, "audit"))),
    path("inventory/", include("inventory.urls")),
    path("questionnaires/", include("questionnaires.urls")),
    path("compliance/", include("compliance.urls")),
    path("accounts/", include(account_patterns)),
    path("api/v1/", include((api_patterns, "api"))),
    path("admin/", admin.site.urls),
]

handler400 = "portal.views.bad_request"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
