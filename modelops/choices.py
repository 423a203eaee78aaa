"""The model registry's enums, with the badge colour each status shows."""

from __future__ import annotations

from django.db import models


class Alias(models.TextChoices):
    CHAMPION = "champion", "Champion (its verdict counts)"
    CANDIDATE = "candidate", "Candidate (shadow: runs beside the champion, its verdict does not count)"


class TrainingStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DeployStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the device to ask"
    INSTALLED = "installed", "Installed on the device"
    REFUSED = "refused", "Refused by the device"
    SUPERSEDED = "superseded", "Superseded by a later deployment"


class AliasChangeKind(models.TextChoices):
    ASSIGN = "assign", "Assigned"
    PROMOTE = "promote", "Promoted candidate to champion"
    ROLLBACK = "rollback", "Rolled back to the previous champion"
    AUTO_ROLLBACK = "auto_rollback", "Rolled back automatically (operators' override rate)"


BADGE = {
    TrainingStatus.QUEUED: "secondary",
    TrainingStatus.RUNNING: "info",
    TrainingStatus.DONE: "success",
    TrainingStatus.FAILED: "danger",
    DeployStatus.PENDING: "warning",
    DeployStatus.INSTALLED: "success",
    DeployStatus.REFUSED: "danger",
    DeployStatus.SUPERSEDED: "secondary",
}
