from django.contrib import admin

from modelops.models import AliasChange, DeployIntent, ModelAlias, ModelVersion, TrainingRun


@admin.register(ModelVersion, ModelAlias, AliasChange, DeployIntent, TrainingRun)
class ReadOnlyAdmin(admin.ModelAdmin):
    """Read-only: every registry write is a signed action on the /modelops/ pages."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
