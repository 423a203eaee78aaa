"""Scripted cell history for live-view tests: parts through stations at known times, with inspections."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from inspection.models import EdgeDevice, Inspection
from tests.support import factories
from traceability import actions
from traceability.choices import StationOutcome
from traceability.models import Batch, Cell, Part, Station, StationEvent
from twinweb.events import InspectionRecorded


def stations(cell: Cell) -> list[Station]:
    return list(Station.objects.filter(cell=cell).order_by("position"))


def batch_for(cell: Cell) -> Batch:
    return factories.make_batch(cell=cell)


def visit(
    part: Part,
    station: Station,
    *,
    entered: dt.datetime,
    dwell_s: float | None,
    outcome: StationOutcome = StationOutcome.OK,
) -> StationEvent:
    event = actions.record_station_entry(part, station=station, actor=None, at=entered)
    if dwell_s is not None:
        actions.record_station_exit(event, outcome=outcome, actor=None, at=entered + dt.timedelta(seconds=dwell_s))
    return event


def inspect(
    part: Part,
    station: Station,
    *,
    at: dt.datetime,
    verdict: str = "pass",
    defect_class: str = "",
    device: EdgeDevice | None = None,
    energy_mj: float | None = None,
    avg_power_mw: float | None = None,
    **extra: Any,
) -> Inspection:
    """An inspection row as the ingest action stores it (issue 5 writes the real one)."""
    return Inspection.objects.create(
        result_id=uuid.uuid4(),
        capture_id=uuid.uuid4(),
        part=part,
        station=station,
        device=device,
        verdict=verdict,
        defect_class=defect_class,
        defect_confidence=0.93 if defect_class else None,
        captured_at=at,
        inspected_at=at,
        received_at=at,
        model_version="demo-1",
        backend="onnxruntime",
        precision="fp32",
        latency_ms=12.5,
        energy_mj=energy_mj,
        avg_power_mw=avg_power_mw,
        **extra,
    )


def run_part(
    cell: Cell,
    batch: Batch,
    *,
    start: dt.datetime,
    dwell_s: Sequence[float],
    outcomes: Sequence[StationOutcome] | None = None,
    verdicts: dict[str, str] | None = None,
    serial: str | None = None,
    with_images: bool = False,
) -> Part:
    """One part through every station back to back, starting at `start`, each dwell as given."""
    part = factories.make_part(batch, serial=serial)
    at = start
    for index, station in enumerate(stations(cell)):
        outcome = outcomes[index] if outcomes else StationOutcome.OK
        visit(part, station, entered=at, dwell_s=dwell_s[index], outcome=outcome)
        if verdicts and station.code in verdicts:
            verdict = verdicts[station.code]
            inspect(
                part,
                station,
                at=at + dt.timedelta(seconds=1),
                verdict=verdict,
                defect_class="scratch" if verdict == "fail" else "",
                energy_mj=150.0,
                image=make_image(index) if with_images else None,
            )
        at += dt.timedelta(seconds=dwell_s[index])
    return part


def now() -> dt.datetime:
    return timezone.now()


def recorded_event(
    *, result_id: str, station: str = "visual", verdict: str = "pass", serial: str = "SN-1", **overrides: Any
) -> InspectionRecorded:
    """An `inspection.recorded` event as ingest publishes it, for tests that publish straight to the stream."""
    at = timezone.now().isoformat()
    fields: dict[str, Any] = dict(
        result_id=result_id,
        serial=serial,
        station=station,
        verdict=verdict,
        defect_class=None,
        defect_confidence=None,
        needs_review=False,
        latency_ms=12.5,
        avg_power_mw=None,
        energy_mj=None,
        model_version="demo-1",
        backend="onnxruntime",
        precision="fp32",
        captured_at=at,
        sent_at=at,
        committed_at=at,
        image_url="/images/0/",
    )
    return InspectionRecorded(**{**fields, **overrides})


def make_image(seed: int = 0) -> Any:
    """A small real PNG stored as an ImageBlob, as ingest stores evidence images."""
    import hashlib
    import struct
    import zlib

    from django.core.files.base import ContentFile

    from inspection.models import ImageBlob

    width = height = 8
    raw = b"".join(b"\x00" + bytes([(seed * 37 + x * 16 + y * 8) % 256 for x in range(width)]) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    sha = hashlib.sha256(png).hexdigest()
    existing = ImageBlob.objects.filter(sha256=sha).first()
    if existing:
        return existing
    return ImageBlob.objects.create(
        sha256=sha,
        file=ContentFile(png, name=f"{sha}.png"),
        size_bytes=len(png),
        width=width,
        height=height,
        stored_at=timezone.now(),
    )
