from django.apps import AppConfig


class QuestionnairesConfig(AppConfig):
    name = "questionnaires"
    verbose_name = "Questionnaires"

    def ready(self) -> None:
        from inventory.signals import scan_completed
        from questionnaires.receivers import evaluate_policies_after_reconciliation, reconcile_after_scan
        from questionnaires.signals import reconciliation_completed

        scan_completed.connect(reconcile_after_scan, dispatch_uid="questionnaires.reconcile_after_scan")
        reconciliation_completed.connect(
            evaluate_policies_after_reconciliation, dispatch_uid="questionnaires.evaluate_policies_after_reconciliation"
        )
