"""Storing what the edge devices send: inspection results, telemetry, and the messages they refused.

`record_inspection_result` is idempotent on `result_id`: a redelivered or duplicated result stores nothing a
second time, and a result whose id is known but whose content differs is refused as a conflict. Anything that
cannot be stored is kept in a DeadLetter with the reason (logged too) and reported by raising `PayloadRefused`;
nothing is dropped silently. A message an edge device could not use (a malformed capture) comes back as a
`Refusal` and is kept in a DeadLetter too (`record_edge_refusal`).

Every message is authenticated before anything else reads it (inspection.actions.edge_auth: signed by a
registered device with a secret in force, the MAC, the device it claims, its age, its nonce); one that is not is
kept as an `unauthenticated` dead letter with the reason and changes nothing.

Order of work (healthchecks' Check.ping() keeps uploads outside the atomic block; so do we):
    authenticate -> validate the message -> look up device, part, station -> write the image file under its sha256 ->
    one durable transaction: inspection, measurements, defects, failure case, part status, audit record ->
    after commit: the live event.

`record_inspection_results` stores a batch in one transaction (the ingest worker's group commit) with exactly the
semantics of storing its results one by one in arrival order; `record_inspection_result` is a batch of one.

A pass the classifier is unsure of (confidence under TWINWEB_REVIEW_CONFIDENCE_THRESHOLD) puts a part still in
process on hold until Debug Mode decides it. Out-of-order results never regress a part. Staleness is per (part, station): a result captured before the newest
stored result of the same part at the same station is stored for the record and flagged for review, and moves
nothing. A result from another station is no reason to ignore a fail: the visual station's crack stays a crack
when the dimensional pass captured after it happens to arrive first. Only a fail moves a part (to failed), so an
older pass can never undo a newer fail. A failed part gets one failure case (from its first failing result);
later failures of it are flagged for review.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import struct
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Field, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from edge_worker.contracts.fields import MessageError
from edge_worker.contracts.inspection import InspectionResult, Telemetry, image_b64_size
from edge_worker.contracts.refusal import Refusal
from edge_worker.contracts.queues import INGEST_REFUSAL_TASK, INGEST_RESULT_TASK, INGEST_TELEMETRY_TASK
from inspection.actions.dead_letters import PayloadRefused, dead_letter
from inspection.actions.edge_auth import Authenticated, authenticate, authenticate_many
from inspection.actions.part_changes import DefectCodes, MachinePartChanges, insert_measurements
from inspection.choices import DeadLetterReason, Verdict
from inspection.models import (
    DeadLetter,
    DefectFinding,
    EdgeDevice,
    ImageBlob,
    Inspection,
    StationCalibration,
    TelemetrySample,
)
from traceability import actions as trace_actions
from traceability import audit
from traceability.choices import FoundBy, PartStatus
from traceability.models import DrawingRevision, FailureCase, Part, Station
from twinweb.events import DeviceTelemetry, InspectionRecorded
from twinweb.live import publish, publish_many, publish_on_commit

log = logging.getLogger(__name__)

RESULT_SOURCE = "inspection.tasks.ingest_result"
RESULTS_SOURCE = "inspection.tasks.ingest_results"
TELEMETRY_SOURCE = "inspection.tasks.ingest_telemetry"
REFUSAL_SOURCE = "inspection.tasks.ingest_refusal"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# What two deliveries of one result must agree on to count as the same result (timings may differ when the
# device re-ran a redelivered capture).
IDENTITY_FIELDS = (
    "capture_id",
    "serial",
    "station",
    "device",
    "verdict",
    "defect_class",
    "image_sha256",
    "model_sha256",
)


def _refuse(payload: Any, reason: DeadLetterReason, detail: str, source: str = RESULT_SOURCE) -> PayloadRefused:
    return PayloadRefused(dead_letter(payload, reason=reason, detail=detail, source=source))


def record_edge_refusal(payload: Any, *, source: str = REFUSAL_SOURCE) -> tuple[DeadLetter, bool]:
    """Keep a message an edge device refused (a malformed capture) in a dead letter, under the edge task that
    refused it as its source. Returns (dead letter, created): a refusal already kept (the same refusal id: the
    capture was redelivered, or the refusal sent twice) is not kept again. A refusal that is itself malformed is
    kept too, as a malformed payload of this task, and one that is not authentic as an unauthenticated one."""
    try:
        body = authenticate(payload, task=INGEST_REFUSAL_TASK, source=source).body
    except PayloadRefused as refused:
        return refused.dead_letter, True
    try:
        refusal = Refusal.from_dict(body)
    except MessageError as exc:
        return dead_letter(
            payload, reason=DeadLetterReason.MALFORMED, detail=f"malformed refusal: {exc}", source=source
        ), True
    tag = f"(refusal {refusal.refusal_id})"
    kept = DeadLetter.objects.filter(source=refusal.task, detail__endswith=tag).first()
    if kept is not None:
        log.info("refusal %s already kept (dead letter %s): duplicate ignored", refusal.refusal_id, kept.pk)
        return kept, False
    detail = (
        f"{refusal.reason} (refused by edge device {refusal.device_id!r} at {refusal.refused_at.isoformat()}) {tag}"
    )
    return dead_letter(
        refusal.payload,
        reason=DeadLetterReason.MALFORMED,
        detail=detail,
        source=refusal.task,
        payload_bytes=refusal.payload_bytes,
    ), True


# --- Images ---------------------------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, without decoding the image."""
    if len(data) < 24 or not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def image_relative_path(sha256: str) -> str:
    return f"images/{sha256[:2]}/{sha256}.png"


def write_image_file(sha256: str, data: bytes) -> str:
    """Write the image under its content hash (once; atomically) and return its storage name."""
    name = image_relative_path(sha256)
    path = Path(settings.MEDIA_ROOT) / name
    if path.is_file() and path.stat().st_size == len(data):
        return name
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)  # readers see the whole file or none of it
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name


# --- Results --------------------------------------------------------------------------------------------


def _identity(result: InspectionResult) -> dict[str, Any]:
    return {
        "capture_id": str(result.capture_id),
        "serial": result.serial,
        "station": result.station,
        "device": result.device_id,
        "verdict": result.verdict,
        "defect_class": result.defect_class or "",
        "image_sha256": result.image_sha256,
        "model_sha256": result.model.sha256,
    }


def _stored_identity(inspection: Inspection) -> dict[str, Any]:
    return {
        "capture_id": str(inspection.capture_id),
        "serial": inspection.part.serial,
        "station": inspection.station.code,
        "device": inspection.device.device_id if inspection.device else "",
        "verdict": inspection.verdict,
        "defect_class": inspection.defect_class,
        "image_sha256": inspection.image.sha256 if inspection.image else "",
        "model_sha256": inspection.model_sha256,
    }


def _differences(stored: dict[str, Any], incoming: dict[str, Any]) -> list[str]:
    return [f"{k}: stored {stored[k]!r}, received {incoming[k]!r}" for k in IDENTITY_FIELDS if stored[k] != incoming[k]]


def _existing_inspections(result_ids: set[uuid.UUID]) -> dict[uuid.UUID, Inspection]:
    return {
        i.result_id: i
        for i in Inspection.objects.select_related("part", "station", "device", "image").filter(
            result_id__in=result_ids
        )
    }


@dataclass
class IngestOutcome:
    """What happened to one payload: stored (created), a duplicate of a stored result, or refused."""

    inspection: Inspection | None = None
    created: bool = False
    refused: DeadLetter | None = None


@dataclass
class _Item:
    index: int
    payload: Any
    result: InspectionResult
    image: bytes  # empty: an error result the camera gave no image for
    dimensions: tuple[int, int] | None
    device: EdgeDevice | None = None
    part: Part | None = None
    station: Station | None = None
    image_name: str = ""


def _validated(payload: Any, source: str, index: int, body: dict[str, Any]) -> _Item:
    """After authenticity (nothing of an unauthenticated message is read): schema, image size, image hash and
    format."""
    try:
        result = InspectionResult.from_dict(body)
    except MessageError as exc:
        raise _refuse(payload, DeadLetterReason.MALFORMED, f"malformed inspection result: {exc}", source) from None
    if not result.has_image:  # an error result whose camera gave no image (the contract allows only that)
        return _Item(index, payload, result, b"", None)
    size = image_b64_size(result.image_png_b64)
    limit = settings.TWINWEB_MAX_IMAGE_BYTES
    if size > limit:
        raise _refuse(
            payload,
            DeadLetterReason.OVERSIZED,
            f"image of {size} bytes exceeds TWINWEB_MAX_IMAGE_BYTES={limit}",
            source,
        )
    try:
        image = result.verify_image()
    except MessageError as exc:
        raise _refuse(payload, DeadLetterReason.MALFORMED, f"malformed inspection result: {exc}", source) from None
    dimensions = png_size(image)
    if dimensions is None:
        raise _refuse(
            payload, DeadLetterReason.MALFORMED, "malformed inspection result: image_png_b64: not a PNG image", source
        )
    return _Item(index, payload, result, image, dimensions)


def record_inspection_result(payload: Any, *, source: str = RESULT_SOURCE) -> tuple[Inspection, bool]:
    """Store one inspection result sent by an edge device. Returns (inspection, created).

    Raises PayloadRefused (after storing a DeadLetter) for anything that cannot be stored.
    """
    [outcome] = record_inspection_results([payload], source=source)
    if outcome.refused is not None:
        raise PayloadRefused(outcome.refused)
    assert outcome.inspection is not None
    return outcome.inspection, outcome.created


def record_inspection_results(payloads: Sequence[Any], *, source: str = RESULT_SOURCE) -> list[IngestOutcome]:
    """Store a batch of results in one transaction (group commit), with exactly the semantics of storing them one
    by one in this order. One outcome per payload, in order; refusals are kept as dead letters."""
    outcomes = [IngestOutcome() for _ in payloads]
    items: list[_Item] = []
    authenticated = authenticate_many(list(payloads), task=INGEST_RESULT_TASK, source=source)
    for index, (payload, auth) in enumerate(zip(payloads, authenticated)):
        try:
            if isinstance(auth, PayloadRefused):
                raise auth
            items.append(_validated(payload, source, index, auth.body))
        except PayloadRefused as refused:
            outcomes[index].refused = refused.dead_letter
    if not items:
        return outcomes
    received_at = timezone.now()

    devices = {d.device_id: d for d in EdgeDevice.objects.filter(device_id__in={i.result.device_id for i in items})}
    parts = {
        p.serial: p for p in Part.objects.select_related("batch").filter(serial__in={i.result.serial for i in items})
    }
    cell_ids = {p.batch.cell_id for p in parts.values()} | {d.cell_id for d in devices.values()}
    stations: dict[tuple[int | None, str], Station] = {  # looked up by a cell id that may be None
        (s.cell_id, s.code): s for s in Station.objects.filter(cell_id__in=cell_ids - {None})
    }
    existing = _existing_inspections({i.result.result_id for i in items})

    to_store: list[_Item] = []
    first_in_batch: dict[uuid.UUID, _Item] = {}
    duplicates: list[_Item] = []
    for item in items:
        r = item.result
        try:
            item.device = devices.get(r.device_id)
            if item.device is None:
                raise _refuse(
                    item.payload,
                    DeadLetterReason.UNKNOWN_DEVICE,
                    f"no edge device {r.device_id!r} is registered",
                    source,
                )
            item.part = parts.get(r.serial)
            if item.part is None:
                raise _refuse(item.payload, DeadLetterReason.UNKNOWN_PART, f"no part with serial {r.serial!r}", source)
            cell_id = item.part.batch.cell_id or item.device.cell_id
            item.station = stations.get((cell_id, r.station))
            if item.station is None:
                raise _refuse(
                    item.payload,
                    DeadLetterReason.UNKNOWN_STATION,
                    f"no station {r.station!r} in the cell of part {r.serial} (cell id {cell_id})",
                    source,
                )
            stored = existing.get(r.result_id)
            if stored is not None:
                differences = _differences(_stored_identity(stored), _identity(r))
                if differences:
                    raise _refuse(
                        item.payload,
                        DeadLetterReason.CONFLICT,
                        f"result {r.result_id} is already stored with different content ({'; '.join(differences)})",
                        source,
                    )
                log.info("result %s already stored (inspection %s): duplicate ignored", r.result_id, stored.pk)
                outcomes[item.index].inspection = stored
                continue
            if r.result_id in first_in_batch:
                duplicates.append(item)  # decided once the first one is stored
                continue
        except PayloadRefused as refused:
            outcomes[item.index].refused = refused.dead_letter
            continue
        first_in_batch[r.result_id] = item
        to_store.append(item)

    # Image files are written before the transaction (no I/O inside it); a rolled-back transaction leaves at worst
    # an unreferenced file under its own hash, which the next identical image reuses.
    for item in to_store:
        if item.image:
            item.image_name = write_image_file(item.result.image_sha256, item.image)
    if to_store:
        try:
            stored_now = _store_all(to_store, received_at)
        except IntegrityError:
            if len(to_store) == 1:
                # Another worker stored the same result id between our check and our insert: a duplicate.
                stored_now = {}
                duplicates.append(to_store[0])
                first_in_batch.pop(to_store[0].result.result_id)
            else:  # settle which one raced, one at a time
                for item in to_store:
                    single = record_inspection_results([item.payload], source=source)[0]
                    outcomes[item.index] = single
                return _settle_duplicates(outcomes, duplicates, source)
        for item in to_store:
            outcomes[item.index].inspection = stored_now[item.result.result_id]
            outcomes[item.index].created = True
    return _settle_duplicates(outcomes, duplicates, source)


def _settle_duplicates(outcomes: list[IngestOutcome], duplicates: list[_Item], source: str) -> list[IngestOutcome]:
    if not duplicates:
        return outcomes
    stored = _existing_inspections({d.result.result_id for d in duplicates})
    for item in duplicates:
        inspection = stored.get(item.result.result_id)
        if inspection is None:  # pragma: no cover - the first copy was refused; so is this one
            outcomes[item.index] = record_inspection_results([item.payload], source=source)[0]
            continue
        differences = _differences(_stored_identity(inspection), _identity(item.result))
        if differences:
            outcomes[item.index].refused = dead_letter(
                item.payload,
                reason=DeadLetterReason.CONFLICT,
                source=source,
                detail=f"result {item.result.result_id} is already stored with different content ({'; '.join(differences)})",
            )
        else:
            outcomes[item.index].inspection = inspection
    return outcomes


def _low_confidence_pass(result: InspectionResult) -> bool:
    threshold = settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD
    return (
        result.verdict == Verdict.PASS and result.defect_confidence is not None and result.defect_confidence < threshold
    )


def _review_reasons(result: InspectionResult) -> list[str]:
    if result.verdict == Verdict.FAIL:
        return ["failed"]
    if result.verdict == Verdict.ERROR:
        return [f"inspection error: {result.reason}"]
    if _low_confidence_pass(result):
        return [f"low confidence {result.defect_confidence:.3f} < {settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD}"]
    return []


@transaction.atomic(durable=True)
def _store_all(items: list[_Item], received_at: dt.datetime) -> dict[uuid.UUID, Inspection]:
    # Lock the parts (in id order: no deadlock between workers): their results are decided one at a time, in
    # arrival order, so "newest" below cannot race.
    part_ids = sorted({item.part.pk for item in items})  # type: ignore[union-attr]
    parts = {
        p.pk: p
        for p in Part.objects.select_for_update(of=("self",), no_key=True)
        .select_related("batch")
        .filter(pk__in=part_ids)
        .order_by("pk")
    }
    # The newest stored result of each part at each station: (part id, station id) -> (captured at, result id).
    newest: dict[tuple[int, int], tuple[dt.datetime, str]] = {}
    for part_id, station_id, captured_at, result_id in (
        Inspection.objects.filter(part_id__in=part_ids)
        .order_by("part_id", "station_id", "-captured_at")
        .distinct("part_id", "station_id")
        .values_list("part_id", "station_id", "captured_at", "result_id")
        if connection.vendor == "postgresql"
        else _newest_per_part_and_station(part_ids)
    ):
        newest[(part_id, station_id)] = (captured_at, str(result_id))

    with_images = {i.result.image_sha256: i for i in items if i.dimensions is not None}
    ImageBlob.objects.bulk_create(
        [
            ImageBlob(
                sha256=sha,
                file=item.image_name,
                size_bytes=len(item.image),
                width=item.dimensions[0],
                height=item.dimensions[1],
                stored_at=received_at,
            )
            for sha, item in with_images.items()
            if item.dimensions is not None
        ],
        ignore_conflicts=True,
    )
    blobs = {b.sha256: b for b in ImageBlob.objects.filter(sha256__in=set(with_images))}

    drawings = {
        (d.part_type_id, d.revision): d
        for d in DrawingRevision.objects.filter(
            part_type_id__in={p.part_type_id for p in parts.values()},
            revision__in={i.result.drawing_revision for i in items if i.result.drawing_revision},
        )
    }
    calibrations = {
        c.pk: c
        for c in StationCalibration.objects.filter(
            pk__in={i.result.calibration_id for i in items if i.result.calibration_id}
        )
    }
    inspections: list[Inspection] = []
    audit_entries: list[audit.PendingRecord] = []
    defect_codes = DefectCodes()
    changes = MachinePartChanges()
    recorded: dict[int, list[_Recorded]] = {}
    heartbeats: dict[int, tuple[EdgeDevice, InspectionResult]] = {}
    for item in items:
        result, station, device = item.result, item.station, item.device
        assert station is not None and device is not None
        part = parts[item.part.pk]  # type: ignore[union-attr]
        reasons = _review_reasons(result)
        newer = newest.get((part.pk, station.pk))
        stale = newer is not None and newer[0] > result.captured_at
        if newer is not None and stale:
            reasons.append(
                f"arrived after a newer result at {station.code} ({newer[1]} captured {newer[0].isoformat()})"
            )
        else:
            newest[(part.pk, station.pk)] = (result.captured_at, str(result.result_id))
        case = None
        part_change = None
        if result.verdict == Verdict.FAIL and part.status == PartStatus.FAILED:
            # One non-conformance per failed part: a second station confirming it adds evidence, not a new case.
            reasons.append("part already failed")
        elif result.verdict == Verdict.FAIL and not stale and part.status not in trace_actions.FINAL_PART_STATES:
            case = FailureCase(
                part=part,
                defect_code=defect_codes.get(result),
                found_by=FoundBy.MACHINE,
                station=station,
                description=result.reason[:2000],
                opened_at=result.inspected_at,
            )
            part_change = PartStatus.FAILED
            changes.open(
                case,
                part,
                PartStatus.FAILED,
                reason=f"inspection {result.result_id} at {station.code}: {result.reason}"[:500],
                at=result.inspected_at,
            )
        elif _low_confidence_pass(result) and not stale and part.status == PartStatus.IN_PROCESS:
            # The machine is unsure: the part waits for Debug Mode instead of leaving the cell unreviewed.
            part_change = PartStatus.ON_HOLD
            changes.move(
                part,
                PartStatus.ON_HOLD,
                reason=f"low-confidence pass at {station.code} awaits a review",
                at=result.inspected_at,
            )
        blob = blobs[result.image_sha256] if result.has_image else None
        inspections.append(
            Inspection(
                result_id=result.result_id,
                capture_id=result.capture_id,
                part=part,
                station=station,
                device=device,
                drawing=drawings.get((part.part_type_id, result.drawing_revision)),
                calibration=calibrations.get(result.calibration_id) if result.calibration_id else None,
                verdict=result.verdict,
                reason=result.reason,
                defect_class=result.defect_class or "",
                defect_confidence=result.defect_confidence,
                class_probabilities=result.class_probabilities,
                findings=result.findings,
                image=blob,
                model_version=result.model.version,
                model_sha256=result.model.sha256,
                model_alias=result.model.alias,
                backend=result.model.backend,
                backend_version=result.model.backend_version,
                precision=result.model.precision,
                latency_ms=result.latency_ms,
                timings_ms=result.timings_ms,
                avg_power_mw=result.power.avg_power_mw,
                energy_mj=result.power.energy_mj,
                power_note=result.power.note[:300],
                captured_at=result.captured_at,
                inspected_at=result.inspected_at,
                received_at=received_at,
                needs_review=bool(reasons),
                failure_case=case,
            )
        )
        audit_entries.append(
            audit.PendingRecord(
                None,
                "inspection.record",
                ("inspection.inspection", str(result.result_id)),
                after={
                    "serial": part.serial,
                    "station": station.code,
                    "device": device.device_id,
                    "verdict": result.verdict,
                    "defect_class": result.defect_class,
                    "defect_confidence": result.defect_confidence,
                    "image_sha256": result.image_sha256,
                    "model_version": result.model.version,
                    "model_sha256": result.model.sha256,
                    "backend": result.model.backend,
                    "precision": result.model.precision,
                    "drawing_revision": result.drawing_revision or None,
                    "calibration": result.calibration_id,
                    "failure_case": None,  # set once the case is stored (MachinePartChanges.apply)
                    "part_status": part_change,
                    "needs_review": "; ".join(reasons) or None,
                },
            )
        )
        if case is not None:
            changes.name_case_in(audit_entries[-1], case)
        heartbeats[device.pk] = (device, result)
        if station.cell_id:
            recorded.setdefault(station.cell_id, []).append((result, inspections[-1], blob))

    # What the machine decided about parts (failure cases, status moves) goes in before the inspections that name
    # the cases, with its audit records ahead of the inspections' own, as when each was its own action.
    audit_entries[:0] = changes.apply()
    Inspection.objects.bulk_create(inspections)
    insert_measurements(
        [
            (inspection.pk, m.name, m.kind, m.value, m.nominal, m.lower_tol, m.upper_tol, m.unit, m.passed, m.geometry)
            for item, inspection in zip(items, inspections)
            for m in item.result.measurements
        ]
    )
    DefectFinding.objects.bulk_create(
        [
            DefectFinding(
                inspection=inspection,
                defect_class=f["name"],
                confidence=float(f.get("confidence") or 0.0),
                bbox=f.get("bbox") or [],
            )
            for item, inspection in zip(items, inspections)
            for f in item.result.findings
            if f.get("kind") == "defect"
        ]
    )
    for device, result in heartbeats.values():
        EdgeDevice.objects.filter(pk=device.pk).update(
            last_heartbeat_at=Greatest(Coalesce("last_heartbeat_at", Value(received_at)), Value(received_at)),
            backend=result.model.backend,
            backend_version=result.model.backend_version,
            precision=result.model.precision,
            model_version=result.model.version,
        )
    audit.append_many(audit_entries)
    for cell_id, cell_recorded in recorded.items():
        _publish_stamped(cell_id, cell_recorded)
    return {i.result_id: i for i in inspections}


def _newest_per_part_and_station(part_ids: list[int]) -> list[tuple[int, int, dt.datetime, Any]]:
    """SQLite has no DISTINCT ON: the same rows through a correlated subquery."""
    latest = (
        Inspection.objects.filter(part_id=OuterRef("part_id"), station_id=OuterRef("station_id"))
        .order_by("-captured_at")
        .values("captured_at")[:1]
    )
    rows = Inspection.objects.filter(part_id__in=part_ids, captured_at=Subquery(latest)).values_list(
        "part_id", "station_id", "captured_at", "result_id"
    )
    return list(rows)


# What an inspection.recorded event is built from, after commit.
_Recorded = tuple[InspectionResult, Inspection, ImageBlob | None]


def _recorded_event(
    result: InspectionResult, inspection: Inspection, blob: ImageBlob | None, *, committed_at: str
) -> InspectionRecorded:
    return InspectionRecorded(
        result_id=str(result.result_id),
        serial=result.serial,
        station=result.station,
        verdict=result.verdict,
        defect_class=result.defect_class,
        defect_confidence=result.defect_confidence,
        needs_review=inspection.needs_review,
        latency_ms=result.latency_ms,
        avg_power_mw=result.power.avg_power_mw,
        energy_mj=result.power.energy_mj,
        model_version=result.model.version,
        backend=result.model.backend,
        precision=result.model.precision,
        captured_at=result.captured_at.isoformat(),
        sent_at=result.sent_at.isoformat() if result.sent_at else None,
        committed_at=committed_at,
        image_url=blob.get_absolute_url() if blob is not None else "",
    )


def _publish_stamped(cell_id: int, recorded: list[_Recorded]) -> None:
    """After commit: build the events with the commit time (the end of the sent -> committed latency) and
    publish them, in order. Built once, here: a frozen event is not stamped after the fact."""

    def hook() -> None:
        committed_at = timezone.now().isoformat()
        events = [_recorded_event(*item, committed_at=committed_at) for item in recorded]
        if len(events) == 1:
            publish(cell_id, events[0])
        else:
            publish_many(cell_id, events)

    transaction.on_commit(hook)


# --- Telemetry ------------------------------------------------------------------------------------------


def record_telemetry(payload: Any, *, source: str = TELEMETRY_SOURCE) -> TelemetrySample:
    """Store one telemetry message: the device's heartbeat, its latest state and one history row. The same signed
    message delivered again stores nothing twice (and is no new heartbeat)."""
    message: Authenticated = authenticate(payload, task=INGEST_TELEMETRY_TASK, source=source)
    try:
        telemetry = Telemetry.from_dict(message.body)
    except MessageError as exc:
        raise _refuse(payload, DeadLetterReason.MALFORMED, f"malformed telemetry: {exc}", source) from None
    if message.repeat:
        stored = TelemetrySample.objects.filter(device=message.device, at=telemetry.at).first()
        if stored is not None:
            log.info("telemetry of %s at %s already stored: duplicate ignored", telemetry.device_id, telemetry.at)
            return stored
    return _store_telemetry(message.device, telemetry)


@transaction.atomic(durable=True)
def _store_telemetry(device: EdgeDevice, telemetry: Telemetry) -> TelemetrySample:
    now = timezone.now()
    device = EdgeDevice.objects.select_for_update().get(pk=device.pk)
    sample = TelemetrySample.objects.create(
        device=device,
        at=telemetry.at,
        received_at=now,
        fps=telemetry.fps,
        power_mw=telemetry.power_mw,
        gpu_load=telemetry.gpu_load,
        memory=telemetry.memory,
        temperature=telemetry.temperature,
        backend=telemetry.backend,
        precision=telemetry.precision,
        model_version=telemetry.model_version,
    )
    latest = telemetry.to_dict()
    latest.pop("schema", None)
    device.last_heartbeat_at = max(filter(None, [device.last_heartbeat_at, now]))
    device.last_telemetry = latest
    changed = ["last_heartbeat_at", "last_telemetry"]
    for name in ("backend", "precision", "model_version", "hardware", "power_source"):
        value = getattr(telemetry, name)
        if value and getattr(device, name) != value:
            field = device._meta.get_field(name)
            assert isinstance(field, Field)  # a column of the device row, not a relation
            setattr(device, name, value[: field.max_length])
            changed.append(name)
    device.save(update_fields=changed)
    keep = settings.TWINWEB_TELEMETRY_HISTORY
    history = TelemetrySample.objects.filter(device=device)
    boundary = history.order_by("-at", "-id").values_list("at", "id")[keep : keep + 1].first()
    if boundary is not None:  # bounded history: drop everything from the (keep+1)-th newest back
        history.filter(Q(at__lt=boundary[0]) | Q(at=boundary[0], id__lte=boundary[1])).delete()
    publish_on_commit(
        device.cell_id,
        DeviceTelemetry(
            device_id=device.device_id,
            at=telemetry.at.isoformat(),
            fps=telemetry.fps,
            power_mw=telemetry.power_mw,
            memory=telemetry.memory,
            temperature=telemetry.temperature,
            gpu_load=telemetry.gpu_load,
            backend=telemetry.backend,
            precision=telemetry.precision,
            model_version=telemetry.model_version,
        ),
    )
    return sample
