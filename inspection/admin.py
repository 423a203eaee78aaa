"""Admin of the inspection app: edge devices are configured here; what they report is read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from inspection.actions.edge_auth import issue_edge_secret
from inspection.models import (
    DeadLetter,
    DefectFinding,
    EdgeDevice,
    EdgeDeviceSecret,
    StationCalibration,
    ImageBlob,
    Inspection,
    Measurement,
    TelemetrySample,
)
from traceability.admin import AuditedAdmin, ReadOnlyAdmin, ReadOnlyInline


class EdgeDeviceSecretInline(ReadOnlyInline):
    """The device's secrets by key id; the secret itself is shown once, when issued, and stored nowhere."""

    model = EdgeDeviceSecret
    fields = ("kid", "issued_at", "issued_by", "expires_at")
    readonly_fields = fields
    show_change_link = False
    verbose_name_plural = "secrets (issue a new one with the action on the device list)"


def _issue_secrets(request: HttpRequest, queryset: QuerySet[EdgeDevice], *, revoke_previous: bool) -> TemplateResponse:
    """Issue a secret per selected device (one audited action each) and show them this once. The page is the
    response to the POST itself, marked no-store: the secret is never in a session, a cookie or a cache."""
    issued = []
    for device in queryset:
        result = issue_edge_secret(device, actor=request.user, revoke_previous=revoke_previous)
        issued.append(
            {
                "device": device.device_id,
                "kid": result.secret.kid,
                "secret": result.secret.text(),
                "replaced": result.replaced,
            }
        )
    response = TemplateResponse(
        request,
        "admin/inspection/edge_secret_issued.html",
        {"issued_secrets": issued, "title": "New edge device secrets"},
    )
    response["Cache-Control"] = "no-store"
    return response


@admin.register(EdgeDevice)
class EdgeDeviceAdmin(AuditedAdmin):
    list_display = [
        "device_id",
        "name",
        "cell",
        "hardware",
        "backend",
        "precision",
        "model_version",
        "last_heartbeat_at",
    ]
    search_fields = ["device_id", "name", "hardware"]
    list_filter = ["backend", "precision"]
    inlines = [EdgeDeviceSecretInline]
    actions = ["issue_secret", "issue_secret_revoking_previous"]

    @admin.action(
        description="Issue a new secret (the previous one stays valid for the grace period)", permissions=["change"]
    )
    def issue_secret(self, request: HttpRequest, queryset: QuerySet[EdgeDevice]) -> Any:
        return _issue_secrets(request, queryset, revoke_previous=False)

    @admin.action(description="Issue a new secret and revoke the previous one now (it leaked)", permissions=["change"])
    def issue_secret_revoking_previous(self, request: HttpRequest, queryset: QuerySet[EdgeDevice]) -> Any:
        return _issue_secrets(request, queryset, revoke_previous=True)


@admin.register(EdgeDeviceSecret)
class EdgeDeviceSecretAdmin(ReadOnlyAdmin):
    """Issued secrets by key id (issued on the edge device list, never edited). The salt is not shown: with
    SECRET_KEY it is the secret."""

    list_display = ["kid", "device", "issued_at", "issued_by", "expires_at"]
    list_filter = ["device"]
    search_fields = ["kid", "device__device_id"]
    fields = ["kid", "device", "issued_at", "issued_by", "expires_at"]
    list_select_related = ["device", "issued_by"]


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
    list_display = [
        "result_id",
        "part",
        "station",
        "verdict",
        "defect_class",
        "model_version",
        "backend",
        "captured_at",
    ]
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


@admin.register(StationCalibration)
class StationCalibrationAdmin(ReadOnlyAdmin):
    """Calibrations are measured (the calibrate command or /calibration/), never typed in."""

    list_display = ["station", "px_per_mm", "residual_px", "dots", "calibrated_at", "calibrated_by"]
    list_filter = ["station__cell"]
