"""Pages of the inventory, under /inventory/ (namespace ``inventory``)."""

from django.urls import path

from inventory import views, views_requests

app_name = "inventory"

urlpatterns = [
    path("vms/", views.VMListView.as_view(), name="vm_list"),
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
    path("requests/", views_requests.RequestListView.as_view(), name="request_list"),
    path("requests/new/", views_requests.RequestFormView.as_view(), name="request_add"),
    path("requests/review/", views_requests.RequestReviewView.as_view(), name="request_review"),
    path("requests/export.csv", views_requests.RequestExportView.as_view(export="csv"), name="request_export_csv"),
    path("requests/export.xlsx", views_requests.RequestExportView.as_view(export="xlsx"),
         name="request_export_xlsx"),
    path("requests/<int:pk>/", views_requests.RequestDetailView.as_view(), name="request_detail"),
    path("vms/<int:pk>/request/", views_requests.RequestFormView.as_view(), name="vm_request_add"),
]
