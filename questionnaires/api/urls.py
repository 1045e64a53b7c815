from rest_framework.routers import SimpleRouter

from questionnaires.api import views

router = SimpleRouter()
router.register("questionnaire-templates", views.QuestionnaireTemplateViewSet, basename="questionnairetemplate")
router.register("campaigns", views.CampaignViewSet, basename="campaign")
router.register("assignments", views.AssignmentViewSet, basename="assignment")

urlpatterns = router.urls
