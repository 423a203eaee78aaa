"""The model registry: every trained defect classifier as a content-addressed version, the aliases each cell runs
(`champion`, `candidate`), what a device was asked to install, training runs, and shadow comparisons.

A version's ONNX file lives at MEDIA_ROOT/models/<sha256[:2]>/<sha256>.onnx: its name is its content, so two
registrations of the same bytes are one version and a file that no longer hashes to its name is detectably wrong.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from inspection.models import EdgeDevice
from modelops.choices import BADGE, OPEN_DEPLOY_STATUSES, Alias, AliasChangeKind, DeployStatus, TrainingStatus
from traceability.models import Cell


class ModelVersion(models.Model):
    sha256 = models.CharField(max_length=64, unique=True, help_text="sha256 of the ONNX file: its identity.")
    version = models.CharField(max_length=80, unique=True, help_text="Human name, e.g. defect-mnv2-1.0.0+r3.")
    file = models.CharField(max_length=200, help_text="Path under MEDIA_ROOT (content-addressed).")
    bytes = models.PositiveIntegerField()
    card = models.JSONField(help_text="The model card (defect_classifier.json) as training wrote it.")
    provenance = models.JSONField(default=dict, help_text="Rendered seeds and sizes, reviewed sample (review) ids.")
    golden_set = models.CharField(max_length=40, blank=True, help_text="Which golden set the metrics are on.")
    golden_metrics = models.JSONField(default=dict, blank=True)
    code_version = models.CharField(max_length=80, blank=True, help_text="git describe of the training code.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("manage_models", "Train, deploy, promote and roll back defect models")]

    def __str__(self) -> str:
        return self.version


class ModelAlias(models.Model):
    """Which version a cell runs as champion or candidate. `previous` is what a rollback returns to."""

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="+")
    alias = models.CharField(max_length=20, choices=Alias.choices)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    previous = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cell", "alias"], name="one_alias_per_cell")]

    def __str__(self) -> str:
        return f"{self.cell_id} {self.alias} = {self.version_id}"


class AliasChange(models.Model):
    """Every move of an alias, with the signature that approved it (none only for an automatic rollback)."""

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="+")
    alias = models.CharField(max_length=20, choices=Alias.choices)
    kind = models.CharField(max_length=20, choices=AliasChangeKind.choices)
    from_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signature_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="traceability RecordSignature.")

    class Meta:
        ordering = ["-at", "-id"]


class DeployIntent(models.Model):
    """What a device is to install. It waits here until the device asks (on start and heartbeat), then follows the
    device's reports: downloading, building its engines, profiling, ready (installed) or failed (refused)."""

    device = models.ForeignKey(EdgeDevice, on_delete=models.PROTECT, related_name="+")
    alias = models.CharField(max_length=20, choices=Alias.choices)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="deployments")
    status = models.CharField(max_length=20, choices=DeployStatus.choices, default=DeployStatus.PENDING)
    reason = models.TextField(blank=True)
    progress = models.CharField(
        max_length=200, blank=True, help_text='The device\'s last step, e.g. "building 2 of 4".'
    )
    engines = models.JSONField(
        default=list, blank=True, help_text="Engines built on the device: backend, precision, built, seconds, detail."
    )
    profiling_run_id = models.UUIDField(null=True, blank=True, help_text="The profiling run of this delivery.")
    requested_at = models.DateTimeField()
    offered_at = models.DateTimeField(null=True, blank=True, help_text="Last time the device was told.")
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "alias"],
                condition=models.Q(status__in=[s.value for s in OPEN_DEPLOY_STATUSES]),
                name="one_open_deploy_per_device_alias",
            )
        ]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_DEPLOY_STATUSES

    @property
    def badge(self) -> str:
        return BADGE.get(DeployStatus(self.status), "neutral")

    @property
    def build_seconds(self) -> float | None:
        seconds = [e["seconds"] for e in self.engines if e.get("built") and e.get("seconds") is not None]
        return round(sum(seconds), 3) if seconds else None


class TrainingRun(models.Model):
    status = models.CharField(max_length=20, choices=TrainingStatus.choices, default=TrainingStatus.QUEUED)
    params = models.JSONField(default=dict)
    progress = models.JSONField(default=list, help_text="One entry per epoch: epoch, loss, val_accuracy, seconds.")
    error = models.TextField(blank=True)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]


class ShadowComparison(models.Model):
    """One capture classified by champion and candidate on the device. Only the champion's verdict counted."""

    device = models.ForeignKey(EdgeDevice, on_delete=models.PROTECT, related_name="+")
    result_id = models.CharField(max_length=40)
    champion = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    champion_class = models.CharField(max_length=40)
    candidate_class = models.CharField(max_length=40)
    champion_confidence = models.FloatField()
    candidate_confidence = models.FloatField()
    agree = models.BooleanField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "result_id", "candidate"], name="one_shadow_per_result_and_candidate"
            )
        ]
