from rest_framework.routers import SimpleRouter

from compliance.api import views

router = SimpleRouter()
router.register("frameworks", views.FrameworkViewSet, basename="framework")
router.register("requirements", views.RequirementViewSet, basename="requirement")
router.register("controls", views.ControlViewSet, basename="control")
router.register("control-mappings", views.ControlMappingViewSet, basename="controlmapping")
router.register("control-evaluations", views.ControlEvaluationViewSet, basename="controlevaluation")

urlpatterns = router.urls
