"""Cell link choices."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CycleEventKind(models.TextChoices):
    CYCLE_START = "CycleStart", _("Cycle start")
    CYCLE_END = "CycleEnd", _("Cycle end")


class IncidentKind(models.TextChoices):
    CONNECTED = "connected", _("Link up")
    DISCONNECTED = "disconnected", _("Link down")
    PLC_RESTARTED = "plc_restarted", _("PLC restarted (counters reset)")
    GAP = "gap", _("Cycles lost (not in the PLC's buffer any more)")
    REFUSED = "refused", _("Tag values refused")
    COBOT_FAILED = "cobot_failed", _("Cobot did not complete a command")
