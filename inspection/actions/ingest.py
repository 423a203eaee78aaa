"""Storing what the edge devices send: inspection results and telemetry.

`record_inspection_result` is idempotent on `result_id`: a redelivered or duplicated result stores nothing a
second time, and a result whose id is known but whose content differs is refused as a conflict. Anything that
cannot be stored is kept in a DeadLetter with the reason (logged too) and reported by raising `PayloadRefused`;
nothing is dropped silently.

Order of work (healthchecks' Check.ping() keeps uploads outside the atomic block; so do we):
    validate the message -> look up device, part, station -> write the image file under its sha256 ->
    one durable transaction: inspection, measurements, defects, failure case, part status, audit record ->
    after commit: the live event.

Out-of-order results never regress a part: only the newest result of a part (by capture time) may change the
part's status or open a failure case. An older result is stored for the record and flagged for review.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from edge_worker.messages import InspectionResult, MessageError, Telemetry, image_b64_size
from inspection.choices import DeadLetterReason, Verdict
from inspection.models import DeadLetter, DefectFinding, EdgeDevice, ImageBlob, Inspection, Measurement, TelemetrySample
from traceability import actions as trace_actions
from traceability import audit
from traceability.choices import FoundBy, PartStatus
from traceability.models import DefectCode, Part, Station
from twinweb.live import publish, publish_on_commit

log = logging.getLogger(__name__)

RESULT_SOURCE = "inspection.tasks.ingest_result"
TELEMETRY_SOURCE = "inspection.tasks.ingest_telemetry"
DIMENSION_DEFECT_CODE = "dimension_out_of_tolerance"
OK_CLASS = "ok"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DEAD_LETTER_PAYLOAD_CAP = 64 * 1024  # bytes of JSON kept whole; larger payloads lose their image field
# Parts in these states are out of production's hands: a result may be recorded but never moves them.
FINAL_PART_STATES = {PartStatus.SCRAPPED, PartStatus.SHIPPED}
# What two deliveries of one result must agree on to count as the same result (timings may differ when the
# device re-ran a redelivered capture).
IDENTITY_FIELDS = ("capture_id", "serial", "station", "device", "verdict", "defect_class", "image_sha256", "model_sha256")


class PayloadRefused(Exception):
    """The payload was not stored; `dead_letter` keeps it with the reason."""

    def __init__(self, dead_letter: DeadLetter) -> None:
        self.dead_letter = dead_letter
        super().__init__(f"{dead_letter.get_reason_display()}: {dead_letter.detail}")


# --- Dead letters ---------------------------------------------------------------------------------------


def _kept_payload(payload: Any) -> tuple[dict[str, Any], int]:
    """The payload as stored in a dead letter: whole when small, without the image when large."""
    try:
        text = json.dumps(payload, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
        return {"repr": text[:DEAD_LETTER_PAYLOAD_CAP]}, len(text)
    size = len(text.encode("utf-8"))
    if not isinstance(payload, dict):
        return {"value": payload if size <= DEAD_LETTER_PAYLOAD_CAP else text[:DEAD_LETTER_PAYLOAD_CAP]}, size
    if size <= DEAD_LETTER_PAYLOAD_CAP:
        return payload, size
    kept: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, str) and len(value) > 1024:
            kept[key] = f"<{len(value)} characters omitted; sha256 {hashlib.sha256(value.encode()).hexdigest()}>"
        else:
            kept[key] = value
    return kept, size


def dead_letter(payload: Any, *, reason: DeadLetterReason, detail: str, source: str) -> DeadLetter:
    """Keep a refused message with the reason. Its own transaction: a refusal is recorded even when the caller's
    work rolls back."""
    kept, size = _kept_payload(payload)
    log.warning("refused %s payload (%s): %s", source, reason.value, detail)
    with transaction.atomic():
        letter = DeadLetter.objects.create(
            received_at=timezone.now(), source=source, reason=reason, detail=detail[:5000], payload=kept,
            payload_bytes=size,
        )
        audit.append(actor=None, action="dead_letter.store", subject=("inspection.deadletter", str(letter.pk)),
                     after={"source": source, "reason": reason.value, "detail": detail[:500], "payload_bytes": size})
    return letter


def _refuse(payload: Any, reason: DeadLetterReason, detail: str, source: str = RESULT_SOURCE) -> PayloadRefused:
    return PayloadRefused(dead_letter(payload, reason=reason, detail=detail, source=source))


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
        "capture_id": str(result.capture_id), "serial": result.serial, "station": result.station,
        "device": result.device_id, "verdict": result.verdict, "defect_class": result.defect_class or "",
        "image_sha256": result.image_sha256, "model_sha256": result.model.sha256,
    }


def _stored_identity(inspection: Inspection) -> dict[str, Any]:
    return {
        "capture_id": str(inspection.capture_id), "serial": inspection.part.serial, "station": inspection.station.code,
        "device": inspection.device.device_id if inspection.device else "", "verdict": inspection.verdict,
        "defect_class": inspection.defect_class, "image_sha256": inspection.image.sha256 if inspection.image else "",
        "model_sha256": inspection.model_sha256,
    }


def _existing(result: InspectionResult, payload: Any, source: str) -> Inspection | None:
    """The stored inspection with this result id, if any; a differing one is refused as a conflict."""
    existing = (
        Inspection.objects.select_related("part", "station", "device", "image")
        .filter(result_id=result.result_id).first()
    )
    if existing is None:
        return None
    stored, incoming = _stored_identity(existing), _identity(result)
    differences = [f"{k}: stored {stored[k]!r}, received {incoming[k]!r}" for k in IDENTITY_FIELDS if stored[k] != incoming[k]]
    if differences:
        raise _refuse(payload, DeadLetterReason.CONFLICT,
                      f"result {result.result_id} is already stored with different content ({'; '.join(differences)})", source)
    log.info("result %s already stored (inspection %s): duplicate ignored", result.result_id, existing.pk)
    return existing


def _defect_code(result: InspectionResult) -> DefectCode:
    code = result.defect_class if result.defect_class and result.defect_class != OK_CLASS else DIMENSION_DEFECT_CODE
    found = DefectCode.objects.filter(code=code).first()
    if found is not None:
        return found
    # A class the model learned after the master data was set up: record it rather than lose the failure.
    return trace_actions.save_record(  # type: ignore[return-value]
        DefectCode(code=code, name=code.replace("_", " ").capitalize()), actor=None,
        reason=f"defect class {code!r} first reported by an edge device",
    )


def _parse_result(payload: Any, source: str) -> InspectionResult:
    try:
        return InspectionResult.from_dict(payload)
    except MessageError as exc:
        raise _refuse(payload, DeadLetterReason.MALFORMED, f"malformed inspection result: {exc}", source) from None


def record_inspection_result(payload: Any, *, source: str = RESULT_SOURCE) -> tuple[Inspection, bool]:
    """Store one inspection result sent by an edge device. Returns (inspection, created).

    Raises PayloadRefused (after storing a DeadLetter) for anything that cannot be stored.
    """
    result = _parse_result(payload, source)
    received_at = timezone.now()

    size = image_b64_size(result.image_png_b64)
    limit = settings.TWINWEB_MAX_IMAGE_BYTES
    if size > limit:
        raise _refuse(payload, DeadLetterReason.OVERSIZED, f"image of {size} bytes exceeds TWINWEB_MAX_IMAGE_BYTES={limit}", source)
    try:
        image = result.verify_image()
    except MessageError as exc:
        raise _refuse(payload, DeadLetterReason.MALFORMED, f"malformed inspection result: {exc}", source) from None
    dimensions = png_size(image)
    if dimensions is None:
        raise _refuse(payload, DeadLetterReason.MALFORMED, "malformed inspection result: image_png_b64: not a PNG image", source)

    device = EdgeDevice.objects.filter(device_id=result.device_id).first()
    if device is None:
        raise _refuse(payload, DeadLetterReason.UNKNOWN_DEVICE, f"no edge device {result.device_id!r} is registered", source)
    part = Part.objects.select_related("batch").filter(serial=result.serial).first()
    if part is None:
        raise _refuse(payload, DeadLetterReason.UNKNOWN_PART, f"no part with serial {result.serial!r}", source)
    cell_id = part.batch.cell_id or device.cell_id
    station = Station.objects.filter(cell_id=cell_id, code=result.station).first()
    if station is None:
        raise _refuse(payload, DeadLetterReason.UNKNOWN_STATION,
                      f"no station {result.station!r} in the cell of part {result.serial} (cell id {cell_id})", source)

    existing = _existing(result, payload, source)
    if existing is not None:
        return existing, False

    # The image file is written before the transaction (no I/O inside it); a rolled-back transaction leaves
    # at worst an unreferenced file under its own hash, which the next identical image reuses.
    image_name = write_image_file(result.image_sha256, image)
    try:
        inspection = _store(result, device=device, part=part, station=station, image_name=image_name,
                            image_size=len(image), dimensions=dimensions, received_at=received_at)
    except IntegrityError:
        # Another worker stored the same result id between our check and our insert.
        existing = _existing(result, payload, source)
        if existing is None:
            raise
        return existing, False
    return inspection, True


@transaction.atomic(durable=True)
def _store(
    result: InspectionResult, *, device: EdgeDevice, part: Part, station: Station, image_name: str, image_size: int,
    dimensions: tuple[int, int], received_at: dt.datetime,
) -> Inspection:
    # Lock the part: its results are decided one at a time, so "newest" below cannot race.
    part = Part.objects.select_for_update().select_related("batch").get(pk=part.pk)
    if Inspection.objects.filter(result_id=result.result_id).exists():
        raise IntegrityError("result stored concurrently")
    blob, _ = ImageBlob.objects.get_or_create(
        sha256=result.image_sha256,
        defaults={"file": image_name, "size_bytes": image_size, "width": dimensions[0], "height": dimensions[1],
                  "stored_at": received_at},
    )
    newer = (
        Inspection.objects.filter(part=part, captured_at__gt=result.captured_at)
        .order_by("-captured_at").values_list("result_id", "captured_at").first()
    )
    review_reasons: list[str] = []
    if result.verdict == Verdict.FAIL:
        review_reasons.append("failed")
    elif result.verdict == Verdict.ERROR:
        review_reasons.append(f"inspection error: {result.reason}")
    elif result.defect_confidence is not None and result.defect_confidence < settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD:
        review_reasons.append(
            f"low confidence {result.defect_confidence:.3f} < {settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD}"
        )
    if newer is not None:
        review_reasons.append(f"arrived after a newer result ({newer[0]} captured {newer[1].isoformat()})")

    inspection = Inspection.objects.create(
        result_id=result.result_id, capture_id=result.capture_id, part=part, station=station, device=device,
        verdict=result.verdict, reason=result.reason, defect_class=result.defect_class or "",
        defect_confidence=result.defect_confidence, class_probabilities=result.class_probabilities,
        findings=result.findings, image=blob, model_version=result.model.version, model_sha256=result.model.sha256,
        backend=result.model.backend, backend_version=result.model.backend_version, precision=result.model.precision,
        latency_ms=result.latency_ms, timings_ms=result.timings_ms, avg_power_mw=result.power.avg_power_mw,
        energy_mj=result.power.energy_mj, power_note=result.power.note[:300], captured_at=result.captured_at,
        inspected_at=result.inspected_at, received_at=received_at, needs_review=bool(review_reasons),
    )
    Measurement.objects.bulk_create([
        Measurement(
            inspection=inspection, name=m.name, kind=m.kind, value=m.value, nominal=m.nominal, lower_tol=m.lower_tol,
            upper_tol=m.upper_tol, unit=m.unit, passed=m.passed, geometry=m.geometry or {},
        )
        for m in result.measurements
    ])
    DefectFinding.objects.bulk_create([
        DefectFinding(
            inspection=inspection, defect_class=f["name"], confidence=float(f.get("confidence") or 0.0),
            bbox=f.get("bbox") or [],
        )
        for f in result.findings if f.get("kind") == "defect"
    ])

    part_change = ""
    if result.verdict == Verdict.FAIL and part.status == PartStatus.FAILED:
        # One non-conformance per failed part: a second station confirming it adds evidence, not a new case.
        review_reasons.append("part already failed")
    elif result.verdict == Verdict.FAIL and newer is None and part.status not in FINAL_PART_STATES:
        case = trace_actions.open_failure_case(
            part, defect_code=_defect_code(result), found_by=FoundBy.MACHINE, actor=None, station=station,
            description=result.reason[:2000], at=result.inspected_at,
        )
        inspection.failure_case = case
        inspection.save(update_fields=["failure_case"])
        trace_actions.set_part_status(part, status=PartStatus.FAILED, actor=None,
                                      reason=f"inspection {result.result_id} at {station.code}: {result.reason}"[:500],
                                      at=result.inspected_at)
        part_change = PartStatus.FAILED

    heartbeat = max(filter(None, [device.last_heartbeat_at, received_at]))
    EdgeDevice.objects.filter(pk=device.pk).update(
        last_heartbeat_at=heartbeat, backend=result.model.backend, backend_version=result.model.backend_version,
        precision=result.model.precision, model_version=result.model.version,
    )
    audit.append(
        actor=None, action="inspection.record", subject=("inspection.inspection", str(result.result_id)),
        after={
            "serial": part.serial, "station": station.code, "device": device.device_id, "verdict": result.verdict,
            "defect_class": result.defect_class, "defect_confidence": result.defect_confidence,
            "image_sha256": result.image_sha256, "model_version": result.model.version,
            "model_sha256": result.model.sha256, "backend": result.model.backend, "precision": result.model.precision,
            "failure_case": inspection.failure_case_id, "part_status": part_change or None,
            "needs_review": "; ".join(review_reasons) or None,
        },
    )
    if station.cell_id:
        _publish_stamped(station.cell_id, _recorded_event(result, inspection, blob))
    return inspection


def _recorded_event(result: InspectionResult, inspection: Inspection, blob: ImageBlob) -> dict[str, Any]:
    return {
        "type": "inspection.recorded",
        "result_id": str(result.result_id),
        "serial": result.serial,
        "station": result.station,
        "verdict": result.verdict,
        "defect_class": result.defect_class,
        "defect_confidence": result.defect_confidence,
        "needs_review": inspection.needs_review,
        "latency_ms": result.latency_ms,
        "avg_power_mw": result.power.avg_power_mw,
        "energy_mj": result.power.energy_mj,
        "model_version": result.model.version,
        "backend": result.model.backend,
        "precision": result.model.precision,
        "captured_at": result.captured_at.isoformat(),
        "sent_at": result.sent_at.isoformat() if result.sent_at else None,
        "committed_at": None,  # stamped by the commit hook
        "image_url": blob.get_absolute_url(),
    }


def _publish_stamped(cell_id: int, event: dict[str, Any]) -> None:
    """After commit: stamp the commit time (the end of the sent -> committed latency) and publish."""
    def hook() -> None:
        event["committed_at"] = timezone.now().isoformat()
        publish(cell_id, event)

    transaction.on_commit(hook)


# --- Telemetry ------------------------------------------------------------------------------------------


def record_telemetry(payload: Any, *, source: str = TELEMETRY_SOURCE) -> TelemetrySample:
    """Store one telemetry message: the device's heartbeat, its latest state and one history row."""
    try:
        telemetry = Telemetry.from_dict(payload)
    except MessageError as exc:
        raise _refuse(payload, DeadLetterReason.MALFORMED, f"malformed telemetry: {exc}", source) from None
    device = EdgeDevice.objects.filter(device_id=telemetry.device_id).first()
    if device is None:
        raise _refuse(payload, DeadLetterReason.UNKNOWN_DEVICE, f"no edge device {telemetry.device_id!r} is registered", source)
    return _store_telemetry(device, telemetry)


@transaction.atomic(durable=True)
def _store_telemetry(device: EdgeDevice, telemetry: Telemetry) -> TelemetrySample:
    now = timezone.now()
    device = EdgeDevice.objects.select_for_update().get(pk=device.pk)
    sample = TelemetrySample.objects.create(
        device=device, at=telemetry.at, received_at=now, fps=telemetry.fps, power_mw=telemetry.power_mw,
        gpu_load=telemetry.gpu_load, memory=telemetry.memory, temperature=telemetry.temperature,
        backend=telemetry.backend, precision=telemetry.precision, model_version=telemetry.model_version,
    )
    latest = telemetry.to_dict()
    latest.pop("schema", None)
    device.last_heartbeat_at = max(filter(None, [device.last_heartbeat_at, now]))
    device.last_telemetry = latest
    changed = ["last_heartbeat_at", "last_telemetry"]
    for name in ("backend", "precision", "model_version", "hardware", "power_source"):
        value = getattr(telemetry, name)
        if value and getattr(device, name) != value:
            setattr(device, name, value[: device._meta.get_field(name).max_length])
            changed.append(name)
    device.save(update_fields=changed)
    keep = int(getattr(settings, "TWINWEB_TELEMETRY_HISTORY", 720))
    history = TelemetrySample.objects.filter(device=device)
    boundary = history.order_by("-at", "-id").values_list("at", "id")[keep:keep + 1].first()
    if boundary is not None:  # bounded history: drop everything from the (keep+1)-th newest back
        history.filter(Q(at__lt=boundary[0]) | Q(at=boundary[0], id__lte=boundary[1])).delete()
    publish_on_commit(device.cell_id, {
        "type": "device.telemetry", "device_id": device.device_id, "at": telemetry.at.isoformat(),
        "fps": telemetry.fps, "power_mw": telemetry.power_mw, "memory": telemetry.memory,
        "temperature": telemetry.temperature, "gpu_load": telemetry.gpu_load, "backend": telemetry.backend,
        "precision": telemetry.precision, "model_version": telemetry.model_version,
    })
    return sample
