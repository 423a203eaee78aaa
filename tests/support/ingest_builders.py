"""Known, valid edge messages to start each test from; tests change one thing and check the consequence.

`payload` and `telemetry` are signed as their device signs them (with its current secret: `make_device` issues
one), so the tests take the real, authenticated ingest path; `body` and `telemetry_body` are the same messages
unsigned. A test that changes a signed message signs it again with `signed` (or its change is a forgery).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import numpy as np

from edge_worker.contracts.inspection import (
    InspectionResult,
    MeasurementRow,
    ModelRef,
    PowerSummary,
    Telemetry,
    encode_image,
)
from edge_worker.contracts.queues import INGEST_RESULT_TASK, INGEST_TELEMETRY_TASK
from edge_worker.contracts.signing import AUTH_KEY, DeviceSecret, sign
from edge_worker.credentials import Credentials
from edge_worker.vision.render import encode_png
from inspection.actions.edge_auth import current_secret, ensure_edge_secret
from inspection.models import EdgeDevice
from tests.support import factories
from traceability import actions
from traceability.models import Cell, Part

DEVICE_ID = "jetson-test-01"
T0 = dt.datetime(2026, 3, 1, 8, 0, 0, tzinfo=dt.timezone.utc)


def png(seed: int = 0, size: int = 16) -> bytes:
    rng = np.random.default_rng(seed)
    return encode_png(rng.integers(0, 255, size=(size, size), dtype=np.uint8))


def make_device(cell: Cell, device_id: str = DEVICE_ID) -> EdgeDevice:
    """A registered device with a secret issued (as an admin does before the device is installed)."""
    device: EdgeDevice = actions.save_record(EdgeDevice(device_id=device_id, name="Test Jetson", cell=cell), actor=None)  # type: ignore[assignment]
    ensure_edge_secret(device, actor=None)
    return device


def device_secret(device_id: str = DEVICE_ID) -> DeviceSecret | None:
    """The device's current secret, as the server holds it (None: no such device, or none issued)."""
    device = EdgeDevice.objects.filter(device_id=device_id).first()
    return current_secret(device) if device is not None else None


def credentials(device_id: str = DEVICE_ID) -> Credentials:
    """What the device's worker is given: its id and current secret."""
    secret = device_secret(device_id)
    assert secret is not None, f"{device_id} has no secret: make_device issues one"
    return Credentials(device_id, secret)


def as_device(monkeypatch: Any, device_id: str = DEVICE_ID) -> Credentials:
    """Make this process the device's edge worker (what its environment says on the Jetson): its id and secret."""
    identity = credentials(device_id)
    monkeypatch.setenv("TWINWEB_EDGE_DEVICE", identity.device_id)
    monkeypatch.setenv("TWINWEB_EDGE_SECRET", identity.secret.text())
    return identity


def signed(
    message: dict[str, Any],
    task: str = INGEST_RESULT_TASK,
    *,
    device_id: str | None = None,
    secret: DeviceSecret | None = None,
) -> dict[str, Any]:
    """`message` (any `auth` it had dropped) signed as its device sends it as `task`: with `secret`, else the
    device's current one, else a secret of nobody's (a device the server does not know)."""
    device = device_id or str(message.get("device_id") or DEVICE_ID)
    return sign(message, task=task, device_id=device, secret=secret or device_secret(device) or DeviceSecret.generate())


def unsigned(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != AUTH_KEY}


def make_edge_part(cell: Cell) -> Part:
    return factories.make_part(factories.make_batch(cell=cell))


def result(
    *,
    serial: str,
    station: str = "visual",
    device_id: str = DEVICE_ID,
    verdict: str = "pass",
    defect_class: str | None = "ok",
    defect_confidence: float | None = 0.99,
    captured_at: dt.datetime = T0,
    result_id: uuid.UUID | None = None,
    image: bytes | None = None,
    measurements_pass: bool = True,
) -> InspectionResult:
    image = image if image is not None else png()
    return InspectionResult(
        result_id=result_id or uuid.uuid4(),
        capture_id=uuid.uuid4(),
        device_id=device_id,
        serial=serial,
        station=station,
        verdict=verdict,
        reason="" if verdict == "pass" else "bore_diameter 30.081 mm > 30.050 mm",
        measurements=(
            MeasurementRow(
                "bore_diameter",
                "diameter",
                30.02 if measurements_pass else 30.081,
                30.0,
                0.0,
                0.05,
                "mm",
                measurements_pass,
                {"type": "circle", "center": [256, 256], "radius": 75},
            ),
        ),
        findings=[]
        if defect_class in (None, "ok")
        else [{"kind": "defect", "name": defect_class, "bbox": [10, 10, 100, 100], "confidence": defect_confidence}],
        defect_class=defect_class,
        defect_confidence=defect_confidence,
        class_probabilities={"ok": 0.99, "scratch": 0.01} if defect_class == "ok" else {defect_class or "ok": 0.9},
        model=ModelRef("dc-1.0", "ab" * 32, "onnxruntime", "1.22.0", "fp32", "cpu"),
        latency_ms=42.5,
        timings_ms={"decode": 1.0, "measure": 30.0, "classify": 11.5},
        power=PowerSummary(2150.0, 91.375, "nvml: 3 samples over 42.5 ms"),
        image_png_b64=encode_image(image),
        image_sha256=hashlib.sha256(image).hexdigest(),
        captured_at=captured_at,
        inspected_at=captured_at + dt.timedelta(seconds=1),
        sent_at=captured_at + dt.timedelta(seconds=1, milliseconds=5),
    )


def body(**kwargs: Any) -> dict[str, Any]:
    """A result as its fields, unsigned."""
    return result(**kwargs).to_dict()


def payload(**kwargs: Any) -> dict[str, Any]:
    """A result as the device sends it: signed."""
    return signed(body(**kwargs))


def telemetry(device_id: str = DEVICE_ID, at: dt.datetime = T0, **overrides: Any) -> dict[str, Any]:
    """Telemetry as the device sends it: signed."""
    return signed(telemetry_body(device_id, at, **overrides), INGEST_TELEMETRY_TASK, device_id=device_id)


def telemetry_body(device_id: str = DEVICE_ID, at: dt.datetime = T0, **overrides: Any) -> dict[str, Any]:
    data = Telemetry(
        device_id=device_id,
        at=at,
        fps=0.2,
        power_mw=2100.0,
        memory={"used_mb": 1500.0, "total_mb": 3956.0},
        temperature={"gpu": 41.5},
        gpu_load=37.0,
        backend="tensorrt",
        precision="fp16",
        model_version="dc-1.0",
        hardware="NVIDIA Jetson Nano",
        power_source="jtop: board total",
    ).to_dict()
    data.update(overrides)
    return data
