"""Edge profiling choices, with the badge colour each run status shows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ProfilingRunStatus(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("run status", "Queued")
    DONE = "done", pgettext_lazy("run status", "Done")
    FAILED = "failed", pgettext_lazy("run status", "Failed")


PROFILING_BADGES = {ProfilingRunStatus.QUEUED: "info", ProfilingRunStatus.DONE: "ok", ProfilingRunStatus.FAILED: "bad"}


class SeriesKind(models.TextChoices):
    POWER = "power", _("Power (mW)")
    MEMORY = "memory", _("Memory")


class Phase(models.TextChoices):
    """A variant's phases in a profiling run, in the order the device runs them (edge_worker.contracts.profiling)."""

    LOAD = "load", pgettext_lazy("profiling phase", "load")
    BUILD = "build", pgettext_lazy("profiling phase", "build")
    WARMUP = "warmup", pgettext_lazy("profiling phase", "warm-up")
    MEASURE = "measure", pgettext_lazy("profiling phase", "measure")
