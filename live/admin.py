"""Admin of the live view's andon alarms: read-only records (they are written by the product, never by hand)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from live.models import Alarm
from traceability.admin import ReadOnlyAdmin


@admin.register(Alarm)
class AlarmAdmin(ReadOnlyAdmin):
    list_display = [
        "cell",
        "rule",
        "station",
        "device",
        "words",
        "raised_at",
        "cleared_at",
        "acknowledged_by",
        "acknowledged_at",
    ]
    list_filter = ["cell", "rule"]
    date_hierarchy = "raised_at"
    list_select_related = ["cell", "station", "device", "acknowledged_by"]
    search_fields = ["message", "ack_reason"]

    @admin.display(description=_("message"))
    def words(self, alarm: Alarm) -> str:
        return alarm.text()
