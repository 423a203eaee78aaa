"""Enums of the health report and of the cell gateway's heartbeat."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ComponentStatus(models.TextChoices):
    OK = "ok", _("OK")
    DEGRADED = "degraded", _("Degraded")
    NOT_CONFIGURED = "not_configured", _("Not configured")
    DOWN = "down", _("Down")


class GatewayLinkState(models.TextChoices):
    """The cell gateway's link to the cell's PLC (OPC UA), as the gateway reports it in its heartbeat (the values
    gateway/link.py writes): up, down (the gateway is reconnecting, `error` says why) or stopped (shut down)."""

    UP = "up", _("Up")
    DOWN = "down", _("Down")
    STOPPED = "stopped", _("Stopped")


BADGE_COLOURS: dict[type[models.TextChoices], dict[str, str]] = {
    ComponentStatus: {"ok": "ok", "degraded": "warn", "not_configured": "neutral", "down": "bad"},
    GatewayLinkState: {"up": "ok", "down": "bad", "stopped": "neutral"},
}
