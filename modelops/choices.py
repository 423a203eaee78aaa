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
    INSTALLED = "installed", _("Installed on the device")
    REFUSED = "refused", _("Refused by the device")
    SUPERSEDED = "superseded", _("Superseded by a later deployment")


class AliasChangeKind(models.TextChoices):
    ASSIGN = "assign", _("Assigned")
    PROMOTE = "promote", _("Promoted candidate to champion")
    ROLLBACK = "rollback", _("Rolled back to the previous champion")
    AUTO_ROLLBACK = "auto_rollback", _("Rolled back automatically (operators' override rate)")


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
