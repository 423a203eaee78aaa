"""Writes of the cell link. Every PLC event goes through `record_cycle_event`: one transaction, idempotent on
(station, PLC boot, sequence), turned into the same traceability actions the simulator used (part registration,
station entry and exit, holds), with the capture command for an inspection station sent after commit."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from edge_worker.contracts.inspection import Capture
from edge_worker.contracts.queues import INSPECT_CAPTURE_TASK, edge_queue
from gateway.address_space import CycleEvent, EventKind, GapCause, PlcOutcome
from gateway.choices import CycleEventKind, IncidentKind
from gateway.models import CycleRecord, LinkIncident
from inspection import selectors as inspection_selectors
from inspection.actions.dead_letters import dead_letter
from inspection.choices import DeadLetterReason, Verdict
from inspection.models import DeadLetter, EdgeDevice, Inspection
from live.actions import AlarmText, nested, raise_event_alarm
from live.choices import AlarmRule
from traceability import actions as trace_actions
from traceability import audit
from traceability import selectors as trace_selectors
from traceability.choices import InspectionJob, LotStatus, PartStatus, StationKind, StationOutcome
from traceability.models import Batch, Cell, MaterialLot, Part, PartType, Station, StationEvent

log = logging.getLogger(__name__)

INSPECTION_KINDS = (StationKind.VISUAL_INSPECTION, StationKind.DIMENSIONAL_INSPECTION)


class EventRefused(ValueError):
    """The event cannot be applied (unknown serial, part type or station); the reason goes to a dead letter."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _send_capture_after_commit(payload: dict[str, Any], queue: str) -> None:
    def send() -> None:
        from twinweb.celery import app

        try:
            app.send_task(INSPECT_CAPTURE_TASK, args=[payload], queue=queue)
        except Exception:  # the record keeps capture_sent_at: the gateway re-sends an overdue capture
            log.exception("capture command %s not sent to %s", payload.get("capture_id"), queue)

    transaction.on_commit(send)


def _inspecting_device(cell: Cell) -> EdgeDevice | None:
    """The edge device that inspects the cell's captures: its first by id."""
    return EdgeDevice.objects.filter(cell=cell).order_by("device_id").first()


def capture_command(record: CycleRecord, part: Part, station: Station, device: EdgeDevice) -> dict[str, Any]:
    """The capture command for an inspection station: no image, the device's camera for the station takes it."""
    calibration = inspection_selectors.current_calibration(station)
    spec = trace_selectors.part_type_spec(part.part_type)  # the drawing revision in force now
    assert record.capture_id is not None
    return Capture(
        capture_id=record.capture_id,
        serial=part.serial,
        station=station.code,
        cell=station.cell.code,
        part_type=spec,
        image_png_b64="",
        captured_at=record.source_timestamp,
        device_id=device.device_id,
        px_per_mm=calibration.px_per_mm if calibration else None,
        calibration_id=calibration.pk if calibration else None,
        lens_k1=calibration.lens_k1 if calibration and calibration.lens_k1 else None,
        job=station.inspection_job or "full",
        view=station.camera_view,
    ).to_dict()


def _gateway_batch(cell: Cell, part_type: PartType, at: dt.datetime) -> Batch:
    """The batch a part the cell loads joins when the PLC names none: one per cell, part type and day."""
    number = f"{cell.code}-{at:%Y%m%d}-{part_type.code}"
    batch = Batch.objects.filter(batch_number=number).first()
    return batch or trace_actions.create_batch(
        batch_number=number, part_type=part_type, cell=cell, planned_quantity=0, actor=None, at=at
    )


def _lots(event: CycleEvent) -> tuple[list[tuple[MaterialLot, Decimal]], list[str]]:
    consumed, problems = [], []
    for key, raw_quantity in event.lots:
        lot = MaterialLot.objects.filter(lot_key=key).first()
        try:
            quantity = Decimal(raw_quantity)
        except InvalidOperation:
            problems.append(f"lot {key}: quantity {raw_quantity!r} is not a number")
            continue
        if lot is None:
            problems.append(f"lot {key} is unknown")
        elif lot.status != LotStatus.RELEASED:
            problems.append(f"lot {key} is {lot.status}: not consumed")
        else:
            consumed.append((lot, quantity))
    return consumed, problems


def _part_for(event: CycleEvent, station: Station) -> Part:
    part = Part.objects.select_related("part_type").filter(serial=event.serial).first()
    if part is not None:
        return part
    if station.kind != StationKind.LOADING or event.kind is not EventKind.CYCLE_START:
        raise EventRefused(
            DeadLetterReason.UNKNOWN_PART, f"serial {event.serial!r} at {station.code} was never loaded into the cell"
        )
    part_type = PartType.objects.filter(code=event.part_type).first() if event.part_type else None
    if part_type is None:
        raise EventRefused(
            DeadLetterReason.MALFORMED,
            f"PartType: {event.part_type!r} is not a part type in TwinWeb "
            f"(serial {event.serial} loaded at {station.code})",
        )
    consumed, problems = _lots(event)
    part = trace_actions.register_part(
        serial=event.serial,
        batch=_gateway_batch(station.cell, part_type, event.at),
        actor=None,
        at=event.start_time,
        consumed_lots=consumed,
    )
    if problems:
        _incident(
            station.cell,
            IncidentKind.REFUSED,
            station=station,
            boot_id=event.boot_id,
            first=event.sequence,
            last=event.sequence,
            detail=f"part {event.serial} registered without: {'; '.join(problems)}",
        )
    return part


def _open_event(part: Part, station: Station) -> StationEvent | None:
    return StationEvent.objects.filter(part=part, station=station, left_at__isnull=True).order_by("-entered_at").first()


def _start(record: CycleRecord, event: CycleEvent, part: Part, station: Station) -> None:
    # The capture command is scheduled first: commit hooks run in the order they were scheduled, and the camera
    # should not wait for the station's live event (a notification to the pages, a Redis round trip or two).
    if station.inspection_job and station.inspection_job != InspectionJob.NONE:
        device = _inspecting_device(station.cell)
        if device is None:
            log.warning(
                "cell %s has no edge device: %s at %s is not inspected", station.cell.code, part.serial, station.code
            )
        else:
            record.capture_id = uuid.uuid4()
            record.capture_sent_at = timezone.now()
            _send_capture_after_commit(capture_command(record, part, station, device), edge_queue(device.device_id))
    station_event = _open_event(part, station) or trace_actions.record_station_entry(
        part,
        station=station,
        actor=None,
        at=event.start_time,
        parameters={"plc_sequence": event.sequence, "boot_id": event.boot_id},
    )
    record.station_event = station_event
    if station.kind == StationKind.FAILURE_ANALYSIS and part.status == PartStatus.IN_PROCESS:
        trace_actions.set_part_status(
            part,
            status=PartStatus.ON_HOLD,
            actor=None,
            at=event.start_time,
            reason=f"routed to {station.code} (failure analysis) by the cell",
        )


def _inspection_of(part: Part, station: Station, started_at: dt.datetime) -> Inspection | None:
    capture_ids = (
        CycleRecord.objects.filter(
            station=station,
            serial=part.serial,
            capture_id__isnull=False,
            source_timestamp__lte=started_at + dt.timedelta(seconds=1),
        )
        .order_by("-source_timestamp")
        .values_list("capture_id", flat=True)[:1]
    )
    return Inspection.objects.filter(capture_id__in=list(capture_ids)).only("verdict", "reason", "result_id").first()


def _end(record: CycleRecord, event: CycleEvent, part: Part, station: Station) -> None:
    station_event = _open_event(part, station) or trace_actions.record_station_entry(
        part,
        station=station,
        actor=None,
        at=event.start_time,
        parameters={"plc_sequence": event.sequence, "boot_id": event.boot_id, "entry": "from the cycle end"},
    )
    outcome = StationOutcome.OK if event.outcome is PlcOutcome.OK else StationOutcome.NOK
    parameters: dict[str, Any] = {
        "cycle_time_s": round((event.at - event.start_time).total_seconds(), 3),
        "plc_sequence": event.sequence,
    }
    if event.fault_code:
        parameters["fault_code"] = event.fault_code
    if station.kind in INSPECTION_KINDS:
        # The part has left the station: its verdict is no longer waited for (nor its capture re-sent); a late
        # result is still stored by ingest, and shows in the trace.
        CycleRecord.objects.filter(
            station=station, serial=part.serial, capture_id__isnull=False, verdict_reported_at__isnull=True
        ).update(verdict_reported_at=timezone.now())
        inspection = _inspection_of(part, station, event.start_time)
        if inspection is None:
            outcome = StationOutcome.SKIPPED
            parameters["inspection"] = "no inspection result when the cycle ended"
        else:
            parameters.update(result_id=str(inspection.result_id), verdict=inspection.verdict)
            if inspection.verdict == Verdict.ERROR:
                outcome = StationOutcome.SKIPPED
                parameters["inspection"] = f"errored: {inspection.reason}"[:500]
        part.refresh_from_db()
        if outcome == StationOutcome.SKIPPED and part.status == PartStatus.IN_PROCESS:
            trace_actions.set_part_status(
                part,
                status=PartStatus.ON_HOLD,
                actor=None,
                at=event.at,
                reason=f"not inspected at {station.code}: {parameters['inspection']}"[:500],
            )
    record.station_event = trace_actions.record_station_exit(
        station_event, outcome=outcome, actor=None, at=event.at, parameters=parameters
    )
    part.refresh_from_db()
    if station.kind == StationKind.UNLOADING and outcome == StationOutcome.OK and part.status == PartStatus.IN_PROCESS:
        trace_actions.set_part_status(
            part,
            status=PartStatus.PASSED,
            actor=None,
            at=event.at,
            reason=f"unloaded at {station.code} after inspection",
        )


def record_cycle_event(station: Station, event: CycleEvent, *, source: str) -> CycleRecord | None:
    """Store one event of the cell once and apply it; None when it was stored before (a re-read, a re-post).

    An event TwinWeb cannot apply (a serial never loaded, an unknown part type) is kept in a dead letter with the
    reason, and its sequence is still recorded: the link moves on, and the refusal is visible."""
    try:
        with transaction.atomic(durable=True):
            return _record(station, event, source=source)
    except IntegrityError:
        if CycleRecord.objects.filter(station=station, boot_id=event.boot_id, sequence=event.sequence).exists():
            return None  # another writer stored it between our check and our insert
        raise
    except EventRefused as refused:
        letter = dead_letter(
            _event_payload(station, event),
            reason=refused.reason,
            detail=refused.detail,
            source=f"gateway:{source}"[:80],
        )
        return _record_refused(
            station,
            boot_id=event.boot_id,
            sequence=event.sequence,
            kind=CycleEventKind(event.kind.value),
            serial=event.serial,
            at=event.at,
            source=source,
            letter=letter,
        )


@transaction.atomic(durable=True)
def _record_refused(
    station: Station,
    *,
    boot_id: str,
    sequence: int,
    kind: CycleEventKind,
    serial: str,
    at: dt.datetime,
    source: str,
    letter: DeadLetter,
) -> CycleRecord | None:
    """The sequence of a refused event, pointing at its dead letter (None when it was recorded before)."""
    if CycleRecord.objects.filter(station=station, boot_id=boot_id, sequence=sequence).exists():
        return None
    return CycleRecord.objects.create(
        station=station,
        boot_id=boot_id,
        sequence=sequence,
        kind=kind,
        serial=serial,
        source_timestamp=at,
        received_at=timezone.now(),
        source=source[:200],
        dead_letter=letter,
    )


def _record(station: Station, event: CycleEvent, *, source: str) -> CycleRecord | None:
    if CycleRecord.objects.filter(station=station, boot_id=event.boot_id, sequence=event.sequence).exists():
        return None
    part = _part_for(event, station)
    record = CycleRecord(
        station=station,
        boot_id=event.boot_id,
        sequence=event.sequence,
        kind=CycleEventKind(event.kind.value),
        serial=event.serial,
        source_timestamp=event.at,
        received_at=timezone.now(),
        source=source[:200],
    )
    if event.kind is EventKind.CYCLE_START:
        _start(record, event, part, station)
    else:
        _end(record, event, part, station)
    record.save()
    return record


def _event_payload(station: Station, event: CycleEvent | None, values: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"cell": station.cell.code, "station": station.code}
    if event is not None:
        data.update(
            boot_id=event.boot_id,
            sequence=event.sequence,
            kind=event.kind.value,
            serial=event.serial,
            part_type=event.part_type,
            start_time=event.start_time.isoformat(),
            end_time=event.end_time.isoformat() if event.end_time else None,
            outcome=event.outcome.value if event.outcome else None,
            fault_code=event.fault_code,
        )
    if values is not None:
        data["values"] = json.loads(json.dumps(values, default=str))
    return data


def refuse_tag_values(
    station: Station, *, boot_id: str, sequence: int, values: dict[str, Any], problem: str, source: str
) -> CycleRecord | None:
    """Tag values that are not a usable event (a wrong type, a serial too long): kept with the reason; the sequence is
    recorded so the link moves on."""
    letter = dead_letter(
        _event_payload(station, None, values),
        reason=DeadLetterReason.MALFORMED,
        detail=f"station {station.code}, event {sequence}: {problem}",
        source=f"gateway:{source}"[:80],
    )
    return _record_refused(
        station,
        boot_id=boot_id,
        sequence=sequence,
        kind=CycleEventKind.CYCLE_START,
        serial="",
        at=timezone.now(),
        source=source,
        letter=letter,
    )


def _incident(
    cell: Cell,
    kind: IncidentKind,
    *,
    detail: str,
    station: Station | None = None,
    boot_id: str = "",
    first: int | None = None,
    last: int | None = None,
) -> LinkIncident:
    incident = LinkIncident.objects.create(
        cell=cell,
        station=station,
        kind=kind,
        boot_id=boot_id[:64],
        first_sequence=first,
        last_sequence=last,
        detail=detail,
        at=timezone.now(),
    )
    audit.append(
        actor=None,
        action=f"cell_link.{kind}",
        subject=incident,
        after={
            "station": station.code if station else None,
            "boot_id": boot_id,
            "first": first,
            "last": last,
            "detail": detail[:500],
        },
    )
    return incident


@transaction.atomic(durable=True)
def record_link_incident(
    cell: Cell,
    kind: IncidentKind,
    *,
    detail: str,
    station: Station | None = None,
    boot_id: str = "",
    first: int | None = None,
    last: int | None = None,
) -> LinkIncident:
    """A change of the link (up, down, PLC restarted, refused values): audited, listed on the cell's link page."""
    return _incident(cell, kind, detail=detail, station=station, boot_id=boot_id, first=first, last=last)


GAP_CAUSES = {
    GapCause.NOT_IN_BUFFER: gettext_noop("not in the PLC's buffer of %(buffer_size)s any more"),
    GapCause.OVERWRITTEN: gettext_noop("slot overwritten by event %(event)s before it was read"),
}


@transaction.atomic(durable=True)
def record_gap(
    station: Station, *, boot_id: str, first: int, last: int, cause: GapCause, cause_params: dict[str, Any]
) -> LinkIncident:
    """Events the twin can no longer read (a cut longer than the PLC's buffer): recorded and raised as an andon
    alarm on the live view, so the missing cycles are shown, not hidden."""
    count = last - first + 1
    reason = AlarmText(GAP_CAUSES[GapCause(cause)], cause_params)
    incident = _incident(
        station.cell,
        IncidentKind.GAP,
        station=station,
        boot_id=boot_id,
        first=first,
        last=last,
        detail=f"{count} event(s) {first}–{last} at {station.code} lost: {reason.english()}",
    )
    raise_event_alarm(
        station.cell,
        rule=AlarmRule.LINK_GAP,
        station=station,
        text=AlarmText(
            gettext_noop("%(count)s PLC event(s) lost at %(station)s (%(reason)s)"),
            {"count": count, "station": station.code, "reason": nested(reason.code, **reason.params)},
        ),
        evidence={"boot_id": boot_id, "first": first, "last": last, "incident": incident.pk},
    )
    return incident


@transaction.atomic(durable=True)
def mark_verdict_reported(record: CycleRecord, *, verdict: str) -> None:
    CycleRecord.objects.filter(pk=record.pk).update(verdict_reported_at=timezone.now())
    audit.append(
        actor=None,
        action="cell_link.verdict_reported",
        subject=record,
        after={"serial": record.serial, "station": record.station.code, "verdict": verdict},
    )


def resend_capture(record: CycleRecord) -> None:
    """Send an overdue capture command again, unchanged: the edge derives the result id from the capture id, so
    the result is stored once however often it is sent."""
    part = Part.objects.select_related("part_type").get(serial=record.serial)
    station = Station.objects.select_related("cell").get(pk=record.station_id)
    device = _inspecting_device(station.cell)
    if device is None:
        return
    with transaction.atomic(durable=True):
        CycleRecord.objects.filter(pk=record.pk).update(capture_sent_at=timezone.now())
        _send_capture_after_commit(capture_command(record, part, station, device), edge_queue(device.device_id))
