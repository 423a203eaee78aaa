from django.apps import AppConfig


class TraceabilityConfig(AppConfig):
    name = "traceability"
    verbose_name = "Traceability"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from traceability.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, sender=self)
