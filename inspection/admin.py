"""Django admin for the inspection domain. Inspections are the edge's records: read-only here."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from inspection.models import (
    Alarm,
    CobotCommand,
    DeadLetter,
    DefectFinding,
    EdgeDevice,
    ImageBlob,
    Inspection,
    Measurement,
    ProfilingRun,
    ProfilingSeries,
    ProfilingVariant,
    Review,
    ReviewClaim,
    ReviewedInspection,
    ReviewPin,
    Signature,
    TelemetrySample,
)
from traceability.admin import AuditedAdmin, ReadOnlyInline


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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


@admin.register(ProfilingRun)
class ProfilingRunAdmin(ReadOnlyAdmin):
    list_display = ["run_id", "device", "status", "requested_at", "hardware", "power_measured", "model_version"]
    list_filter = ["status", "power_measured", "device"]
    search_fields = ["run_id", "device__device_id", "hardware"]
    list_select_related = ["device"]


@admin.register(ProfilingVariant)
class ProfilingVariantAdmin(ReadOnlyAdmin):
    list_display = ["run", "key", "available", "accuracy", "fps", "latency_p99_ms", "avg_power_inference_mw", "fps_per_w_inference"]
    list_filter = ["key", "available"]
    search_fields = ["run__run_id", "key"]
    list_select_related = ["run"]


@admin.register(ProfilingSeries)
class ProfilingSeriesAdmin(ReadOnlyAdmin):
    list_display = ["variant", "kind"]
    list_filter = ["kind"]
    list_select_related = ["variant__run"]


# --- Debug Mode (read-only: reviews and signatures are written only by signing) ---------------------------


class ReviewedInspectionInline(ReadOnlyInline):
    model = ReviewedInspection
    fields = ("inspection",)
    readonly_fields = fields


class SignatureInline(ReadOnlyInline):
    model = Signature
    fields = ("printed_name", "signed_at", "meaning", "method", "content_sha256", "hash_version")
    readonly_fields = fields


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["inspection", "reviewer", "verdict", "disposition", "reason_code", "status", "review_seconds", "signed_at"]
    list_filter = ["verdict", "disposition", "status"]
    search_fields = ["inspection__part__serial", "inspection__result_id", "reviewer__username"]
    list_select_related = ["inspection__part", "reviewer"]
    inlines = [ReviewedInspectionInline, SignatureInline]


@admin.register(ReviewClaim)
class ReviewClaimAdmin(ReadOnlyAdmin):
    list_display = ["part", "inspection", "holder", "claimed_at", "expires_at", "ended_at", "end_reason"]
    list_filter = ["end_reason"]
    list_select_related = ["part", "inspection__part", "holder"]


@admin.register(ReviewedInspection)
class ReviewedInspectionAdmin(ReadOnlyAdmin):
    list_display = ["review", "inspection"]
    list_select_related = ["review", "inspection"]
    search_fields = ["inspection__result_id", "inspection__part__serial"]


@admin.register(CobotCommand)
class CobotCommandAdmin(ReadOnlyAdmin):
    list_display = ["command_id", "cell", "kind", "sent_at", "acked_at"]
    list_filter = ["kind", "cell"]
    search_fields = ["command_id", "inspection__part__serial"]
    list_select_related = ["cell"]


# --- Edge worker telemetry (machine-written: read-only) ---------------------------------------------------


@admin.register(TelemetrySample)
class TelemetrySampleAdmin(ReadOnlyAdmin):
    list_display = ["device", "at", "fps", "power_mw", "gpu_load", "backend", "precision", "model_version"]
    list_filter = ["device", "backend", "precision"]
    date_hierarchy = "at"
    list_select_related = ["device"]


# --- Live view: andon alarms (raised and cleared by rules, acknowledged through the live page: read-only) ----


@admin.register(Alarm)
class AlarmAdmin(ReadOnlyAdmin):
    list_display = ["cell", "rule", "station", "device", "raised_at", "cleared_at", "acknowledged_by", "acknowledged_at"]
    list_filter = ["cell", "rule"]
    date_hierarchy = "raised_at"
    list_select_related = ["cell", "station", "device", "acknowledged_by"]
    search_fields = ["message", "ack_reason"]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["review", "printed_name", "meaning", "method", "signed_at", "content_sha256"]
    list_filter = ["meaning", "method"]
    search_fields = ["printed_name", "review__inspection__part__serial"]


@admin.register(ReviewPin)
class ReviewPinAdmin(ReadOnlyAdmin):
    """Who has a signing PIN, and since when. The PIN itself is stored hashed and never shown."""

    list_display = ["user", "set_at"]
    fields = ["user", "set_at"]
    search_fields = ["user__username"]
