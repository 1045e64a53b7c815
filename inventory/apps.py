from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from inventory.receivers import evaluate_after_scan, link_requests_after_scan
        from inventory.signals import scan_completed

        scan_completed.connect(link_requests_after_scan, dispatch_uid="inventory.link_requests_after_scan")
        scan_completed.connect(evaluate_after_scan, dispatch_uid="inventory.evaluate_after_scan")
