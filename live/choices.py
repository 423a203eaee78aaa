"""Live view choices."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AlarmRule(models.TextChoices):
    NOK_STREAK = "nok_streak", _("Three NOK in a row at a station")
    # xgettext:no-python-format
    SLOW_CYCLE = "slow_cycle", _("Cycle time over target by 20% for ten parts")
    STALE_DEVICE = "stale_device", _("Edge device stale")
    SPC = "spc", _("SPC run rule violated")  # raised by spc.actions; acknowledged there with cause and action
    LINK_GAP = "link_gap", _("PLC events lost on the cell link")


# Alarms for something that happened (not a condition a rule re-evaluates): acknowledging one clears it.
EVENT_RULES = frozenset({AlarmRule.LINK_GAP})
