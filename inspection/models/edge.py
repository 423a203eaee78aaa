"""Edge worker telemetry: a bounded history of what each device reported about itself (the live view's charts).

The device's latest state lives on EdgeDevice (last_heartbeat_at, last_telemetry); these rows are the series.
`inspection.actions.ingest.record_telemetry` keeps at most settings.TWINWEB_TELEMETRY_HISTORY rows per device.
"""
from __future__ import annotations

from django.db import models

from inspection.models.core import EdgeDevice

__all__ = ["TelemetrySample"]


class TelemetrySample(models.Model):
    device = models.ForeignKey(EdgeDevice, on_delete=models.CASCADE, related_name="telemetry")
    at = models.DateTimeField(help_text="When the device took the reading (device clock).")
    received_at = models.DateTimeField()
    fps = models.FloatField(null=True, blank=True, help_text="Inspections per second over the last interval.")
    power_mw = models.FloatField(null=True, blank=True, help_text="Null when the device cannot measure power.")
    gpu_load = models.FloatField(null=True, blank=True, help_text="Percent; null where unavailable.")
    memory = models.JSONField(default=dict, blank=True)
    temperature = models.JSONField(default=dict, blank=True)
    backend = models.CharField(max_length=40, blank=True)
    precision = models.CharField(max_length=10, blank=True)
    model_version = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["device_id", "-at"]
        indexes = [models.Index(fields=["device", "at"])]

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.at:%H:%M:%S}"
