"""The model registry's enums, with the badge colour each status shows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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
    DOWNLOADING = "downloading", _("Downloading")
    BUILDING = "building", _("Building engines")
    PROFILING = "profiling", _("Profiling on the device")
    INSTALLED = "installed", _("Ready on the device (built and profiled)")
    REFUSED = "refused", _("Failed on the device")
    SUPERSEDED = "superseded", "Superseded by a later deployment"


# A deployment the device has not finished: offered again whenever the device asks (it may have restarted mid-build),
# superseded by a newer deployment of the same alias.
OPEN_DEPLOY_STATUSES = (
    DeployStatus.PENDING,
    DeployStatus.DOWNLOADING,
    DeployStatus.BUILDING,
    DeployStatus.PROFILING,
)


class AliasChangeKind(models.TextChoices):
    ASSIGN = "assign", "Assigned"
    PROMOTE = "promote", "Promoted candidate to champion"
    ROLLBACK = "rollback", "Rolled back to the previous champion"
    AUTO_ROLLBACK = "auto_rollback", "Rolled back automatically (operators' override rate)"


# The stylesheet's badge classes (badge-ok, badge-bad, badge-warn, badge-info, badge-neutral).
BADGE = {
    TrainingStatus.QUEUED: "neutral",
    TrainingStatus.RUNNING: "info",
    TrainingStatus.DONE: "ok",
    TrainingStatus.FAILED: "bad",
    DeployStatus.PENDING: "warn",
    DeployStatus.DOWNLOADING: "info",
    DeployStatus.BUILDING: "info",
    DeployStatus.PROFILING: "info",
    DeployStatus.INSTALLED: "ok",
    DeployStatus.REFUSED: "bad",
    DeployStatus.SUPERSEDED: "neutral",
}
