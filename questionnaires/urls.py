"""Pages of the questionnaires, under /questionnaires/ (namespace ``questionnaires``).

``assignments/<id>/`` is the address e-mails link to (``services.workflow.ASSIGNMENT_PATH``), and
``follow-ups/`` the one reconciliation e-mails link to (``services.reconciliation.FOLLOW_UPS_PATH``).
"""

from django.urls import path

from questionnaires.views import assignments, campaigns, follow_ups, my, reconciliation, vm_lists

app_name = "questionnaires"

urlpatterns = [
    path("", my.MyQuestionnairesView.as_view(), name="my"),
    path("campaigns/", campaigns.CampaignListView.as_view(), name="campaign_list"),
    path("campaigns/new/", campaigns.CampaignCreateView.as_view(), name="campaign_create"),
    path("campaigns/<int:pk>/", campaigns.CampaignDetailView.as_view(), name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", campaigns.CampaignUpdateView.as_view(), name="campaign_edit"),
    path("campaigns/<int:pk>/delete/", campaigns.CampaignStateView.as_view(action="delete"), name="campaign_delete"),
    path("campaigns/<int:pk>/launch/", campaigns.CampaignStateView.as_view(action="launch"), name="campaign_launch"),
    path("campaigns/<int:pk>/close/", campaigns.CampaignStateView.as_view(action="close"), name="campaign_close"),
    path("campaigns/<int:pk>/reopen/", campaigns.CampaignStateView.as_view(action="reopen"), name="campaign_reopen"),
    path("campaigns/<int:pk>/export/vms.csv", campaigns.ExportView.as_view(export="vms.csv"), name="export_vms_csv"),
    path(
        "campaigns/<int:pk>/export/answers.csv",
        campaigns.ExportView.as_view(export="answers.csv"),
        name="export_answers_csv",
    ),
    path("campaigns/<int:pk>/export/answers.xlsx", campaigns.ExportView.as_view(export="xlsx"), name="export_xlsx"),
    path("campaigns/<int:pk>/reconciliation/", reconciliation.ReconciliationView.as_view(), name="reconciliation"),
    path(
        "campaigns/<int:pk>/reconciliation/answer/",
        reconciliation.ReconciliationAnswerView.as_view(),
        name="reconciliation_answer",
    ),
    path(
        "campaigns/<int:pk>/reconciliation/route/",
        reconciliation.ReconciliationRouteView.as_view(),
        name="reconciliation_route",
    ),
    path("campaigns/<int:pk>/reconciliation/run/", reconciliation.ReconciliationRunView.as_view(),
         name="reconciliation_run"),
    path(
        "campaigns/<int:pk>/reconciliation/items.csv",
        reconciliation.ReconciliationExportView.as_view(export="csv"),
        name="reconciliation_export_csv",
    ),
    path(
        "campaigns/<int:pk>/reconciliation/items.xlsx",
        reconciliation.ReconciliationExportView.as_view(export="xlsx"),
        name="reconciliation_export_xlsx",
    ),
    path("follow-ups/", follow_ups.FollowUpsView.as_view(), name="follow_ups"),
    path("follow-ups/answer/", follow_ups.FollowUpAnswerView.as_view(), name="follow_ups_answer"),
    path("assignments/<int:pk>/", assignments.AssignmentView.as_view(), name="assignment"),
    path("assignments/<int:pk>/children/", assignments.ChildrenPartial.as_view(), name="assignment_children"),
    path(
        "assignments/<int:pk>/sections/<int:section_id>/",
        assignments.SectionPartial.as_view(),
        name="assignment_section",
    ),
    path("assignments/<int:pk>/vms/<int:question_id>/", vm_lists.VMListPartial.as_view(), name="assignment_vms"),
    path("assignments/<int:pk>/delegate/", assignments.DelegateView.as_view(), name="assignment_delegate"),
    path("assignments/<int:pk>/submit/", assignments.SubmitView.as_view(), name="assignment_submit"),
    path("assignments/<int:pk>/review/", assignments.ReviewView.as_view(), name="assignment_review"),
    path("assignments/<int:pk>/answer-for/", assignments.AnswerForView.as_view(), name="assignment_answer_for"),
    path("assignments/<int:pk>/reassign/", assignments.ReassignView.as_view(), name="assignment_reassign"),
]
