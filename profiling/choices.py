"""Edge profiling choices, with the badge colour each run status shows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProfilingRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


PROFILING_BADGES = {ProfilingRunStatus.QUEUED: "info", ProfilingRunStatus.DONE: "ok", ProfilingRunStatus.FAILED: "bad"}


class SeriesKind(models.TextChoices):
    POWER = "power", _("Power (mW)")
    MEMORY = "memory", _("Memory")
