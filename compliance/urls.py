"""Pages of compliance, under /compliance/ (namespace ``compliance``). ``packs/<id>/`` is the address the
PACK_READY message links to, ``requests/<id>/`` the one of evidence request messages
(``services.evidence_requests.REQUESTS_PATH``)."""

from django.urls import path

from compliance import views, views_applicability, views_attestation, views_exceptions, views_plan

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
    # Statement of applicability and the HIPAA addressable decisions
    path("frameworks/<slug:slug>/applicability/", views_applicability.ApplicabilityListView.as_view(),
         name="applicability_list"),
    path("frameworks/<slug:slug>/applicability.csv", views_applicability.ApplicabilityExportView.as_view(kind="csv"),
         name="applicability_export_csv"),
    path("frameworks/<slug:slug>/applicability.xlsx",
         views_applicability.ApplicabilityExportView.as_view(kind="xlsx"), name="applicability_export_xlsx"),
    path("requirements/<int:pk>/applicability/", views_applicability.ApplicabilityEditView.as_view(),
         name="applicability_edit"),
    path("decisions/", views_applicability.DecisionListView.as_view(), name="decision_list"),
    path("decisions.csv", views_applicability.DecisionExportView.as_view(kind="csv"), name="decision_export_csv"),
    path("decisions.xlsx", views_applicability.DecisionExportView.as_view(kind="xlsx"), name="decision_export_xlsx"),
    path("requirements/<int:pk>/decision/", views_applicability.DecisionEditView.as_view(), name="decision_edit"),
    # Attestation: the test calendar, tests and evidence
    path("tests/", views_attestation.TestListView.as_view(), name="test_list"),
    path("tests.csv", views_attestation.TestExportView.as_view(kind="csv"), name="test_export_csv"),
    path("tests.xlsx", views_attestation.TestExportView.as_view(kind="xlsx"), name="test_export_xlsx"),
    path("tests/<int:pk>/", views_attestation.TestDetailView.as_view(), name="test_detail"),
    path("evidence/", views_attestation.EvidenceListView.as_view(), name="evidence_list"),
    path("evidence.csv", views_attestation.EvidenceExportView.as_view(kind="csv"), name="evidence_export_csv"),
    path("evidence.xlsx", views_attestation.EvidenceExportView.as_view(kind="xlsx"), name="evidence_export_xlsx"),
    path("evidence/<int:pk>/download/", views_attestation.EvidenceDownloadView.as_view(), name="evidence_download"),
    # Exceptions (risk acceptance)
    path("exceptions/", views_exceptions.ExceptionListView.as_view(), name="exception_list"),
    path("exceptions.csv", views_exceptions.ExceptionExportView.as_view(kind="csv"), name="exception_export_csv"),
    path("exceptions.xlsx", views_exceptions.ExceptionExportView.as_view(kind="xlsx"), name="exception_export_xlsx"),
    path("exceptions/new/", views_exceptions.ExceptionRequestView.as_view(), name="exception_request"),
    path("exceptions/<int:pk>/", views_exceptions.ExceptionDetailView.as_view(), name="exception_detail"),
    # The security plan
    path("plan/", views_plan.PlanView.as_view(), name="plan"),
    path("plan/new/", views_plan.PlanEditView.as_view(), name="plan_edit"),
    path("plan/versions/", views_plan.PlanHistoryView.as_view(), name="plan_history"),
    path("plan/versions.csv", views_plan.PlanHistoryExportView.as_view(kind="csv"), name="plan_history_export_csv"),
    path("plan/versions.xlsx", views_plan.PlanHistoryExportView.as_view(kind="xlsx"),
         name="plan_history_export_xlsx"),
    path("plan/versions/<int:number>/", views_plan.PlanVersionView.as_view(), name="plan_version"),
    path("plan/versions/<int:number>/signoff/", views_plan.PlanSignoffView.as_view(), name="plan_signoff"),
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
