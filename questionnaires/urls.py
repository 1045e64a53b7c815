"""Pages of the questionnaires, under /questionnaires/ (namespace ``questionnaires``).

``assignments/<id>/`` is the address e-mails link to (``services.notifications.ASSIGNMENT_PATH``).
"""

from django.urls import path

from questionnaires import views

app_name = "questionnaires"

urlpatterns = [
    path("", views.MyQuestionnairesView.as_view(), name="my"),
    path("inbox/", views.InboxView.as_view(), name="inbox"),
    path("campaigns/", views.CampaignListView.as_view(), name="campaign_list"),
    path("campaigns/new/", views.CampaignCreateView.as_view(), name="campaign_create"),
    path("campaigns/people/", views.PersonSearchPartial.as_view(), name="person_search"),
    path("campaigns/<int:pk>/", views.CampaignDetailView.as_view(), name="campaign_detail"),
    path("campaigns/<int:pk>/launch/", views.CampaignStateView.as_view(action="launch"), name="campaign_launch"),
    path("campaigns/<int:pk>/close/", views.CampaignStateView.as_view(action="close"), name="campaign_close"),
    path("campaigns/<int:pk>/reopen/", views.CampaignStateView.as_view(action="reopen"), name="campaign_reopen"),
    path("campaigns/<int:pk>/export/vms.csv", views.ExportView.as_view(export="vms.csv"), name="export_vms_csv"),
    path(
        "campaigns/<int:pk>/export/answers.csv",
        views.ExportView.as_view(export="answers.csv"),
        name="export_answers_csv",
    ),
    path("campaigns/<int:pk>/export/answers.xlsx", views.ExportView.as_view(export="xlsx"), name="export_xlsx"),
    path("assignments/<int:pk>/", views.AssignmentView.as_view(), name="assignment"),
    path("assignments/<int:pk>/children/", views.ChildrenPartial.as_view(), name="assignment_children"),
    path(
        "assignments/<int:pk>/sections/<int:section_id>/",
        views.SectionPartial.as_view(),
        name="assignment_section",
    ),
    path("assignments/<int:pk>/vms/<int:question_id>/", views.VMListPartial.as_view(), name="assignment_vms"),
    path("assignments/<int:pk>/delegate/", views.DelegateView.as_view(), name="assignment_delegate"),
    path("assignments/<int:pk>/submit/", views.SubmitView.as_view(), name="assignment_submit"),
    path("assignments/<int:pk>/review/", views.ReviewView.as_view(), name="assignment_review"),
    path("assignments/<int:pk>/answer-for/", views.AnswerForView.as_view(), name="assignment_answer_for"),
    path("campaigns/area-mappings/", views.AreaMappingListView.as_view(), name="area_mappings"),
    path(
        "campaigns/area-mappings/<int:pk>/delete/",
        views.AreaMappingDeleteView.as_view(),
        name="area_mapping_delete",
    ),
]
