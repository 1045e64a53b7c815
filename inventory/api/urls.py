from rest_framework.routers import SimpleRouter

from inventory.api import views

router = SimpleRouter()
router.register("vms", views.VMViewSet, basename="vm")
router.register("sources", views.SourceViewSet, basename="source")
router.register("scans", views.ScanRunViewSet, basename="scanrun")
router.register("findings", views.FindingViewSet, basename="finding")
router.register("policies", views.PolicyViewSet, basename="policy")
router.register("baselines", views.BaselineViewSet, basename="baseline")
router.register("deployment-requests", views.DeploymentRequestViewSet, basename="deploymentrequest")

urlpatterns = router.urls
