from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from compliance.receivers import evaluate_after_policies, evaluate_after_reconciliation, evaluate_after_scan
        from inventory.signals import policies_evaluated, scan_completed
        from questionnaires.signals import reconciliation_completed

        scan_completed.connect(evaluate_after_scan, dispatch_uid="compliance.evaluate_after_scan")
        policies_evaluated.connect(evaluate_after_policies, dispatch_uid="compliance.evaluate_after_policies")
        reconciliation_completed.connect(
            evaluate_after_reconciliation, dispatch_uid="compliance.evaluate_after_reconciliation"
        )
