"""Cell link choices."""
from __future__ import annotations

from django.db import models


class CycleEventKind(models.TextChoices):
    CYCLE_START = "CycleStart", "Cycle start"
    CYCLE_END = "CycleEnd", "Cycle end"


class IncidentKind(models.TextChoices):
    CONNECTED = "connected", "Link up"
    DISCONNECTED = "disconnected", "Link down"
    PLC_RESTARTED = "plc_restarted", "PLC restarted (counters reset)"
    GAP = "gap", "Cycles lost (not in the PLC's buffer any more)"
    REFUSED = "refused", "Tag values refused"
    COBOT_FAILED = "cobot_failed", "Cobot did not complete a command"
