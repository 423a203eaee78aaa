"""What the gateway process asks of the database, as plain calls on its one database thread (gateway.link runs
them off the event loop). Each write is one action from gateway.actions or review.actions."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from gateway import actions
from gateway.address_space import CycleEvent, GapCause
from gateway.choices import IncidentKind
from gateway.models import CycleRecord, LinkIncident
from inspection.models import Inspection
from review.choices import CobotCommandKind
from review.models import CobotCommand
from traceability.choices import InspectionJob
from traceability.models import Cell, Station

log = logging.getLogger("gateway")
PENDING_WINDOW = dt.timedelta(minutes=10)  # verdicts and cobot commands older than this are not chased any more


class DjangoStore:
    def __init__(self, cell_code: str, *, source: str) -> None:
        self.cell_code = cell_code
        self.source = source
        self._cell: Cell | None = None
        self._in_flight: set[str] = set()
        self._stations: dict[int, Station] = {}

    @property
    def cell(self) -> Cell:
        if self._cell is None:
            try:
                self._cell = Cell.objects.get(code=self.cell_code)
            except Cell.DoesNotExist:
                raise ValueError(f"no cell {self.cell_code!r} in TwinWeb") from None
        return self._cell

    def reset_connection(self) -> None:
        close_old_connections()
        try:
            connection.close()
        except Exception:
            pass

    def stations(self) -> list[tuple[str, int, bool]]:
        self._stations = {}  # re-read on every connect: a station's configuration may have changed
        return [
            (s.code, s.pk, bool(s.inspection_job) and s.inspection_job != InspectionJob.NONE)
            for s in Station.objects.filter(cell=self.cell).order_by("position")
        ]

    def link_up(self, boot_id: str) -> str:
        """Record the link up; returns the BootId of the last session (a different one: the PLC restarted)."""
        self._in_flight.clear()  # a command cut off with the last session is called again
        previous = (
            CycleRecord.objects.filter(station__cell=self.cell)
            .order_by("-received_at", "-id")
            .values_list("boot_id", flat=True)
            .first()
            or ""
        )
        actions.record_link_incident(
            self.cell, IncidentKind.CONNECTED, boot_id=boot_id, detail=f"connected to {self.source} (boot {boot_id})"
        )
        if previous and previous != boot_id:
            actions.record_link_incident(
                self.cell,
                IncidentKind.PLC_RESTARTED,
                boot_id=boot_id,
                detail=(
                    f"BootId changed from {previous} to {boot_id}: the PLC's counters restarted; events are read from 1"
                ),
            )
        return previous

    def link_down(self, reason: str) -> None:
        actions.record_link_incident(self.cell, IncidentKind.DISCONNECTED, detail=reason[:2000])

    def last_sequence(self, station_id: int, boot_id: str) -> int:
        record = CycleRecord.objects.filter(station_id=station_id, boot_id=boot_id).order_by("-sequence").first()
        return record.sequence if record else 0

    def record(self, station_id: int, event: CycleEvent) -> str:
        """ "capture" when the event sent a capture command, "stored", or "duplicate"."""
        record = actions.record_cycle_event(self._station(station_id), event, source=self.source)
        if record is None:
            return "duplicate"
        return "capture" if record.capture_id else "stored"

    def refuse(self, station_id: int, boot_id: str, sequence: int, values: dict[str, Any], problem: str) -> None:
        actions.refuse_tag_values(
            self._station(station_id),
            boot_id=boot_id,
            sequence=sequence,
            values=values,
            problem=problem,
            source=self.source,
        )

    def gap(
        self, station_id: int, boot_id: str, first: int, last: int, cause: GapCause, params: dict[str, Any]
    ) -> None:
        actions.record_gap(
            self._station(station_id), boot_id=boot_id, first=first, last=last, cause=cause, cause_params=params
        )

    def _station(self, station_id: int) -> Station:
        station = self._stations.get(station_id)
        if station is None:
            station = self._stations[station_id] = Station.objects.select_related("cell").get(pk=station_id)
        return station

    def verdicts_to_report(self, resend_after_s: float) -> list[dict[str, Any]]:
        """Captures of this cell whose verdict has not gone back to the PLC: with the verdict once it is stored.
        A capture still without a result after `resend_after_s` is sent again (the same capture id)."""
        since = timezone.now() - PENDING_WINDOW
        pending = list(
            CycleRecord.objects.filter(
                station__cell=self.cell,
                capture_id__isnull=False,
                verdict_reported_at__isnull=True,
                received_at__gte=since,
            )
        )
        if not pending:
            return []
        verdicts = dict(
            Inspection.objects.filter(capture_id__in=[r.capture_id for r in pending]).values_list(
                "capture_id", "verdict"
            )
        )
        out = []
        overdue = timezone.now() - dt.timedelta(seconds=resend_after_s)
        for record in pending:
            verdict = verdicts.get(record.capture_id) if record.capture_id else None
            if verdict is None and record.capture_sent_at is not None and record.capture_sent_at < overdue:
                log.warning("capture %s for %s overdue: sent again", record.capture_id, record.serial)
                actions.resend_capture(record)
            out.append(
                {"record_id": record.pk, "station_id": record.station_id, "serial": record.serial, "verdict": verdict}
            )
        return out

    def verdict_reported(self, record_id: int, verdict: str) -> None:
        actions.mark_verdict_reported(CycleRecord.objects.select_related("station").get(pk=record_id), verdict=verdict)

    def heartbeat(self, *, state: str, reconnects: int, error: str, states: dict[str, Any] | None = None) -> None:
        """The heartbeat /readyz and /metrics read (monitoring: key twinweb:gateway:<cell>:heartbeat)."""
        import redis

        from monitoring.actions import record_gateway_heartbeat

        try:
            record_gateway_heartbeat(self.cell_code, state=state, reconnects=reconnects, error=error)  # type: ignore[arg-type]
        except redis.RedisError as exc:
            log.warning("gateway heartbeat not written: %s", exc)

    # --- the cobot ----------------------------------------------------------------------------------------

    def cobot_commands_to_send(self) -> list[dict[str, Any]]:
        if settings.TWINWEB_COBOT_LINK != "opcua":
            return []
        rows = CobotCommand.objects.filter(
            cell=self.cell, acked_at__isnull=True, sent_at__gte=timezone.now() - PENDING_WINDOW
        ).order_by("sent_at")
        out = []
        for row in rows:
            key = str(row.command_id)
            if key in self._in_flight:
                continue
            self._in_flight.add(key)
            payload = row.payload
            if row.kind == CobotCommandKind.PRESENT_VIEW:
                arguments = [
                    key,
                    payload.get("serial", ""),
                    payload.get("finding_name", ""),
                    ",".join(str(v) for v in payload.get("bbox", [])),
                ]
                out.append({"command_id": key, "method": "PresentView", "arguments": arguments})
            else:
                out.append(
                    {
                        "command_id": key,
                        "method": "MovePart",
                        "arguments": [key, payload.get("serial", ""), payload.get("destination", "")],
                    }
                )
        return out

    def cobot_done(self, command_id: str, status: str, elapsed_ms: float) -> None:
        from review.actions.cobot import record_cobot_completion

        record_cobot_completion(
            command_id,
            status="done" if status == "done" else "refused",
            detail=f"over OPC UA: {status} in {elapsed_ms:.0f} ms",
        )

    def cobot_failed(self, command_id: str, reason: str) -> None:
        from review.actions.cobot import record_cobot_completion

        record_cobot_completion(command_id, status="failed", detail=reason)
        actions.record_link_incident(self.cell, IncidentKind.COBOT_FAILED, detail=f"command {command_id}: {reason}")


def recent_incidents(cell: Cell, limit: int = 50) -> list[LinkIncident]:
    return list(LinkIncident.objects.filter(cell=cell).select_related("station")[:limit])
