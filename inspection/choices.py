"""Enums of the inspection domain."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Verdict(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Fail")
    ERROR = "error", _("Error")


class DeviceHealth(models.TextChoices):
    ONLINE = "online", _("Online")
    STALE = "stale", _("Stale")
    OFFLINE = "offline", _("Offline")
    NEVER_SEEN = "never_seen", _("Never seen")


class DeadLetterReason(models.TextChoices):
    MALFORMED = "malformed", _("Malformed payload")
    UNKNOWN_DEVICE = "unknown_device", _("Unknown device")
    UNKNOWN_PART = "unknown_part", _("Unknown serial")
    UNKNOWN_STATION = "unknown_station", _("Unknown station")
    OVERSIZED = "oversized", _("Oversized image")
    CONFLICT = "conflict", _("Conflicting duplicate")
    UNAUTHENTICATED = "unauthenticated", _("Unauthenticated (unsigned, forged, replayed or expired)")


BADGE_COLOURS: dict[type[models.TextChoices], dict[str, str]] = {
    Verdict: {"pass": "ok", "fail": "bad", "error": "warn"},
    DeviceHealth: {"online": "ok", "stale": "warn", "offline": "bad", "never_seen": "neutral"},
}
