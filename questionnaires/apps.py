from django.apps import AppConfig


class QuestionnairesConfig(AppConfig):
    name = "questionnaires"
    verbose_name = "Questionnaires"

    def ready(self) -> None:
        from inventory.signals import scan_completed
        from questionnaires.receivers import reconcile_after_scan

        scan_completed.connect(reconcile_after_scan, dispatch_uid="questionnaires.reconcile_after_scan")
