from rest_framework.routers import SimpleRouter

from compliance.api import statements, views

router = SimpleRouter()
router.register("frameworks", views.FrameworkViewSet, basename="framework")
router.register("requirements", views.RequirementViewSet, basename="requirement")
router.register("applicability", statements.ApplicabilityViewSet, basename="applicability")
router.register("addressable-decisions", statements.AddressableDecisionViewSet, basename="addressabledecision")

urlpatterns = router.urls
