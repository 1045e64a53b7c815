from django.urls import path
from rest_framework.routers import SimpleRouter

from portal.api import views

router = SimpleRouter()
router.register("people", views.PersonViewSet, basename="person")
router.register("audit-events", views.AuditEventViewSet, basename="auditevent")

urlpatterns = [
    path("schema/", views.SchemaView.as_view(), name="schema"),
    path("docs/", views.DocsView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
]
