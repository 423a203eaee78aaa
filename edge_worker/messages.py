"""The messages the edge device and the server exchange, defined once and imported by both sides.

Every message is a plain JSON dict on the wire (Celery's json serializer). `from_dict` validates strictly and
raises `MessageError` naming the field and what was wrong, so the server can keep a refused payload in a
dead-letter record with a reason a person can act on. `to_dict` is the exact inverse.

    Capture          server (cell simulator or camera) -> edge queue `edge.<device_id>`
    InspectionResult edge -> server queue `ingest` (task `inspection.tasks.ingest_result`)
    Telemetry        edge -> server queue `ingest` (task `inspection.tasks.ingest_telemetry`)
    Refusal          edge -> server queue `ingest` (task `inspection.tasks.ingest_refusal`): a message the edge
                     could not use, kept by the server in a dead-letter record

Pure Python: no Django, no ORM (this module runs on the Jetson).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
VERDICTS = ("pass", "fail", "error")

# Task names and queues, written once for both sides (the edge never imports the server's modules).
INGEST_QUEUE = "ingest"
INGEST_RESULT_TASK = "inspection.tasks.ingest_result"
INGEST_TELEMETRY_TASK = "inspection.tasks.ingest_telemetry"
INGEST_REFUSAL_TASK = "inspection.tasks.ingest_refusal"
INSPECT_CAPTURE_TASK = "edge_worker.tasks.inspect_capture"


def edge_queue(device_id: str) -> str:
    return f"edge.{device_id}"


def cobot_queue(cell_code: str) -> str:
    return f"cobot.{cell_code}"


class MessageError(ValueError):
    """A message does not follow the schema. `field` names the offending field ('' for the whole message)."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field = field_name
        self.problem = problem
        super().__init__(f"{field_name}: {problem}" if field_name else problem)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _get(data: dict[str, Any], name: str, *, optional: bool = False, default: Any = None) -> Any:
    if name not in data:
        if optional:
            return default
        raise MessageError(name, "missing")
    return data[name]


def _str(data: dict[str, Any], name: str, *, optional: bool = False, allow_empty: bool = True, max_len: int = 10_000) -> str:
    value = _get(data, name, optional=optional, default="")
    if not isinstance(value, str):
        raise MessageError(name, f"expected a string, got {_type_name(value)}")
    if not allow_empty and not value.strip():
        raise MessageError(name, "must not be empty")
    if len(value) > max_len:
        raise MessageError(name, f"longer than {max_len} characters")
    return value


def _number(value: Any, name: str, *, nullable: bool = False) -> float | None:
    if value is None and nullable:
        return None
    # bool is an int in Python; a JSON true is never a measurement.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MessageError(name, f"expected a number, got {_type_name(value)}")
    if not math.isfinite(value):
        raise MessageError(name, f"must be finite, got {value}")
    return float(value)


def _num(data: dict[str, Any], name: str, *, nullable: bool = False, optional: bool = False, minimum: float | None = None) -> float | None:
    if optional and name not in data:
        return None
    value = _number(_get(data, name), name, nullable=nullable)
    if value is not None and minimum is not None and value < minimum:
        raise MessageError(name, f"must be >= {minimum}, got {value}")
    return value


def _dict(data: dict[str, Any], name: str, *, optional: bool = False) -> dict[str, Any]:
    value = _get(data, name, optional=optional, default={})
    if not isinstance(value, dict):
        raise MessageError(name, f"expected an object, got {_type_name(value)}")
    return value


def _list(data: dict[str, Any], name: str, *, optional: bool = False) -> list[Any]:
    value = _get(data, name, optional=optional, default=[])
    if not isinstance(value, list):
        raise MessageError(name, f"expected a list, got {_type_name(value)}")
    return value


def _uuid(data: dict[str, Any], name: str) -> uuid.UUID:
    value = _get(data, name)
    if not isinstance(value, str):
        raise MessageError(name, f"expected a UUID string, got {_type_name(value)}")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise MessageError(name, f"not a UUID: {value[:60]!r}") from None


def _when(data: dict[str, Any], name: str, *, optional: bool = False) -> dt.datetime | None:
    if optional and data.get(name) is None:
        return None
    value = _get(data, name)
    if not isinstance(value, str):
        raise MessageError(name, f"expected an ISO 8601 timestamp, got {_type_name(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise MessageError(name, f"not an ISO 8601 timestamp: {value[:60]!r}") from None
    if parsed.tzinfo is None:
        raise MessageError(name, "timestamp has no time zone (send UTC, e.g. 2026-01-01T12:00:00+00:00)")
    return parsed


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def encode_image(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _image(data: dict[str, Any], name: str) -> str:
    value = _str(data, name, allow_empty=False, max_len=1 << 31)
    return value


def decode_image(b64: str, field_name: str = "image_png_b64") -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageError(field_name, f"not valid base64: {exc}") from None


def image_b64_size(b64: str) -> int:
    """Decoded size of a base64 string without decoding it (to refuse oversized images cheaply)."""
    padding = b64[-2:].count("=") if b64 else 0
    return (len(b64) * 3) // 4 - padding


def _check_schema(data: Any, kind: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MessageError("", f"a {kind} message must be a JSON object, got {_type_name(data)}")
    schema = data.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise MessageError("schema", f"unsupported schema version {schema!r} (this side speaks {SCHEMA_VERSION})")
    return data


# --- Capture ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture:
    """One image of one part at one station, to be inspected by the edge device."""

    capture_id: uuid.UUID
    serial: str
    station: str
    cell: str
    part_type: dict[str, Any]  # edge_worker.vision.parts.PartTypeSpec.to_dict()
    image_png_b64: str
    captured_at: dt.datetime
    device_id: str

    @property
    def image_bytes(self) -> bytes:
        return decode_image(self.image_png_b64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "capture_id": str(self.capture_id),
            "serial": self.serial,
            "station": self.station,
            "cell": self.cell,
            "part_type": self.part_type,
            "image_png_b64": self.image_png_b64,
            "captured_at": _iso(self.captured_at),
            "device_id": self.device_id,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Capture":
        data = _check_schema(data, "capture")
        part_type = _dict(data, "part_type")
        for key in ("code", "name", "features"):
            if key not in part_type:
                raise MessageError(f"part_type.{key}", "missing")
        return cls(
            capture_id=_uuid(data, "capture_id"),
            serial=_str(data, "serial", allow_empty=False, max_len=60),
            station=_str(data, "station", allow_empty=False, max_len=40),
            cell=_str(data, "cell", allow_empty=False, max_len=40),
            part_type=part_type,
            image_png_b64=_image(data, "image_png_b64"),
            captured_at=_when(data, "captured_at"),  # type: ignore[arg-type]
            device_id=_str(data, "device_id", allow_empty=False, max_len=60),
        )


# --- Inspection result ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRef:
    """Which model and runtime produced a result ("none" backend: dimensional inspection only)."""

    version: str
    sha256: str
    backend: str
    backend_version: str
    precision: str
    device: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "sha256": self.sha256, "backend": self.backend,
            "backend_version": self.backend_version, "precision": self.precision, "device": self.device,
        }

    @classmethod
    def from_dict(cls, data: Any, prefix: str = "model") -> "ModelRef":
        if not isinstance(data, dict):
            raise MessageError(prefix, f"expected an object, got {_type_name(data)}")
        try:
            return cls(
                version=_str(data, "version", max_len=80),
                sha256=_str(data, "sha256", max_len=64),
                backend=_str(data, "backend", allow_empty=False, max_len=40),
                backend_version=_str(data, "backend_version", max_len=40),
                precision=_str(data, "precision", max_len=10),
                device=_str(data, "device", max_len=80),
            )
        except MessageError as exc:
            raise MessageError(f"{prefix}.{exc.field}", exc.problem) from None


@dataclass(frozen=True)
class PowerSummary:
    """Average power and energy over one inference window, or why they were not measured."""

    avg_power_mw: float | None
    energy_mj: float | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"avg_power_mw": self.avg_power_mw, "energy_mj": self.energy_mj, "note": self.note}

    @classmethod
    def not_measured(cls, reason: str) -> "PowerSummary":
        return cls(None, None, reason if reason.startswith("not measured") else f"not measured: {reason}")

    @classmethod
    def from_dict(cls, data: Any, prefix: str = "power") -> "PowerSummary":
        if not isinstance(data, dict):
            raise MessageError(prefix, f"expected an object, got {_type_name(data)}")
        try:
            summary = cls(
                avg_power_mw=_num(data, "avg_power_mw", nullable=True, minimum=0.0),
                energy_mj=_num(data, "energy_mj", nullable=True, minimum=0.0),
                note=_str(data, "note", optional=True, max_len=300),
            )
        except MessageError as exc:
            raise MessageError(f"{prefix}.{exc.field}", exc.problem) from None
        if (summary.avg_power_mw is None or summary.energy_mj is None) and not summary.note:
            raise MessageError(f"{prefix}.note", "power not measured but no reason given")
        return summary


@dataclass(frozen=True)
class MeasurementRow:
    name: str
    kind: str
    value: float | None
    nominal: float
    lower_tol: float
    upper_tol: float
    unit: str
    passed: bool
    geometry: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "value": self.value, "nominal": self.nominal,
            "lower_tol": self.lower_tol, "upper_tol": self.upper_tol, "unit": self.unit, "passed": self.passed,
            "geometry": self.geometry,
        }

    @classmethod
    def from_dict(cls, data: Any, prefix: str) -> "MeasurementRow":
        if not isinstance(data, dict):
            raise MessageError(prefix, f"expected an object, got {_type_name(data)}")
        try:
            passed = _get(data, "passed")
            if not isinstance(passed, bool):
                raise MessageError("passed", f"expected true or false, got {_type_name(passed)}")
            geometry = data.get("geometry")
            if geometry is not None and not isinstance(geometry, dict):
                raise MessageError("geometry", f"expected an object or null, got {_type_name(geometry)}")
            return cls(
                name=_str(data, "name", allow_empty=False, max_len=80),
                kind=_str(data, "kind", allow_empty=False, max_len=40),
                value=_num(data, "value", nullable=True),
                nominal=_num(data, "nominal"),  # type: ignore[arg-type]
                lower_tol=_num(data, "lower_tol"),  # type: ignore[arg-type]
                upper_tol=_num(data, "upper_tol"),  # type: ignore[arg-type]
                unit=_str(data, "unit", optional=True, max_len=10) or "mm",
                passed=passed,
                geometry=geometry,
            )
        except MessageError as exc:
            raise MessageError(f"{prefix}.{exc.field}", exc.problem) from None

    @classmethod
    def from_vision(cls, row: dict[str, Any]) -> "MeasurementRow":
        """From one row of `edge_worker.vision.measure.feature_results` (drops the pixel-only details)."""
        return cls(
            name=row["name"], kind=row["kind"], value=row["value"], nominal=row["nominal"], lower_tol=row["lower_tol"],
            upper_tol=row["upper_tol"], unit=row.get("unit", "mm"), passed=bool(row["passed"]), geometry=row.get("geometry"),
        )


def _findings(data: dict[str, Any]) -> list[dict[str, Any]]:
    findings = _list(data, "findings")
    for index, finding in enumerate(findings):
        if not isinstance(finding, dict):
            raise MessageError(f"findings[{index}]", f"expected an object, got {_type_name(finding)}")
        for key in ("kind", "name"):
            if not isinstance(finding.get(key), str):
                raise MessageError(f"findings[{index}].{key}", "missing or not a string")
        bbox = finding.get("bbox")
        if bbox is not None and not (
            isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        ):
            raise MessageError(f"findings[{index}].bbox", "expected [x, y, w, h] numbers or null")
        if "confidence" in finding:
            _number(finding["confidence"], f"findings[{index}].confidence", nullable=True)
    return findings


@dataclass(frozen=True)
class InspectionResult:
    """What the edge device concluded about one capture. `result_id` is unique: ingest is idempotent on it."""

    result_id: uuid.UUID
    capture_id: uuid.UUID
    device_id: str
    serial: str
    station: str
    verdict: str
    reason: str
    measurements: tuple[MeasurementRow, ...]
    findings: list[dict[str, Any]]
    defect_class: str | None
    defect_confidence: float | None
    class_probabilities: dict[str, float]
    model: ModelRef
    latency_ms: float
    timings_ms: dict[str, float]
    power: PowerSummary
    image_png_b64: str
    image_sha256: str
    captured_at: dt.datetime
    inspected_at: dt.datetime
    sent_at: dt.datetime | None = None
    cell: str = ""

    @property
    def image_bytes(self) -> bytes:
        return decode_image(self.image_png_b64)

    @property
    def image_size_bytes(self) -> int:
        return image_b64_size(self.image_png_b64)

    def with_sent_at(self, when: dt.datetime) -> "InspectionResult":
        from dataclasses import replace

        return replace(self, sent_at=when)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "result_id": str(self.result_id),
            "capture_id": str(self.capture_id),
            "device_id": self.device_id,
            "serial": self.serial,
            "station": self.station,
            "cell": self.cell,
            "verdict": self.verdict,
            "reason": self.reason,
            "measurements": [m.to_dict() for m in self.measurements],
            "findings": self.findings,
            "defect_class": self.defect_class,
            "defect_confidence": self.defect_confidence,
            "class_probabilities": self.class_probabilities,
            "model": self.model.to_dict(),
            "latency_ms": self.latency_ms,
            "timings_ms": self.timings_ms,
            "power": self.power.to_dict(),
            "image_png_b64": self.image_png_b64,
            "image_sha256": self.image_sha256,
            "captured_at": _iso(self.captured_at),
            "inspected_at": _iso(self.inspected_at),
            "sent_at": _iso(self.sent_at),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "InspectionResult":
        data = _check_schema(data, "inspection result")
        verdict = _str(data, "verdict")
        if verdict not in VERDICTS:
            raise MessageError("verdict", f"must be one of {', '.join(VERDICTS)}, got {verdict[:20]!r}")
        measurements = tuple(
            MeasurementRow.from_dict(row, f"measurements[{i}]") for i, row in enumerate(_list(data, "measurements"))
        )
        probabilities = _dict(data, "class_probabilities")
        for name, p in probabilities.items():
            _number(p, f"class_probabilities.{name}")
        timings = _dict(data, "timings_ms")
        for name, ms in timings.items():
            _number(ms, f"timings_ms.{name}")
        defect_class = _get(data, "defect_class")
        if defect_class is not None and not isinstance(defect_class, str):
            raise MessageError("defect_class", f"expected a string or null, got {_type_name(defect_class)}")
        confidence = _num(data, "defect_confidence", nullable=True)
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            raise MessageError("defect_confidence", f"must be between 0 and 1, got {confidence}")
        image_sha256 = _str(data, "image_sha256", allow_empty=False, max_len=64)
        if len(image_sha256) != 64 or any(c not in "0123456789abcdef" for c in image_sha256):
            raise MessageError("image_sha256", "expected 64 lowercase hex digits")
        return cls(
            result_id=_uuid(data, "result_id"),
            capture_id=_uuid(data, "capture_id"),
            device_id=_str(data, "device_id", allow_empty=False, max_len=60),
            serial=_str(data, "serial", allow_empty=False, max_len=60),
            station=_str(data, "station", allow_empty=False, max_len=40),
            cell=_str(data, "cell", optional=True, max_len=40),
            verdict=verdict,
            reason=_str(data, "reason"),
            measurements=measurements,
            findings=_findings(data),
            defect_class=defect_class,
            defect_confidence=confidence,
            class_probabilities={k: float(v) for k, v in probabilities.items()},
            model=ModelRef.from_dict(_get(data, "model")),
            latency_ms=_num(data, "latency_ms", minimum=0.0),  # type: ignore[arg-type]
            timings_ms={k: float(v) for k, v in timings.items()},
            power=PowerSummary.from_dict(_get(data, "power")),
            image_png_b64=_image(data, "image_png_b64"),
            image_sha256=image_sha256,
            captured_at=_when(data, "captured_at"),  # type: ignore[arg-type]
            inspected_at=_when(data, "inspected_at"),  # type: ignore[arg-type]
            sent_at=_when(data, "sent_at", optional=True),
        )

    def verify_image(self) -> bytes:
        """The decoded image, checked against its declared sha256."""
        data = self.image_bytes
        actual = hashlib.sha256(data).hexdigest()
        if actual != self.image_sha256:
            raise MessageError("image_sha256", f"does not match the image (image hashes to {actual[:12]}...)")
        return data


# --- Telemetry --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Telemetry:
    """A device's periodic heartbeat with what it can say about itself. Unknown values are null, never 0."""

    device_id: str
    at: dt.datetime
    fps: float | None
    power_mw: float | None
    memory: dict[str, Any] = field(default_factory=dict)
    temperature: dict[str, Any] = field(default_factory=dict)
    gpu_load: float | None = None
    backend: str = ""
    precision: str = ""
    model_version: str = ""
    hardware: str = ""
    power_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "device_id": self.device_id,
            "at": _iso(self.at),
            "fps": self.fps,
            "power_mw": self.power_mw,
            "memory": self.memory,
            "temperature": self.temperature,
            "gpu_load": self.gpu_load,
            "backend": self.backend,
            "precision": self.precision,
            "model_version": self.model_version,
            "hardware": self.hardware,
            "power_source": self.power_source,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Telemetry":
        data = _check_schema(data, "telemetry")
        temperature = _dict(data, "temperature", optional=True)
        for name, celsius in temperature.items():
            _number(celsius, f"temperature.{name}", nullable=True)
        return cls(
            device_id=_str(data, "device_id", allow_empty=False, max_len=60),
            at=_when(data, "at"),  # type: ignore[arg-type]
            fps=_num(data, "fps", nullable=True, minimum=0.0),
            power_mw=_num(data, "power_mw", nullable=True, minimum=0.0),
            memory=_dict(data, "memory", optional=True),
            temperature=temperature,
            gpu_load=_num(data, "gpu_load", nullable=True, optional=True),
            backend=_str(data, "backend", optional=True, max_len=40),
            precision=_str(data, "precision", optional=True, max_len=10),
            model_version=_str(data, "model_version", optional=True, max_len=80),
            hardware=_str(data, "hardware", optional=True, max_len=200),
            power_source=_str(data, "power_source", optional=True, max_len=200),
        )


# --- Refused messages -------------------------------------------------------------------------------------

KEPT_PAYLOAD_CAP = 64 * 1024  # bytes of JSON kept whole; a larger payload loses its long strings (the image)
KEPT_STRING_CAP = 1024  # in a payload over the cap, strings longer than this are replaced by their length and hash
REFUSAL_NAMESPACE = uuid.UUID("0f6c2f4e-8d3a-4a4b-9b7e-5d1e3c2a9f60")


def kept_payload(payload: Any, cap: int = KEPT_PAYLOAD_CAP) -> tuple[dict[str, Any], int]:
    """A refused payload as it is kept, and the size of the whole payload as JSON in bytes.

    Whole when small; over `cap`, an object keeps its fields but each long string (a base64 image) becomes
    "<N characters omitted; sha256 ...>", so a person still sees what was sent and can match the image. A payload
    that is not an object is kept under "value" (or "repr" when it is not JSON at all)."""
    try:
        text = json.dumps(payload, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
        return {"repr": text[:cap]}, len(text)
    size = len(text.encode("utf-8"))
    if not isinstance(payload, dict):
        return {"value": payload if size <= cap else text[:cap]}, size
    if size <= cap:
        return payload, size
    kept: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, str) and len(value) > KEPT_STRING_CAP:
            kept[key] = f"<{len(value)} characters omitted; sha256 {hashlib.sha256(value.encode()).hexdigest()}>"
        else:
            kept[key] = value
    if len(json.dumps(kept, default=str).encode("utf-8")) > cap:  # large without long strings: keep its start
        return {"truncated": json.dumps(kept, default=str)[:cap]}, size
    return kept, size


def _payload_digest(payload: Any) -> str:
    try:
        text = json.dumps(payload, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
    return hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()


@dataclass(frozen=True)
class Refusal:
    """A message an edge task could not use (it does not follow the schema), sent to the server so that it is kept
    in a dead-letter record instead of being lost on the device.

    `refusal_id` is derived from (device, task, payload): a redelivered message refused again, or a refusal
    delivered twice, is kept once. `payload` is the refused message as `kept_payload` keeps it (a huge one loses
    its image); `payload_bytes` is the size of the whole message."""

    refusal_id: uuid.UUID
    device_id: str
    task: str
    reason: str
    payload: dict[str, Any]
    payload_bytes: int
    refused_at: dt.datetime

    @classmethod
    def of(cls, payload: Any, *, device_id: str, task: str, reason: str) -> "Refusal":
        kept, size = kept_payload(payload)
        return cls(
            refusal_id=uuid.uuid5(REFUSAL_NAMESPACE, f"{device_id}:{task}:{_payload_digest(payload)}"),
            device_id=device_id, task=task, reason=reason[:2000], payload=kept, payload_bytes=size, refused_at=utc_now(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "refusal_id": str(self.refusal_id),
            "device_id": self.device_id,
            "task": self.task,
            "reason": self.reason,
            "payload": self.payload,
            "payload_bytes": self.payload_bytes,
            "refused_at": _iso(self.refused_at),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Refusal":
        data = _check_schema(data, "refusal")
        return cls(
            refusal_id=_uuid(data, "refusal_id"),
            device_id=_str(data, "device_id", allow_empty=False, max_len=60),
            task=_str(data, "task", allow_empty=False, max_len=80),
            reason=_str(data, "reason", allow_empty=False, max_len=2000),
            payload=_dict(data, "payload"),
            payload_bytes=int(_num(data, "payload_bytes", minimum=0.0)),  # type: ignore[arg-type]
            refused_at=_when(data, "refused_at"),  # type: ignore[arg-type]
        )
