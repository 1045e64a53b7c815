from rest_framework.routers import SimpleRouter

from questionnaires.api import reconciliation, views

router = SimpleRouter()
router.register("questionnaire-templates", views.QuestionnaireTemplateViewSet, basename="questionnairetemplate")
router.register("campaigns", views.CampaignViewSet, basename="campaign")
router.register("assignments", views.AssignmentViewSet, basename="assignment")
router.register("reconciliation-runs", reconciliation.ReconciliationRunViewSet, basename="reconciliationrun")
router.register("reconciliation-items", reconciliation.ReconciliationItemViewSet, basename="reconciliationitem")

urlpatterns = router.urls
