"""The model registry's enums, with the badge colour each status shows."""

from __future__ import annotations

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Alias(models.TextChoices):
    CHAMPION = "champion", _("Champion (its verdict counts)")
    CANDIDATE = "candidate", _("Candidate (shadow: runs beside the champion, its verdict does not count)")


# The aliases' short names, as a sentence or a table cell says them.
ALIAS_NAMES: dict[str, str | Promise] = {Alias.CHAMPION: _("champion"), Alias.CANDIDATE: _("candidate")}


class TrainingStatus(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("run status", "Queued")
    RUNNING = "running", pgettext_lazy("run status", "Running")
    DONE = "done", pgettext_lazy("run status", "Done")
    FAILED = "failed", pgettext_lazy("run status", "Failed")


class DeployStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the device to ask")
    DOWNLOADING = "downloading", _("Downloading")
    BUILDING = "building", _("Building engines")
    PROFILING = "profiling", _("Profiling on the device")
    INSTALLED = "installed", _("Ready on the device (built and profiled)")
    REFUSED = "refused", _("Failed on the device")
    SUPERSEDED = "superseded", _("Superseded by a later deployment")


# A deployment the device has not finished: offered again whenever the device asks (it may have restarted mid-build),
# superseded by a newer deployment of the same alias.
OPEN_DEPLOY_STATUSES = (
    DeployStatus.PENDING,
    DeployStatus.DOWNLOADING,
    DeployStatus.BUILDING,
    DeployStatus.PROFILING,
)


class AliasChangeKind(models.TextChoices):
    ASSIGN = "assign", _("Assigned")
    PROMOTE = "promote", _("Promoted candidate to champion")
    ROLLBACK = "rollback", _("Rolled back to the previous champion")
    AUTO_ROLLBACK = "auto_rollback", _("Rolled back automatically (operators' override rate)")


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
