"""Admin: the reaction plan's lists (assignable causes, corrective actions) are edited here, through the audited
save; characteristics, limits, violations and gauge studies are read-only (they change through spc.actions, on
the SPC pages)."""

from __future__ import annotations

from django.contrib import admin

from spc.models import AssignableCause, Characteristic, ControlLimits, CorrectiveAction, GaugeStudy, RuleViolation
from traceability.admin import AuditedAdmin, ReadOnlyAdmin


@admin.register(AssignableCause)
class AssignableCauseAdmin(AuditedAdmin):
    list_display = ("code", "name", "active")
    list_filter = ("active",)


@admin.register(CorrectiveAction)
class CorrectiveActionAdmin(AuditedAdmin):
    list_display = ("code", "name", "active")
    list_filter = ("active",)


@admin.register(Characteristic)
class CharacteristicAdmin(ReadOnlyAdmin):
    list_display = ("feature", "part_type", "drawing", "station", "chart_kind", "subgroup_size")
    list_filter = ("part_type", "chart_kind")


@admin.register(ControlLimits)
class ControlLimitsAdmin(ReadOnlyAdmin):
    list_display = ("characteristic", "center", "lcl", "ucl", "frozen_at", "frozen_by", "superseded_at")


@admin.register(RuleViolation)
class RuleViolationAdmin(ReadOnlyAdmin):
    list_display = (
        "characteristic",
        "rule",
        "serial",
        "detected_at",
        "acknowledged_at",
        "assignable_cause",
        "corrective_action",
    )
    list_filter = ("rule",)


@admin.register(GaugeStudy)
class GaugeStudyAdmin(ReadOnlyAdmin):
    list_display = ("characteristic", "n", "cg", "cgk", "capable", "recorded_at")
