"""Inspection domain: edge devices, their telemetry, the images they captured, and the inspections they reported.

An Inspection is stored exactly once per result (`result_id` is unique); the image is stored once under its
content hash, however many inspections refer to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.urls import reverse

from edge_worker.contracts.signing import DeviceSecret

from inspection.choices import DeadLetterReason, Verdict
from traceability.models import Cell, DrawingRevision, FailureCase, Part, Station


class EdgeDevice(models.Model):
    """An edge computer beside the cell (a Jetson in production). Its Celery queue is `edge.<device_id>`."""

    device_id = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="edge_devices", null=True, blank=True)
    hardware = models.CharField(max_length=200, blank=True)
    backend = models.CharField(max_length=40, blank=True)
    backend_version = models.CharField(max_length=40, blank=True)
    precision = models.CharField(max_length=10, blank=True)
    model_version = models.CharField(max_length=80, blank=True)
    power_source = models.CharField(max_length=200, blank=True, help_text="Power sampler and why, as reported.")
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_telemetry = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["device_id"]
        permissions = [("run_profiling", "Can run edge profiling")]

    def __str__(self) -> str:
        return self.device_id

    @property
    def queue_name(self) -> str:
        return f"edge.{self.device_id}"


class SecretUnavailable(Exception):
    """A stored secret cannot be re-derived: SECRET_KEY changed and the old one is not in SECRET_KEY_FALLBACKS."""


def derive_device_secret(salt: bytes, secret_key: str) -> DeviceSecret:
    """The device secret of a salt under a SECRET_KEY (HMAC-SHA256 as the key derivation, as in HKDF-Expand)."""
    key_encryption_key = hmac.new(secret_key.encode(), b"twinweb edge device secrets v1", hashlib.sha256).digest()
    return DeviceSecret(hmac.new(key_encryption_key, b"device secret\x00" + salt, hashlib.sha256).digest())


class EdgeDeviceSecret(models.Model):
    """A secret issued to an edge device, with which it signs what it sends and verifies the cobot's commands.

    The secret itself is stored nowhere: it is derived from SECRET_KEY and this row's random `salt`
    (`derive_device_secret`), so neither a copy of the database nor of the settings alone can sign as a device,
    and the server can still compute the MACs (HMAC needs the key). `kid` is its public fingerprint. A secret is in
    force while `expires_at` is empty (the current one) or in the future (a replaced one, during the rotation's
    grace period); `revoked` secrets expired when they were replaced. Rotating SECRET_KEY invalidates every device
    secret unless the old key stays in SECRET_KEY_FALLBACKS until new secrets are issued."""

    device = models.ForeignKey(EdgeDevice, on_delete=models.CASCADE, related_name="secrets")
    kid = models.CharField(max_length=16, unique=True, help_text="Public fingerprint of the secret.")
    salt = models.CharField(max_length=64, help_text="Random; the secret is derived from it and SECRET_KEY.")
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: the current secret. Set when a newer one replaced it."
    )

    class Meta:
        ordering = ["device_id", "-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=models.Q(expires_at__isnull=True), name="one_current_secret_per_device"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} secret {self.kid}"

    def in_force(self, now: dt.datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def secret(self) -> DeviceSecret:
        """The secret, re-derived (under SECRET_KEY or one of SECRET_KEY_FALLBACKS: the one its kid matches)."""
        salt = bytes.fromhex(self.salt)
        for secret_key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
            secret = derive_device_secret(salt, secret_key)
            if hmac.compare_digest(secret.kid, self.kid):
                return secret
        raise SecretUnavailable(f"secret {self.kid} of {self.device_id} was issued under another SECRET_KEY")


class ImageBlob(models.Model):
    """An inspection image, stored once under the sha256 of its bytes."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.FileField(upload_to="images/")
    content_type = models.CharField(max_length=40, default="image/png")
    size_bytes = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    stored_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.sha256[:12]

    def get_absolute_url(self) -> str:
        return reverse("image", args=[self.sha256])


class Inspection(models.Model):
    result_id = models.UUIDField(unique=True, help_text="Unique per result: makes ingest idempotent.")
    capture_id = models.UUIDField(db_index=True)
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="inspections")
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="inspections")
    drawing = models.ForeignKey(
        DrawingRevision,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspections",
        help_text="The drawing revision the part was measured against (empty before drawings were records).",
    )
    calibration = models.ForeignKey(
        "StationCalibration",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inspections",
        help_text="The station calibration (px per mm) the measurement used (empty: the renderer's default).",
    )
    device = models.ForeignKey(EdgeDevice, on_delete=models.PROTECT, related_name="inspections", null=True)
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    reason = models.TextField(blank=True)
    defect_class = models.CharField(max_length=40, blank=True)
    defect_confidence = models.FloatField(null=True, blank=True)
    class_probabilities = models.JSONField(default=dict, blank=True)
    findings = models.JSONField(default=list, blank=True)
    image = models.ForeignKey(ImageBlob, on_delete=models.PROTECT, related_name="inspections", null=True, blank=True)
    model_version = models.CharField(max_length=80, blank=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    model_alias = models.CharField(
        max_length=20,
        blank=True,
        help_text='The registry alias the model ran as ("champion"; blank: the shipped model).',
    )
    backend = models.CharField(max_length=40, blank=True)
    backend_version = models.CharField(max_length=40, blank=True)
    precision = models.CharField(max_length=10, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    timings_ms = models.JSONField(default=dict, blank=True)
    avg_power_mw = models.FloatField(null=True, blank=True)
    energy_mj = models.FloatField(null=True, blank=True)
    power_note = models.CharField(max_length=300, blank=True, help_text="Why power was not measured, if it was not.")
    captured_at = models.DateTimeField()
    inspected_at = models.DateTimeField()
    received_at = models.DateTimeField()
    needs_review = models.BooleanField(default=False)
    failure_case = models.OneToOneField(
        FailureCase, on_delete=models.PROTECT, null=True, blank=True, related_name="inspection"
    )

    class Meta:
        ordering = ["-captured_at"]
        permissions = [
            ("review_inspection", "Can review inspections in Debug Mode"),
            ("countersign_review", "Can countersign an override in Debug Mode"),
        ]
        indexes = [
            models.Index(fields=["part", "captured_at"]),
            models.Index(fields=["station", "captured_at"]),
            models.Index(fields=["verdict", "captured_at"]),
            models.Index(fields=["needs_review", "captured_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.part_id} {self.verdict} @ {self.captured_at:%H:%M:%S}"


class Measurement(models.Model):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="measurements")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=40)
    value = models.FloatField(null=True, blank=True)
    nominal = models.FloatField()
    lower_tol = models.FloatField()
    upper_tol = models.FloatField()
    unit = models.CharField(max_length=10, default="mm")
    passed = models.BooleanField()
    geometry = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["inspection_id", "id"]

    def __str__(self) -> str:
        return f"{self.name}={self.value}{self.unit}"


class DefectFinding(models.Model):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="defects")
    defect_class = models.CharField(max_length=40)
    confidence = models.FloatField()
    bbox = models.JSONField(default=list, blank=True, help_text="[x, y, w, h] in image pixels")

    class Meta:
        ordering = ["inspection_id", "-confidence"]

    def __str__(self) -> str:
        return f"{self.defect_class} {self.confidence:.2f}"


class DeadLetter(models.Model):
    """A message the server refused, kept whole (up to a size cap) with the reason, for someone to look at."""

    received_at = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=80, help_text="Task or endpoint that refused it.")
    reason = models.CharField(max_length=40, choices=DeadLetterReason.choices)
    detail = models.TextField()
    payload = models.JSONField(default=dict, blank=True)
    payload_bytes = models.PositiveIntegerField(default=0)
    resolved = models.BooleanField(default=False)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


# Edge worker telemetry: a bounded history of what each device reported about itself (the live view's charts).
# The device's latest state lives on EdgeDevice (last_heartbeat_at, last_telemetry); these rows are the series;
# `inspection.actions.ingest.record_telemetry` keeps at most settings.TWINWEB_TELEMETRY_HISTORY rows per device.
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


class StationCalibration(models.Model):
    """A station camera's scale (px per mm), measured from an image of a calibration target. The newest one is the
    station's current calibration: measurement uses it, and every inspection names the one it used."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="calibrations")
    px_per_mm = models.FloatField()
    residual_px = models.FloatField(help_text="RMS of the target's dot centres about the fitted grid.")
    dots = models.PositiveIntegerField()
    pitch_mm = models.FloatField(help_text="The target's dot pitch.")
    method = models.CharField(max_length=40, default="dot_grid")
    lens_k1 = models.FloatField(default=0.0, help_text="Radial lens distortion k1 (focal length = image width).")
    distortion_px = models.FloatField(default=0.0, help_text="The radial shift k1 gives at the image corner (px).")
    image = models.ForeignKey(ImageBlob, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    calibrated_at = models.DateTimeField()
    calibrated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["station_id", "-calibrated_at", "-id"]
        indexes = [models.Index(fields=["station", "calibrated_at"])]

    def __str__(self) -> str:
        return f"{self.station_id}: {self.px_per_mm:.5f} px/mm @ {self.calibrated_at:%Y-%m-%d}"
