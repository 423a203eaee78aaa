"""Admin of the edge profiling runs: read-only records (they are written by the product, never by hand)."""

from __future__ import annotations

from django.contrib import admin

from profiling.models import ProfilingRun, ProfilingSeries, ProfilingVariant
from traceability.admin import ReadOnlyAdmin


@admin.register(ProfilingRun)
class ProfilingRunAdmin(ReadOnlyAdmin):
    list_display = ["run_id", "device", "status", "requested_at", "hardware", "power_measured", "model_version"]
    list_filter = ["status", "power_measured", "device"]
    search_fields = ["run_id", "device__device_id", "hardware"]
    list_select_related = ["device"]


@admin.register(ProfilingVariant)
class ProfilingVariantAdmin(ReadOnlyAdmin):
    list_display = [
        "run",
        "key",
        "available",
        "accuracy",
        "fps",
        "latency_p99_ms",
        "avg_power_inference_mw",
        "fps_per_w_inference",
    ]
    list_filter = ["key", "available"]
    search_fields = ["run__run_id", "key"]
    list_select_related = ["run"]


@admin.register(ProfilingSeries)
class ProfilingSeriesAdmin(ReadOnlyAdmin):
    list_display = ["variant", "kind"]
    list_filter = ["kind"]
    list_select_related = ["variant__run"]


# --- Debug Mode (read-only: reviews and signatures are written only by signing) ---------------------------
