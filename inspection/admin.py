"""Admin of the inspection app: edge devices are configured here; what they report is read-only."""
from __future__ import annotations

from django.contrib import admin

from inspection.models import (
    DeadLetter,
    DefectFinding,
    EdgeDevice,
    ImageBlob,
    Inspection,
    Measurement,
    TelemetrySample,
)
from traceability.admin import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline


@admin.register(EdgeDevice)
class EdgeDeviceAdmin(AuditedAdmin):
    list_display = ["device_id", "name", "cell", "hardware", "backend", "precision", "model_version", "last_heartbeat_at"]
    search_fields = ["device_id", "name", "hardware"]
    list_filter = ["backend", "precision"]


class MeasurementInline(ReadOnlyInline):
    model = Measurement
    fields = ("name", "value", "nominal", "lower_tol", "upper_tol", "unit", "passed")
    readonly_fields = fields


class DefectFindingInline(ReadOnlyInline):
    model = DefectFinding
    fields = ("defect_class", "confidence", "bbox")
    readonly_fields = fields


@admin.register(Inspection)
class InspectionAdmin(ReadOnlyAdmin):
    list_display = ["result_id", "part", "station", "verdict", "defect_class", "model_version", "backend", "captured_at"]
    list_filter = ["verdict", "station", "backend", "needs_review"]
    search_fields = ["part__serial", "result_id", "capture_id"]
    date_hierarchy = "captured_at"
    list_select_related = ["part", "station__cell"]
    inlines = [MeasurementInline, DefectFindingInline]


@admin.register(Measurement)
class MeasurementAdmin(ReadOnlyAdmin):
    list_display = ["inspection", "name", "value", "nominal", "lower_tol", "upper_tol", "passed"]
    list_filter = ["passed", "name"]
    search_fields = ["inspection__part__serial", "name"]


@admin.register(DefectFinding)
class DefectFindingAdmin(ReadOnlyAdmin):
    list_display = ["inspection", "defect_class", "confidence"]
    list_filter = ["defect_class"]
    search_fields = ["inspection__part__serial"]


@admin.register(ImageBlob)
class ImageBlobAdmin(ReadOnlyAdmin):
    list_display = ["sha256", "size_bytes", "width", "height", "stored_at"]
    search_fields = ["sha256"]


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "source", "reason", "detail", "resolved"]
    list_filter = ["reason", "source", "resolved"]
    search_fields = ["detail"]


# --- Edge profiling (machine-written: read-only) ---------------------------------------------------------


@admin.register(TelemetrySample)
class TelemetrySampleAdmin(ReadOnlyAdmin):
    list_display = ["device", "at", "fps", "power_mw", "gpu_load", "backend", "precision", "model_version"]
    list_filter = ["device", "backend", "precision"]
    date_hierarchy = "at"
    list_select_related = ["device"]


# --- Live view: andon alarms (raised and cleared by rules, acknowledged through the live page: read-only) ----
