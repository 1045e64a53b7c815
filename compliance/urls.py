"""Pages of compliance, under /compliance/ (namespace ``compliance``)."""

from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.FrameworkListView.as_view(), name="framework_list"),
    path("frameworks/<slug:slug>/", views.FrameworkDetailView.as_view(), name="framework_detail"),
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
]
