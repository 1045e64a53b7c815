from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal: people, roles and audit trail"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from portal.services.roles import roles_sync

        # Roles are Django groups; they must exist before anyone can be granted one.
        post_migrate.connect(lambda **kwargs: roles_sync(), sender=self, weak=False)
