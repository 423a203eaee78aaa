"""Live view: andon alarms raised by rules on the cell's recent history, acknowledged by people with a reason."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from inspection.models import EdgeDevice
from live.choices import AlarmRule
from traceability.models import Cell, Station


class Alarm(models.Model):
    """One andon alarm. Active while `cleared_at` is empty; acknowledging does not clear it (the rule does)."""

    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="alarms")
    rule = models.CharField(max_length=20, choices=AlarmRule.choices)
    station = models.ForeignKey(Station, on_delete=models.PROTECT, null=True, blank=True, related_name="alarms")
    device = models.ForeignKey(EdgeDevice, on_delete=models.PROTECT, null=True, blank=True, related_name="alarms")
    message = models.CharField(max_length=300)
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

    @property
    def is_active(self) -> bool:
        return self.cleared_at is None
