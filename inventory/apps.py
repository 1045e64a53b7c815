from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from inventory.receivers import link_requests_after_scan
        from inventory.signals import scan_completed

        scan_completed.connect(link_requests_after_scan, dispatch_uid="inventory.link_requests_after_scan")
