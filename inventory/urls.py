"""Pages of the inventory, under /inventory/ (namespace ``inventory``)."""

from django.urls import path

from inventory import findings_views, views, views_requests

app_name = "inventory"

urlpatterns = [
    path("vms/", views.VMListView.as_view(), name="vm_list"),
    path("vms/export.csv", views.VMExportView.as_view(export="csv"), name="vm_export_csv"),
    path("vms/export.xlsx", views.VMExportView.as_view(export="xlsx"), name="vm_export_xlsx"),
    path("vms/<int:pk>/", views.VMDetailView.as_view(), name="vm_detail"),
    path("sources/", views.SourceListView.as_view(), name="source_list"),
    path("sources/add/", views.SourceFormView.as_view(), name="source_add"),
    path("sources/<int:pk>/", views.SourceDetailView.as_view(), name="source_detail"),
    path("sources/<int:pk>/edit/", views.SourceFormView.as_view(), name="source_edit"),
    path("sources/<int:pk>/scan/", views.SourceScanView.as_view(), name="source_scan"),
    path("sources/<int:pk>/progress/", views.SourceProgressPartial.as_view(), name="source_progress"),
    path("scans/", views.ScanRunListView.as_view(), name="scan_list"),
    path("scans/<int:pk>/", views.ScanRunDetailView.as_view(), name="scan_detail"),
    path("area-mappings/", views.AreaMappingListView.as_view(), name="area_mappings"),
    path("area-mappings/<int:pk>/delete/", views.AreaMappingDeleteView.as_view(), name="area_mapping_delete"),
    path("findings/", findings_views.FindingListView.as_view(), name="finding_list"),
    path("findings/dashboard/", findings_views.FindingsDashboardView.as_view(), name="findings_dashboard"),
    path("findings/<int:pk>/", findings_views.FindingDetailView.as_view(), name="finding_detail"),
    path("policies/", findings_views.PolicyListView.as_view(), name="policy_list"),
    path("policies/<int:pk>/", findings_views.PolicyDetailView.as_view(), name="policy_detail"),
    path("baselines/", findings_views.BaselineListView.as_view(), name="baseline_list"),
    path("baselines/<int:pk>/", findings_views.BaselineDetailView.as_view(), name="baseline_detail"),
    path("actions/<int:pk>/", findings_views.ActionBatchDetailView.as_view(), name="action_batch_detail"),
    path("requests/", views_requests.RequestListView.as_view(), name="request_list"),
    path("requests/new/", views_requests.RequestFormView.as_view(), name="request_add"),
    path("requests/review/", views_requests.RequestReviewView.as_view(), name="request_review"),
    path("requests/export.csv", views_requests.RequestExportView.as_view(export="csv"), name="request_export_csv"),
    path("requests/export.xlsx", views_requests.RequestExportView.as_view(export="xlsx"),
         name="request_export_xlsx"),
    path("requests/<int:pk>/", views_requests.RequestDetailView.as_view(), name="request_detail"),
    path("vms/<int:pk>/request/", views_requests.RequestFormView.as_view(), name="vm_request_add"),
]
