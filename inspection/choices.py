"""Enums of the inspection domain."""
from __future__ import annotations

from django.db import models


class Verdict(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    ERROR = "error", "Error"


class DeviceHealth(models.TextChoices):
    ONLINE = "online", "Online"
    STALE = "stale", "Stale"
    OFFLINE = "offline", "Offline"
    NEVER_SEEN = "never_seen", "Never seen"


class DeadLetterReason(models.TextChoices):
    MALFORMED = "malformed", "Malformed payload"
    UNKNOWN_DEVICE = "unknown_device", "Unknown device"
    UNKNOWN_PART = "unknown_part", "Unknown serial"
    UNKNOWN_STATION = "unknown_station", "Unknown station"
    OVERSIZED = "oversized", "Oversized image"
    CONFLICT = "conflict", "Conflicting duplicate"
    UNAUTHENTICATED = "unauthenticated", "Unauthenticated (unsigned, forged, replayed or expired)"


BADGE_COLOURS: dict[type[models.TextChoices], dict[str, str]] = {
    Verdict: {"pass": "ok", "fail": "bad", "error": "warn"},
    DeviceHealth: {"online": "ok", "stale": "warn", "offline": "bad", "never_seen": "neutral"},
}
