"""Edge profiling choices, with the badge colour each run status shows."""
from __future__ import annotations

from django.db import models


class ProfilingRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


PROFILING_BADGES = {ProfilingRunStatus.QUEUED: "info", ProfilingRunStatus.DONE: "ok", ProfilingRunStatus.FAILED: "bad"}


class SeriesKind(models.TextChoices):
    POWER = "power", "Power (mW)"
    MEMORY = "memory", "Memory"
