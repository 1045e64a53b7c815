"""Pages of compliance, under /compliance/ (namespace ``compliance``). ``packs/<id>/`` is the address the
PACK_READY message links to, ``requests/<id>/`` the one of evidence request messages
(``services.evidence_requests.REQUESTS_PATH``)."""

from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.FrameworkListView.as_view(), name="framework_list"),
    path("frameworks/<slug:slug>/", views.FrameworkDetailView.as_view(), name="framework_detail"),
    path("frameworks/<slug:slug>/oscal-assessment-results.json", views.FrameworkOscalView.as_view(),
         name="framework_oscal"),
    path("dashboard/", views.ComplianceDashboardView.as_view(), name="dashboard"),
    path("controls/", views.ControlListView.as_view(), name="control_list"),
    path("controls/export.csv", views.ControlExportView.as_view(export="csv"), name="control_export_csv"),
    path("controls/export.xlsx", views.ControlExportView.as_view(export="xlsx"), name="control_export_xlsx"),
    path("controls/<str:code>/", views.ControlDetailView.as_view(), name="control_detail"),
    path("controls/<str:code>/evaluations.csv", views.ControlEvaluationExportView.as_view(export="csv"),
         name="control_evaluations_csv"),
    path("controls/<str:code>/evaluations.xlsx", views.ControlEvaluationExportView.as_view(export="xlsx"),
         name="control_evaluations_xlsx"),
    path("evaluations/<int:pk>/", views.EvaluationDetailView.as_view(), name="evaluation_detail"),
    path("packs/", views.PackListView.as_view(), name="pack_list"),
    path("packs/<int:pk>/", views.PackDetailView.as_view(), name="pack_detail"),
    path("packs/<int:pk>/progress/", views.PackProgressPartial.as_view(), name="pack_progress"),
    path("packs/<int:pk>/pack.pdf", views.PackDownloadView.as_view(what="pdf"), name="pack_pdf"),
    path("packs/<int:pk>/manifest.json", views.PackDownloadView.as_view(what="manifest"), name="pack_manifest"),
    path("grants/", views.GrantListView.as_view(), name="grant_list"),
    path("requests/", views.EvidenceRequestListView.as_view(), name="request_list"),
    path("requests/export.xlsx", views.EvidenceRequestExportView.as_view(), name="request_export"),
    path("requests/<int:pk>/", views.EvidenceRequestDetailView.as_view(), name="request_detail"),
    path("requests/<int:pk>/files/<int:response_id>/", views.EvidenceFileView.as_view(), name="request_file"),
]
