from django.urls import path
from rest_framework.routers import SimpleRouter

from compliance.api import attestations, exceptions, plans, statements, views

router = SimpleRouter()
router.register("frameworks", views.FrameworkViewSet, basename="framework")
router.register("requirements", views.RequirementViewSet, basename="requirement")
router.register("controls", views.ControlViewSet, basename="control")
router.register("control-mappings", views.ControlMappingViewSet, basename="controlmapping")
router.register("control-evaluations", views.ControlEvaluationViewSet, basename="controlevaluation")
router.register("applicability", statements.ApplicabilityViewSet, basename="applicability")
router.register("control-tests", attestations.ControlTestViewSet, basename="controltest")
router.register("evidence", attestations.EvidenceViewSet, basename="evidence")
router.register("exceptions", exceptions.RiskExceptionViewSet, basename="riskexception")
router.register("plan-versions", plans.PlanVersionViewSet, basename="planversion")
router.register("addressable-decisions", statements.AddressableDecisionViewSet, basename="addressabledecision")

urlpatterns = [
    *router.urls,
    path("plan-versions/<int:number>/signoff/", plans.PlanSignoffView.as_view(), name="planversion-signoff"),
]
