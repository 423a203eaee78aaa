"""Inspection messages: what the server asks the edge to inspect, and what the edge answers.

    Capture          server (cell simulator or camera) -> edge queue `edge.<device id>`
    InspectionResult edge -> server `ingest` queue (task INGEST_RESULT_TASK)
    Telemetry        edge -> server `ingest` queue (task INGEST_TELEMETRY_TASK)

Every bound is declared on the field; the shared ones are named below.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from edge_worker.contracts.fields import (
    Flag,
    Integer,
    Json,
    ListOf,
    MapOf,
    Message,
    MessageError,
    Nested,
    Nullable,
    Number,
    Record,
    Text,
    Timestamp,
    UUIDValue,
    join,
)

VERDICTS = ("pass", "fail", "error")
STATION_JOBS = ("full", "measurement", "defect_model")
CAMERA_VIEWS = ("front", "backlit")

# --- Bounds shared by several messages ---------------------------------------------------------------------

DEVICE_ID = Text(max_len=60, blank=False)
SERIAL = Text(max_len=60, blank=False)
STATION = Text(max_len=40, blank=False)
CELL = Text(max_len=40, blank=False)
MAX_IMAGE_BYTES = 32 * 1024 * 1024  # the wire's hard limit; the server refuses smaller ones by its own setting
IMAGE_B64 = Text(max_len=4 * -(-MAX_IMAGE_BYTES // 3), blank=False)
OPTIONAL_IMAGE_B64 = Text(max_len=4 * -(-MAX_IMAGE_BYTES // 3))
MEASURE = Number(-1e6, 1e6)  # a dimension, nominal or tolerance (mm or any unit a feature uses)
MILLISECONDS = Number(0.0, 1e7)
MILLIWATTS = Number(0.0, 1e7)  # up to 10 kW
MILLIJOULES = Number(0.0, 1e12)
PROBABILITY = Number(0.0, 1.0)
PIXELS = Number(-1e6, 1e6)
CLASS_NAME = Text(max_len=40)
SHA256 = Text(max_len=64, pattern="[0-9a-f]{64}", pattern_help="expected 64 lowercase hex digits")
GEOMETRY = Json(max_depth=4, max_items=64, max_text=200, max_bytes=16 * 1024)
EXTRA_KEYS = Json(max_depth=4, max_items=32, max_text=1000, max_bytes=16 * 1024)

FEATURE = Record(
    fields={
        "name": Text(max_len=80, blank=False),
        "kind": Text(max_len=40, blank=False),
        "nominal": MEASURE,
        "lower_tol": MEASURE,
        "upper_tol": MEASURE,
        "unit": Text(max_len=10),
    },
    required=(),  # a feature missing a key reaches the vision library, which reports the part type unusable
    extra=EXTRA_KEYS,
)
PART_TYPE = Record(
    fields={
        "code": Text(max_len=40, blank=False),
        "name": Text(max_len=200),
        "drawing_number": Text(max_len=80),
        "revision": Text(max_len=20),
        "features": ListOf(FEATURE, max_items=64),
    },
    required=("code", "name", "features"),
    extra=EXTRA_KEYS,
)
BBOX = Nullable(ListOf(PIXELS, max_items=4, lengths=(4,), lengths_help="expected [x, y, w, h] numbers or null"))
FINDING = Record(
    fields={
        "kind": Text(max_len=40, blank=False),
        "name": Text(max_len=80, blank=False),
        "bbox": BBOX,
        "confidence": Nullable(PROBABILITY),
        "value": Nullable(MEASURE),
        "nominal": Nullable(MEASURE),
        "lower_limit": Nullable(MEASURE),
        "upper_limit": Nullable(MEASURE),
        "unit": Text(max_len=10),
        "detail": Text(max_len=2000),
        "defect_class": CLASS_NAME,
    },
    required=("kind", "name"),
    extra=EXTRA_KEYS,
)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def encode_image(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_image(b64: str, field_name: str = "image_png_b64") -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageError(field_name, f"not valid base64: {exc}") from None


def image_b64_size(b64: str) -> int:
    """Decoded size of a base64 string without decoding it (to refuse oversized images cheaply)."""
    padding = b64[-2:].count("=") if b64 else 0
    return (len(b64) * 3) // 4 - padding


# --- Capture ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Capture(Message):
    """One image of one part at one station, to be inspected by the edge device."""

    KIND: ClassVar[str] = "capture"
    VERSIONED: ClassVar[bool] = True
    # What to inspect comes first: a capture without it is refused as such (as the server's dead letters say).
    CHECKED_FIRST: ClassVar[tuple[str, ...]] = ("part_type",)

    capture_id: Annotated[uuid.UUID, UUIDValue()]
    serial: Annotated[str, SERIAL]
    station: Annotated[str, STATION]
    cell: Annotated[str, CELL]
    part_type: Annotated[dict[str, Any], PART_TYPE]  # edge_worker.vision.parts.PartTypeSpec.to_dict()
    # The image, when the sender took it. Empty: a capture command from the cell (its PLC's trigger), and the
    # device takes the image from the station's own camera source (edge_worker.cameras).
    image_png_b64: Annotated[str, OPTIONAL_IMAGE_B64]
    captured_at: Annotated[dt.datetime, Timestamp()]
    device_id: Annotated[str, DEVICE_ID]
    # The station camera's calibration: its scale (None: the renderer's default) and its id, echoed in the result.
    px_per_mm: Annotated[float | None, Nullable(Number(0.1, 1000.0))] = None
    calibration_id: Annotated[int | None, Nullable(Integer(1, 2**53))] = None
    lens_k1: Annotated[float | None, Nullable(Number(-10.0, 10.0))] = None  # the calibration's radial distortion
    # What the station runs on its own image: the defect model (visual) or the measurement programme (dimensional).
    job: Annotated[str, Text(max_len=20, choices=STATION_JOBS)] = "full"
    view: Annotated[str, Text(max_len=10, choices=CAMERA_VIEWS)] = "front"  # the camera's lighting

    @property
    def image_bytes(self) -> bytes:
        return decode_image(self.image_png_b64)

    @property
    def is_command(self) -> bool:
        """A capture command: the device takes the image from the station's camera."""
        return not self.image_png_b64


# --- Inspection result --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRef(Message):
    """Which model and runtime produced a result ("none" backend: dimensional inspection only)."""

    version: Annotated[str, Text(max_len=80)]
    sha256: Annotated[str, Text(max_len=64)]
    backend: Annotated[str, Text(max_len=40, blank=False)]
    backend_version: Annotated[str, Text(max_len=40)]
    precision: Annotated[str, Text(max_len=10)]
    device: Annotated[str, Text(max_len=80)]
    # The model registry's alias the device ran it as: "champion" (delivered by modelops), "" (the shipped model,
    # or a device from before model delivery). Only the champion's verdict is ever reported; the candidate runs in
    # shadow and is compared apart (edge_worker.model_update).
    alias: Annotated[str, Text(max_len=20)] = ""


@dataclass(frozen=True)
class PowerSummary(Message):
    """Average power and energy over one inference window, or why they were not measured."""

    avg_power_mw: Annotated[float | None, Nullable(MILLIWATTS)]
    energy_mj: Annotated[float | None, Nullable(MILLIJOULES)]
    note: Annotated[str, Text(max_len=300)] = ""

    @classmethod
    def not_measured(cls, reason: str) -> PowerSummary:
        note = reason if reason.startswith("not measured") else f"not measured: {reason}"
        return cls(None, None, note[:300])

    def check(self, path: str) -> None:
        if (self.avg_power_mw is None or self.energy_mj is None) and not self.note:
            raise MessageError(join(path, "note"), "power not measured but no reason given")


@dataclass(frozen=True)
class MeasurementRow(Message):
    name: Annotated[str, Text(max_len=80, blank=False)]
    kind: Annotated[str, Text(max_len=40, blank=False)]
    value: Annotated[float | None, Nullable(MEASURE)]
    nominal: Annotated[float, MEASURE]
    lower_tol: Annotated[float, MEASURE]
    upper_tol: Annotated[float, MEASURE]
    unit: Annotated[str, Text(max_len=10, blank=False)]
    passed: Annotated[bool, Flag()]
    geometry: Annotated[dict[str, Any] | None, Nullable(GEOMETRY)] = None

    @classmethod
    def from_vision(cls, row: dict[str, Any]) -> MeasurementRow:
        """From one row of `edge_worker.vision.measure.feature_results` (drops the pixel-only details)."""
        return cls(
            name=row["name"],
            kind=row["kind"],
            value=row["value"],
            nominal=row["nominal"],
            lower_tol=row["lower_tol"],
            upper_tol=row["upper_tol"],
            unit=row.get("unit", "mm"),
            passed=bool(row["passed"]),
            geometry=row.get("geometry"),
        )


@dataclass(frozen=True)
class InspectionResult(Message):
    """What the edge device concluded about one capture. `result_id` is unique: ingest is idempotent on it."""

    KIND: ClassVar[str] = "inspection result"
    VERSIONED: ClassVar[bool] = True

    result_id: Annotated[uuid.UUID, UUIDValue()]
    capture_id: Annotated[uuid.UUID, UUIDValue()]
    device_id: Annotated[str, DEVICE_ID]
    serial: Annotated[str, SERIAL]
    station: Annotated[str, STATION]
    verdict: Annotated[str, Text(max_len=10, choices=VERDICTS)]
    reason: Annotated[str, Text(max_len=10_000)]
    measurements: Annotated[tuple[MeasurementRow, ...], ListOf(Nested(MeasurementRow), max_items=64, as_tuple=True)]
    findings: Annotated[list[dict[str, Any]], ListOf(FINDING, max_items=64)]
    defect_class: Annotated[str | None, Nullable(CLASS_NAME)]
    defect_confidence: Annotated[float | None, Nullable(PROBABILITY)]
    class_probabilities: Annotated[dict[str, float], MapOf(PROBABILITY, max_items=64, key_max_len=40)]
    model: Annotated[ModelRef, Nested(ModelRef)]
    latency_ms: Annotated[float, MILLISECONDS]
    timings_ms: Annotated[dict[str, float], MapOf(MILLISECONDS, max_items=32, key_max_len=40)]
    power: Annotated[PowerSummary, Nested(PowerSummary)]
    # Empty only for an `error` verdict with no image to show (the camera gave none: the reason says why).
    image_png_b64: Annotated[str, OPTIONAL_IMAGE_B64]
    image_sha256: Annotated[
        str, Text(max_len=64, pattern="([0-9a-f]{64})?", pattern_help="expected 64 lowercase hex digits")
    ]
    captured_at: Annotated[dt.datetime, Timestamp()]
    inspected_at: Annotated[dt.datetime, Timestamp()]
    sent_at: Annotated[dt.datetime | None, Nullable(Timestamp())] = None
    cell: Annotated[str, Text(max_len=40)] = ""
    drawing_revision: Annotated[str, Text(max_len=10)] = ""  # the capture's drawing revision, measured against
    calibration_id: Annotated[int | None, Nullable(Integer(1, 2**53))] = None  # the capture's, echoed

    @property
    def image_bytes(self) -> bytes:
        return decode_image(self.image_png_b64)

    @property
    def image_size_bytes(self) -> int:
        return image_b64_size(self.image_png_b64)

    @property
    def has_image(self) -> bool:
        return bool(self.image_png_b64)

    def check(self, path: str) -> None:
        if not self.image_png_b64:
            if self.verdict != "error":
                raise MessageError(
                    join(path, "image_png_b64"),
                    f"must not be empty for a {self.verdict!r} verdict "
                    "(only an error result may come without its image)",
                )
            if self.image_sha256:
                raise MessageError(join(path, "image_sha256"), "given for a result without an image")
        elif not self.image_sha256:
            raise MessageError(join(path, "image_sha256"), "must not be empty when the result carries an image")

    def with_sent_at(self, when: dt.datetime) -> InspectionResult:
        return dataclasses.replace(self, sent_at=when)

    def verify_image(self) -> bytes:
        """The decoded image, checked against its declared sha256."""
        data = self.image_bytes
        actual = hashlib.sha256(data).hexdigest()
        if actual != self.image_sha256:
            raise MessageError("image_sha256", f"does not match the image (image hashes to {actual[:12]}...)")
        return data


# --- Telemetry ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Telemetry(Message):
    """A device's periodic heartbeat with what it can say about itself. Unknown values are null, never 0."""

    KIND: ClassVar[str] = "telemetry"
    VERSIONED: ClassVar[bool] = True

    device_id: Annotated[str, DEVICE_ID]
    at: Annotated[dt.datetime, Timestamp()]
    fps: Annotated[float | None, Nullable(Number(0.0, 1e6))]
    power_mw: Annotated[float | None, Nullable(MILLIWATTS)]
    # Megabytes and percentages by name (used_mb, total_mb, worker_rss_mb, gpu_used_mb...).
    memory: Annotated[dict[str, Any], MapOf(Nullable(Number(0.0, 1e9)), max_items=32, key_max_len=40)] = field(
        default_factory=dict
    )
    # Degrees Celsius by sensor; a Jetson reports -256 for a sensor that is off.
    temperature: Annotated[dict[str, Any], MapOf(Nullable(Number(-300.0, 1000.0)), max_items=64, key_max_len=60)] = (
        field(default_factory=dict)
    )
    gpu_load: Annotated[float | None, Nullable(Number(0.0, 100.0))] = None
    backend: Annotated[str, Text(max_len=40)] = ""
    precision: Annotated[str, Text(max_len=10)] = ""
    model_version: Annotated[str, Text(max_len=80)] = ""
    hardware: Annotated[str, Text(max_len=200)] = ""
    power_source: Annotated[str, Text(max_len=200)] = ""
