"""The cell link's own records: every PLC event stored once on (station, PLC boot, sequence), and what happened to
the link (connects, cuts, PLC restarts, gaps), so that a lost cycle is shown, never hidden."""

from __future__ import annotations

from django.db import models

from gateway.choices import CycleEventKind, IncidentKind
from inspection.models import DeadLetter
from traceability.models import Cell, Station, StationEvent


class CycleRecord(models.Model):
    """One event of a station's cycle as the cell reported it. Unique on (station, boot, sequence): an event read
    twice (a reconnect, a re-posted message) is stored once."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="cycle_records")
    boot_id = models.CharField(max_length=64, help_text="The PLC's BootId (or the sender's source id) of the sequence.")
    sequence = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=12, choices=CycleEventKind.choices)
    serial = models.CharField(max_length=60, blank=True)
    source_timestamp = models.DateTimeField(help_text="When the cell says it happened.")
    received_at = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=200, help_text="opc.tcp endpoint, or the API user that posted it.")
    station_event = models.ForeignKey(StationEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    capture_id = models.UUIDField(null=True, blank=True, unique=True, help_text="The capture command it triggered.")
    capture_sent_at = models.DateTimeField(null=True, blank=True)
    verdict_reported_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the verdict went back to the PLC, or the part left the station without one.",
    )
    dead_letter = models.ForeignKey(
        DeadLetter,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when the event's values were refused (kept there with the reason).",
    )

    class Meta:
        ordering = ["station_id", "boot_id", "sequence"]
        constraints = [models.UniqueConstraint(fields=["station", "boot_id", "sequence"], name="cycle_record_once")]
        indexes = [models.Index(fields=["station", "boot_id", "-sequence"])]

    def __str__(self) -> str:
        return f"{self.station} {self.kind} #{self.sequence} ({self.serial})"


class LinkIncident(models.Model):
    cell = models.ForeignKey(Cell, on_delete=models.PROTECT, related_name="link_incidents")
    station = models.ForeignKey(Station, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=20, choices=IncidentKind.choices)
    boot_id = models.CharField(max_length=64, blank=True)
    first_sequence = models.PositiveBigIntegerField(null=True, blank=True)
    last_sequence = models.PositiveBigIntegerField(null=True, blank=True)
    detail = models.TextField()
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.cell.code} {self.kind} @ {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def lost_cycles(self) -> int | None:
        if self.kind != IncidentKind.GAP or self.first_sequence is None or self.last_sequence is None:
            return None
        return self.last_sequence - self.first_sequence + 1
