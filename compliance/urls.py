"""Pages of the compliance catalogs, under /compliance/ (namespace ``compliance``)."""

from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("", views.FrameworkListView.as_view(), name="framework_list"),
    path("frameworks/<slug:slug>/", views.FrameworkDetailView.as_view(), name="framework_detail"),
]
