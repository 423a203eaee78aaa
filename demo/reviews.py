"""Demo cases for Debug Mode: failed and low-confidence inspections awaiting an operator, with real images.

Each case is a part rendered by the vision library (`edge_worker.vision.render`), measured by the real
measurement programme (`inspect_image`), and classified by the installed defect classifier when one loads.
Without a classifier (no model files yet), the surface-defect finding comes from the renderer's ground truth
and says so: model_version "render-truth", confidence 1.0, no class probabilities.

Debug Mode reviews a part, not one station's result: the demo also has a part both inspection stations flagged
(a scratch at visual, then an undersized bore at dimensional), which the queue shows as one entry and one
verdict decides.

`seed_review_cases` is idempotent (deterministic result ids); `store_inspection` is also what the tests use to
put an inspection in the database until the ingest action lands.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from edge_worker.vision.inspect import inspect_image
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part
from inspection.choices import Verdict
from inspection.models import DefectFinding, ImageBlob, Inspection, Measurement
from traceability import actions as trace_actions
from traceability import audit
from traceability.choices import FoundBy, PartStatus
from traceability.models import Batch, Cell, DefectCode, Part, PartType, Station

log = logging.getLogger(__name__)

DEMO_NAMESPACE = uuid.UUID("6f1d6a3c-5b0e-4a51-9d7e-7e1d2c0b7a07")
# (part type, defect rendered, render seed): surface defects, hole defects and good parts for low confidence.
# (part type, surface defect, seed, true dimensions that differ from the process's draw)
DEMO_CASES: tuple[tuple[str, str, int, dict[str, float]], ...] = (
    ("CF-80", "scratch", 11, {}), ("TF-12", "dent", 12, {}), ("CF-80", "oversized_hole", 13, {}),
    ("TF-12", "crack", 14, {}), ("CF-80", "burr", 15, {}), ("TF-12", "missing_hole", 16, {}),
    # Good surfaces, dimension at or just past a limit: the cases where a person's judgement matters most.
    ("CF-80", "ok", 17, {"bore_diameter": 29.99}), ("TF-12", "ok", 18, {"mount_hole_distance": 44.12}),
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


def rendered_case(code: str, *, seed: int, defect: str, classifier: Any = None,
                  confidence_without_model: float = 1.0, dimensions_mm: dict[str, float] | None = None) -> CaseData:
    """Render, measure and (if a classifier is given) classify one part."""
    rendered = render_part(code, seed=seed, defect=defect, dimensions_mm=dimensions_mm)
    png = encode_png(rendered.image)
    outcome = inspect_image(png, DEMO_PART_TYPES[code], classifier=classifier)
    data = CaseData(
        png=png, verdict=outcome.verdict, reason=outcome.reason, findings=list(outcome.findings),
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
        data.findings.append({
            "kind": "defect", "name": defect, "bbox": box, "confidence": confidence_without_model,
            "detail": f"renderer ground truth: {defect} (no classifier installed)",
        })
        data.defects.append({"defect_class": defect, "confidence": confidence_without_model, "bbox": box})
        data.verdict = "fail"
        data.reason = "; ".join(r for r in (outcome.reason, f"defect {defect}") if r)
    return data


def _image_blob(png: bytes, at: dt.datetime) -> ImageBlob:
    sha = hashlib.sha256(png).hexdigest()
    blob = ImageBlob.objects.filter(sha256=sha).first()
    if blob is None:
        blob = ImageBlob(sha256=sha, size_bytes=len(png), width=512, height=512, stored_at=at)
        blob.file.save(f"{sha}.png", ContentFile(png), save=False)
        blob.save()
    return blob


@transaction.atomic
def store_inspection(
    part: Part, station: Station, data: CaseData, *, result_id: uuid.UUID | None = None,
    captured_at: dt.datetime | None = None, needs_review: bool = True, source: str = "demo seed",
) -> Inspection:
    """Record an inspection the way ingest will: image once, measurements, defects, and for a fail a machine
    failure case and a failed part. Audited, with `source` as the reason."""
    at = captured_at or timezone.now()
    part.refresh_from_db(fields=["status"])  # decide on the stored state
    inspection = Inspection.objects.create(
        result_id=result_id or uuid.uuid4(), capture_id=uuid.uuid4(), part=part, station=station,
        verdict=data.verdict, reason=data.reason, defect_class=data.defect_class,
        defect_confidence=data.defect_confidence, class_probabilities=data.class_probabilities,
        findings=data.findings, image=_image_blob(data.png, at), model_version=data.model_version,
        backend=data.backend, captured_at=at, inspected_at=at, received_at=at, needs_review=needs_review,
    )
    Measurement.objects.bulk_create([
        Measurement(inspection=inspection, name=m["name"], kind=m["kind"], value=m["value"], nominal=m["nominal"],
                    lower_tol=m["lower_tol"], upper_tol=m["upper_tol"], unit=m["unit"], passed=m["passed"],
                    geometry=m.get("geometry") or {})
        for m in data.measurements
    ])
    DefectFinding.objects.bulk_create([DefectFinding(inspection=inspection, **d) for d in data.defects])
    audit.append(actor=None, action="inspection.record", subject=("inspection.inspection", str(inspection.result_id)),
                 after={"serial": part.serial, "verdict": data.verdict, "reason": data.reason}, reason=source)
    if data.verdict == Verdict.FAIL and part.status not in (PartStatus.FAILED, PartStatus.SCRAPPED, PartStatus.SHIPPED):
        # As ingest does: one non-conformance per failed part (a second station's fail adds evidence), and a
        # final part's status never changes.
        dimensional = any(f["kind"] == "dimension" for f in data.findings)
        code = data.defect_class if data.defect_class and data.defect_class != "ok" else "dimension_out_of_tolerance"
        defect_code = DefectCode.objects.filter(code=code).first() or trace_actions.save_record(
            DefectCode(code=code, name=code.replace("_", " ").capitalize()), actor=None, reason=source)
        case = trace_actions.open_failure_case(
            part, defect_code=defect_code, found_by=FoundBy.MACHINE, actor=None, station=station,
            description=data.reason + (" (dimensional)" if dimensional else ""), at=at,
        )
        inspection.failure_case = case
        inspection.save(update_fields=["failure_case"])
        trace_actions.set_part_status(part, status=PartStatus.FAILED, actor=None, reason=data.reason, at=at)
    elif needs_review and data.verdict == Verdict.PASS and part.status == PartStatus.IN_PROCESS:
        trace_actions.set_part_status(part, status=PartStatus.ON_HOLD, actor=None,
                                      reason="low-confidence pass awaits a review", at=at)
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
        parts.append((code, [("visual", *visual, f"review-{i}"), ("dimensional", *dimensional, f"review-{i}-dimensional")]))
    return parts


def seed_review_cases(cell_code: str, *, count: int = len(DEMO_CASES) + len(DEMO_TWO_STATION_CASES), actor: Any = None) -> int:
    """Add up to `count` parts awaiting review to the demo cell. Idempotent: returns how many parts it added to."""
    cell = Cell.objects.filter(code=cell_code).first()
    if cell is None:
        return 0
    stations = {s.code: s for s in cell.stations.all()}
    parts = _demo_parts()[:count]
    wanted = [(i, code, result) for i, (code, results) in enumerate(parts) for result in results
              if not Inspection.objects.filter(result_id=uuid.uuid5(DEMO_NAMESPACE, result[4])).exists()]
    if not wanted:
        return 0
    classifier = _classifier()
    start = timezone.now() - dt.timedelta(minutes=5 * len(parts))
    for i, code, (station_code, defect, seed, dimensions_mm, key) in wanted:
        part_type = PartType.objects.get(code=code)
        batch_number = f"B-REVIEW-{code}"
        batch = Batch.objects.filter(batch_number=batch_number).first() or trace_actions.create_batch(
            batch_number=batch_number, part_type=part_type, cell=cell, planned_quantity=len(parts), actor=actor)
        data = _demo_case(code, seed, defect, dimensions_mm, classifier)
        at = start + dt.timedelta(minutes=5 * i, seconds=30 if station_code == "dimensional" else 0)
        part = Part.objects.filter(serial=f"{code}-REVIEW-{i + 1:03d}").first() or trace_actions.register_part(
            serial=f"{code}-REVIEW-{i + 1:03d}", batch=batch, actor=actor, at=at)
        if not station_code:
            station_code = "visual" if data.defects or data.verdict == Verdict.PASS else "dimensional"
        store_inspection(part, stations[station_code], data, result_id=uuid.uuid5(DEMO_NAMESPACE, key), captured_at=at)
    return len({i for i, _code, _result in wanted})


def _demo_case(code: str, seed: int, defect: str, dimensions_mm: dict[str, float], classifier: Any) -> CaseData:
    return rendered_case(
        code, seed=seed, defect=defect, classifier=classifier, dimensions_mm=dimensions_mm or None,
        confidence_without_model=LOW_CONFIDENCE_DEMO if defect == "ok" else 1.0,
    )
