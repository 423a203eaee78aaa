"""Demo cases for Debug Mode: failed and low-confidence inspections awaiting an operator, with real images.

Each case is a part rendered by the vision library (`edge_worker.vision.render`), measured by the real
measurement programme (`inspect_image`), and classified by the installed defect classifier when one loads.
Without a classifier (no model files yet), the surface-defect finding comes from the renderer's ground truth
and says so: model_version "render-truth", confidence 1.0, no class probabilities.

Debug Mode reviews a part, not one station's result: the demo also has a part both inspection stations flagged
(a scratch at visual, then an undersized bore at dimensional), which the queue shows as one entry and one
verdict decides.

Every case is stored the way a real result is: as the edge device's `InspectionResult` message, through the
ingest action (`record_inspection_result`), so the demo exercises the production write path. `seed_review_cases`
is idempotent (deterministic result ids).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from edge_worker.contracts.inspection import (
    InspectionResult,
    MeasurementRow,
    ModelRef,
    PowerSummary,
    encode_image,
)
from edge_worker.contracts.queues import INGEST_RESULT_TASK
from edge_worker.vision.inspect import inspect_image
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part
from inspection.actions.edge import register_edge_device
from inspection.actions.edge_auth import ensure_edge_secret, sign_as_device
from inspection.actions.ingest import record_inspection_result
from inspection.choices import Verdict
from inspection.models import Inspection
from traceability import actions as trace_actions
from traceability.models import Batch, Cell, Part, PartType, Station

log = logging.getLogger(__name__)

DEMO_NAMESPACE = uuid.UUID("6f1d6a3c-5b0e-4a51-9d7e-7e1d2c0b7a07")
# (part type, defect rendered, render seed): surface defects, hole defects and good parts for low confidence.
# (part type, surface defect, seed, true dimensions that differ from the process's draw)
DEMO_CASES: tuple[tuple[str, str, int, dict[str, float]], ...] = (
    ("CF-80", "scratch", 11, {}),
    ("TF-12", "dent", 12, {}),
    ("CF-80", "oversized_hole", 13, {}),
    ("TF-12", "crack", 14, {}),
    ("CF-80", "burr", 15, {}),
    ("TF-12", "missing_hole", 16, {}),
    # Good surfaces, dimension at or just past a limit: the cases where a person's judgement matters most.
    ("CF-80", "ok", 17, {"bore_diameter": 29.99}),
    ("TF-12", "ok", 18, {"mount_hole_distance": 44.12}),
)
# Parts flagged at both inspection stations: (part type, (visual: defect, seed, dimensions), (dimensional: ...)).
DEMO_TWO_STATION_CASES: tuple[tuple[str, tuple[str, int, dict[str, float]], tuple[str, int, dict[str, float]]], ...] = (
    ("CF-80", ("scratch", 19, {}), ("ok", 20, {"bore_diameter": 29.9})),
)
LOW_CONFIDENCE_DEMO = 0.62  # stand-in classifier confidence for a good part when no classifier is installed


@dataclass
class CaseData:
    """An inspection result as the edge reports it (the fields Debug Mode needs)."""

    png: bytes
    verdict: str
    reason: str
    findings: list[dict[str, Any]]
    measurements: list[dict[str, Any]]
    defects: list[dict[str, Any]] = field(default_factory=list)
    defect_class: str = ""
    defect_confidence: float | None = None
    class_probabilities: dict[str, float] = field(default_factory=dict)
    model_version: str = ""
    backend: str = ""


def rendered_case(
    code: str,
    *,
    seed: int,
    defect: str,
    classifier: Any = None,
    confidence_without_model: float = 1.0,
    dimensions_mm: dict[str, float] | None = None,
) -> CaseData:
    """Render, measure and (if a classifier is given) classify one part."""
    rendered = render_part(code, seed=seed, defect=defect, dimensions_mm=dimensions_mm)
    png = encode_png(rendered.image)
    outcome = inspect_image(png, DEMO_PART_TYPES[code], classifier=classifier)
    data = CaseData(
        png=png,
        verdict=outcome.verdict,
        reason=outcome.reason,
        findings=list(outcome.findings),
        measurements=outcome.measurements,
    )
    if classifier is not None:
        data.defect_class = outcome.defect_class or ""
        data.defect_confidence = outcome.defect_confidence
        data.class_probabilities = outcome.class_probabilities
        data.model_version = str(outcome.model.get("version", ""))
        data.backend = str(outcome.model.get("backend", getattr(classifier, "name", "")))
        if data.defect_class and data.defect_class != "ok":
            box = next((f["bbox"] for f in outcome.findings if f["kind"] == "defect"), outcome.part_bbox)
            data.defects.append({"defect_class": data.defect_class, "confidence": data.defect_confidence, "bbox": box})
        return data
    # No classifier: the renderer's ground truth stands in for it, labelled as such.
    truth = rendered.truth
    data.model_version, data.backend = "render-truth", "none"
    data.defect_class = defect
    data.defect_confidence = confidence_without_model
    if defect == "ok" and data.verdict == Verdict.PASS:
        data.reason = f"no classifier installed: demo stand-in confidence {confidence_without_model}"
    if defect != "ok":
        box = truth["defect"].get("bbox") or outcome.part_bbox
        data.findings.append(
            {
                "kind": "defect",
                "name": defect,
                "bbox": box,
                "confidence": confidence_without_model,
                "detail": f"renderer ground truth: {defect} (no classifier installed)",
            }
        )
        data.defects.append({"defect_class": defect, "confidence": confidence_without_model, "bbox": box})
        data.verdict = "fail"
        data.reason = "; ".join(r for r in (outcome.reason, f"defect {defect}") if r)
    return data


DEMO_DEVICE_ID = "jetson-demo-01"


def case_result(
    data: CaseData,
    *,
    serial: str,
    station: str,
    device_id: str,
    result_id: uuid.UUID | None = None,
    captured_at: dt.datetime | None = None,
    drawing_revision: str = "",
) -> InspectionResult:
    """The edge device's message for a rendered case, as `edge_worker.tasks` would send it."""
    at = captured_at or timezone.now()
    return InspectionResult(
        result_id=result_id or uuid.uuid4(),
        capture_id=uuid.uuid4(),
        device_id=device_id,
        serial=serial,
        station=station,
        verdict=data.verdict,
        reason=data.reason,
        measurements=tuple(
            MeasurementRow(
                m["name"],
                m["kind"],
                m["value"],
                m["nominal"],
                m["lower_tol"],
                m["upper_tol"],
                m["unit"],
                m["passed"],
                m.get("geometry") or {},
            )
            for m in data.measurements
        ),
        findings=data.findings,
        defect_class=data.defect_class or None,
        defect_confidence=data.defect_confidence,
        class_probabilities=data.class_probabilities,
        model=ModelRef(data.model_version, "", data.backend, "", "", "cpu"),
        latency_ms=0.0,
        timings_ms={},
        power=PowerSummary(None, None, "not measured: rendered demo case"),
        image_png_b64=encode_image(data.png),
        image_sha256=hashlib.sha256(data.png).hexdigest(),
        captured_at=at,
        inspected_at=at,
        drawing_revision=drawing_revision,
    )


def store_case(
    part: Part,
    station: Station,
    data: CaseData,
    *,
    result_id: uuid.UUID | None = None,
    captured_at: dt.datetime | None = None,
    device_id: str = DEMO_DEVICE_ID,
    source: str = "demo seed",
) -> Inspection:
    """Store a rendered case through the ingest action, from the cell's edge device (registered if need be)."""
    device, _created = register_edge_device(device_id, cell=station.cell, actor=None)
    ensure_edge_secret(device, actor=None)
    result = case_result(
        data,
        serial=part.serial,
        station=station.code,
        device_id=device_id,
        result_id=result_id,
        captured_at=captured_at,
        drawing_revision=part.part_type.revision,
    )
    message = sign_as_device(result.to_dict(), task=INGEST_RESULT_TASK, device=device)  # as the device sends it
    inspection, _created = record_inspection_result(message, source=source)
    return inspection


def _classifier() -> Any:
    try:
        from edge_worker.vision.backends import load_classifier

        classifier, reason = load_classifier("auto")
        log.info("demo reviews classify with %s", reason)
        return classifier
    except Exception as exc:  # no model files yet, or no runtime: say so and use the renderer's truth
        log.info("demo reviews without a classifier: %s", exc)
        return None


def _demo_parts() -> list[tuple[str, list[tuple[str, str, int, dict[str, float], str]]]]:
    """Every demo part: its type and its station results (station or "" to choose by the result, defect, seed,
    true dimensions, result id key)."""
    parts: list[tuple[str, list[tuple[str, str, int, dict[str, float], str]]]] = [
        (code, [("", defect, seed, dims, f"review-{i}")]) for i, (code, defect, seed, dims) in enumerate(DEMO_CASES)
    ]
    for j, (code, visual, dimensional) in enumerate(DEMO_TWO_STATION_CASES):
        i = len(DEMO_CASES) + j
        parts.append(
            (code, [("visual", *visual, f"review-{i}"), ("dimensional", *dimensional, f"review-{i}-dimensional")])
        )
    return parts


def seed_review_cases(
    cell_code: str, *, count: int = len(DEMO_CASES) + len(DEMO_TWO_STATION_CASES), actor: Any = None
) -> int:
    """Add up to `count` parts awaiting review to the demo cell. Idempotent: returns how many parts it added to."""
    cell = Cell.objects.filter(code=cell_code).first()
    if cell is None:
        return 0
    stations = {s.code: s for s in cell.stations.all()}
    parts = _demo_parts()[:count]
    wanted = [
        (i, code, result)
        for i, (code, results) in enumerate(parts)
        for result in results
        if not Inspection.objects.filter(result_id=uuid.uuid5(DEMO_NAMESPACE, result[4])).exists()
    ]
    if not wanted:
        return 0
    classifier = _classifier()
    start = timezone.now() - dt.timedelta(minutes=5 * len(parts))
    for i, code, (station_code, defect, seed, dimensions_mm, key) in wanted:
        part_type = PartType.objects.get(code=code)
        batch_number = f"B-REVIEW-{code}"
        batch = Batch.objects.filter(batch_number=batch_number).first() or trace_actions.create_batch(
            batch_number=batch_number, part_type=part_type, cell=cell, planned_quantity=len(parts), actor=actor
        )
        data = _demo_case(code, seed, defect, dimensions_mm, classifier)
        at = start + dt.timedelta(minutes=5 * i, seconds=30 if station_code == "dimensional" else 0)
        part = Part.objects.filter(serial=f"{code}-REVIEW-{i + 1:03d}").first() or trace_actions.register_part(
            serial=f"{code}-REVIEW-{i + 1:03d}", batch=batch, actor=actor, at=at
        )
        if not station_code:
            station_code = "visual" if data.defects or data.verdict == Verdict.PASS else "dimensional"
        store_case(part, stations[station_code], data, result_id=uuid.uuid5(DEMO_NAMESPACE, key), captured_at=at)
    return len({i for i, _code, _result in wanted})


def _demo_case(code: str, seed: int, defect: str, dimensions_mm: dict[str, float], classifier: Any) -> CaseData:
    return rendered_case(
        code,
        seed=seed,
        defect=defect,
        classifier=classifier,
        dimensions_mm=dimensions_mm or None,
        confidence_without_model=LOW_CONFIDENCE_DEMO if defect == "ok" else 1.0,
    )
