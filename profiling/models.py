"""Edge profiling runs: the deck's performance-per-watt table, measured on a device for each variant it has.

A run is requested (queued) by `manage.py profile_edge` or the /profiling/ page, executed on the device
(`edge_worker.profiling`), and stored when its report arrives on the ingest queue. Each variant (backend x
precision) is a row with the deck's metrics; its power and memory series are kept for the charts.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from inspection.models import EdgeDevice
from profiling.choices import PROFILING_BADGES, ProfilingRunStatus, SeriesKind


class ProfilingRun(models.Model):
    run_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    device = models.ForeignKey(EdgeDevice, on_delete=models.PROTECT, related_name="profiling_runs")
    status = models.CharField(max_length=10, choices=ProfilingRunStatus.choices, default=ProfilingRunStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    config = models.JSONField(default=dict, blank=True, help_text="images, warmup, rounds, batch size, seed, sampler.")
    started_at = models.DateTimeField(null=True, blank=True, help_text="Device clock.")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="Device clock.")
    received_at = models.DateTimeField(null=True, blank=True)
    hardware = models.CharField(max_length=200, blank=True)
    power_source = models.TextField(blank=True, help_text="The power sampler and why, as the device reported it.")
    power_measured = models.BooleanField(default=False)
    model_version = models.CharField(max_length=80, blank=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    environment = models.JSONField(default=dict, blank=True, help_text="Runtime versions on the device.")
    error = models.TextField(blank=True)

    class Meta:
        db_table = "inspection_profilingrun"
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["device", "requested_at"])]

    def __str__(self) -> str:
        return f"{self.device_id} {self.requested_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def badge(self) -> str:
        return PROFILING_BADGES.get(ProfilingRunStatus(self.status), "neutral")


class ProfilingVariant(models.Model):
    """One backend x precision of a run. Unavailable variants are kept with the reason and no metrics."""

    run = models.ForeignKey(ProfilingRun, on_delete=models.CASCADE, related_name="variants")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.CharField(max_length=40)
    label = models.CharField(max_length=80, blank=True)
    backend = models.CharField(max_length=40)
    precision = models.CharField(max_length=10)
    available = models.BooleanField(default=False)
    reason = models.TextField(blank=True, help_text="Runtime and version, or why the variant could not run.")
    device = models.CharField(max_length=200, blank=True)
    backend_version = models.CharField(max_length=40, blank=True)
    phases = models.JSONField(default=list, blank=True, help_text="[{name, start_s, end_s, duration_s}] in order.")
    images = models.PositiveIntegerField(null=True, blank=True, help_text="Images inferred in the real rounds.")
    correct = models.PositiveIntegerField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    latency_p50_ms = models.FloatField(null=True, blank=True)
    latency_p99_ms = models.FloatField(null=True, blank=True)
    latency_mean_ms = models.FloatField(null=True, blank=True)
    mem_rss_bytes_peak = models.BigIntegerField(null=True, blank=True)
    mem_process_percent_peak = models.FloatField(null=True, blank=True)
    mem_system_percent_peak = models.FloatField(null=True, blank=True)
    gpu_mem_bytes = models.BigIntegerField(null=True, blank=True)
    gpu_mem_note = models.CharField(max_length=200, blank=True)
    avg_power_total_mw = models.FloatField(null=True, blank=True, help_text="Whole variant run: load to last round.")
    avg_power_inference_mw = models.FloatField(null=True, blank=True, help_text="Real rounds only.")
    fps_per_w_total = models.FloatField(null=True, blank=True)
    fps_per_w_inference = models.FloatField(null=True, blank=True)
    energy_per_image_mj = models.FloatField(null=True, blank=True)
    power_note = models.TextField(blank=True, help_text='"not measured: <why>" when power could not be measured.')
    metrics = models.JSONField(default=dict, blank=True, help_text="Everything the device reported.")

    class Meta:
        db_table = "inspection_profilingvariant"
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="profiling_variant_unique_key")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.key}"


class ProfilingSeries(models.Model):
    """A variant's samples over time. Power points: [t_s, mW, phase]; memory: [t_s, rss bytes, process %,
    system %, phase]. t_s counts from the start of the run, so variants share one time axis."""

    variant = models.ForeignKey(ProfilingVariant, on_delete=models.CASCADE, related_name="series")
    kind = models.CharField(max_length=10, choices=SeriesKind.choices)
    points = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "inspection_profilingseries"
        ordering = ["variant", "kind"]
        constraints = [models.UniqueConstraint(fields=["variant", "kind"], name="profiling_series_unique_kind")]
        verbose_name_plural = "profiling series"

    def __str__(self) -> str:
        return f"{self.variant} {self.kind} ({len(self.points)} points)"
