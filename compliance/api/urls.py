from rest_framework.routers import SimpleRouter

from compliance.api import views

router = SimpleRouter()
router.register("frameworks", views.FrameworkViewSet, basename="framework")
router.register("requirements", views.RequirementViewSet, basename="requirement")

urlpatterns = router.urls
