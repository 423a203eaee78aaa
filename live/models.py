"""Live view: andon alarms raised by rules on the cell's recent history, acknowledged by people with a reason."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from inspection.models import EdgeDevice
from live.alarm_texts import AlarmText, render
from live.choices import AlarmRule
from traceability.models import Cell, Station


class Alarm(models.Model):
    """One andon alarm. Active while `cleared_at` is empty; acknowledging does not clear it (the rule does)."""

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="alarms")
    rule = models.CharField(max_length=20, choices=AlarmRule.choices)
    station = models.ForeignKey(Station, on_delete=models.PROTECT, null=True, blank=True, related_name="alarms")
    device = models.ForeignKey(EdgeDevice, on_delete=models.PROTECT, null=True, blank=True, related_name="alarms")
    message = models.CharField(max_length=300)  # in English: logs, the API and the audit trail read it
    # The words again as a msgid and its parameters (live/alarm_texts.py), rendered in each reader's language.
    # Empty on alarms raised before texts were stored so: those show `message`.
    message_code = models.CharField(max_length=300, blank=True, default="")
    message_params = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_reason = models.TextField(blank=True)

    class Meta:
        db_table = "inspection_alarm"  # created by the inspection app before the live view became its own app
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["cell", "cleared_at"]), models.Index(fields=["cell", "raised_at"])]
        constraints = [
            # At most one active alarm per rule and subject: re-evaluating a rule never raises a duplicate.
            models.UniqueConstraint(
                fields=["cell", "rule", "station"],
                # SPC alarms are one per characteristic and rule (spc.RuleViolation keeps that), many per station.
                condition=models.Q(cleared_at__isnull=True, device__isnull=True) & ~models.Q(rule="spc"),
                name="alarm_one_active_per_station_rule",
            ),
            models.UniqueConstraint(
                fields=["cell", "rule", "device"],
                condition=models.Q(cleared_at__isnull=True, device__isnull=False),
                name="alarm_one_active_per_device_rule",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.station_id or self.device_id} @ {self.raised_at:%H:%M:%S}"

    def set_text(self, text: AlarmText) -> None:
        self.message, self.message_code, self.message_params = text.english(), text.code, text.params

    def text(self) -> str:
        """The alarm's words in the active language (the English `message` for an alarm without a msgid)."""
        return display_text(self.message_code, self.message_params, self.message)

    @property
    def is_active(self) -> bool:
        return self.cleared_at is None


def display_text(code: str, params: dict[str, Any], message: str) -> str:
    """An alarm's words in the active language, from its stored msgid and parameters; `message` without them."""
    if not code:
        return message
    try:
        return render(code, params)
    except (KeyError, TypeError, ValueError):  # parameters that do not fit the msgid: the English words
        return message
