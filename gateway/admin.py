from django.contrib import admin

from gateway.models import CycleRecord, LinkIncident


@admin.register(CycleRecord)
class CycleRecordAdmin(admin.ModelAdmin):
    list_display = (
        "station",
        "boot_id",
        "sequence",
        "kind",
        "serial",
        "source_timestamp",
        "received_at",
        "dead_letter",
    )
    list_filter = ("station__cell", "station", "kind")
    search_fields = ("serial", "boot_id")
    readonly_fields = [f.name for f in CycleRecord._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(LinkIncident)
class LinkIncidentAdmin(admin.ModelAdmin):
    list_display = ("at", "cell", "kind", "station", "first_sequence", "last_sequence", "detail")
    list_filter = ("cell", "kind")
    readonly_fields = [f.name for f in LinkIncident._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False
