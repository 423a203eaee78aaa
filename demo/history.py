"""The demo plant's past inspections, stored the way live results are: as edge messages through the ingest action.

Every historic part is inspected at both inspection stations. The visual station reports a surface verdict; the
dimensional station reports every feature of the part type's drawing, measured on a simulated process:

- each feature is centred on its tolerance band with sigma = band / 8 (a capable process, Cp about 1.33);
- the bore wears its tool: within each batch its mean drifts from -1 sigma to +1.5 sigma, then the tool is changed;
- a part that failed dimensionally has one feature past a limit.

The values are simulated and say so: every historic result names its model version `history-sim` and the reason
"seeded history". Images are one reference render per part type and surface class, stored once under its hash
(6,000 full renders would take minutes and hundreds of megabytes for pictures nobody opens).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from edge_worker.contracts.inspection import (
    InspectionResult,
    MeasurementRow,
    ModelRef,
    PowerSummary,
)
from edge_worker.vision.parts import DEMO_PART_TYPES, FeatureSpec
from edge_worker.vision.render import encode_png, render_part

HISTORY_NAMESPACE = uuid.UUID("3b0e5f2e-4c61-4f7e-9a57-1f2b9d0c8e11")
HISTORY_MODEL = ModelRef("history-sim", "", "none", "", "", "cpu")
NOT_MEASURED = PowerSummary(None, None, "not measured: seeded history")
VISUAL_DEFECTS = ("scratch", "dent", "burr", "crack", "missing_hole", "oversized_hole")
WORN_FEATURE = "bore_diameter"


class ReferenceImages:
    """One rendered image per (part type, surface class), encoded once and shared by every result that uses it."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[str, str]] = {}

    def get(self, part_type: str, surface: str) -> tuple[str, str]:
        """(base64 PNG, sha256) of the reference image."""
        key = (part_type, surface)
        if key not in self._cache:
            png = encode_png(render_part(part_type, seed=7, defect=surface).image)
            self._cache[key] = (base64.b64encode(png).decode("ascii"), hashlib.sha256(png).hexdigest())
        return self._cache[key]


def _measure(feature: FeatureSpec, rng: random.Random, *, progress: float, out_of_tolerance: bool) -> float:
    band = feature.upper_tol - feature.lower_tol
    centre = feature.nominal + (feature.lower_tol + feature.upper_tol) / 2
    sigma = band / 8
    mean = centre + (sigma * (-1.0 + 2.5 * progress) if feature.name == WORN_FEATURE else 0.0)
    if out_of_tolerance:
        return feature.nominal + feature.upper_tol + rng.uniform(0.1, 0.6) * sigma
    return rng.gauss(mean, sigma)


def simulated_measurements(
    part_type: str, rng: random.Random, *, progress: float, failed: bool
) -> tuple[MeasurementRow, ...]:
    """Every feature of the drawing, measured on the simulated process; `progress` (0 to 1 through a batch) is how
    worn the bore's tool is; a `failed` part has one feature past its upper limit."""
    features = DEMO_PART_TYPES[part_type].features
    culprit = rng.choice([f for f in features if f.name == WORN_FEATURE] or list(features)) if failed else None
    rows = []
    for feature in features:
        value = round(_measure(feature, rng, progress=progress, out_of_tolerance=feature is culprit), 4)
        passed = feature.nominal + feature.lower_tol <= value <= feature.nominal + feature.upper_tol
        rows.append(
            MeasurementRow(
                feature.name,
                feature.kind,
                value,
                feature.nominal,
                feature.lower_tol,
                feature.upper_tol,
                feature.unit,
                passed,
                {},
            )
        )
    return tuple(rows)


def _result(serial: str, station: str, **fields: Any) -> InspectionResult:
    key = f"{serial}/{station}"
    return InspectionResult(
        result_id=uuid.uuid5(HISTORY_NAMESPACE, key),
        capture_id=uuid.uuid5(HISTORY_NAMESPACE, f"capture/{key}"),
        serial=serial,
        station=station,
        class_probabilities={},
        model=HISTORY_MODEL,
        latency_ms=0.0,
        timings_ms={},
        power=NOT_MEASURED,
        inspected_at=fields["captured_at"],
        drawing_revision=DEMO_PART_TYPES[fields.pop("part_type")].revision,
        **fields,
    )


def visual_result(
    serial: str,
    part_type: str,
    *,
    surface: str,
    captured_at: dt.datetime,
    device_id: str,
    rng: random.Random,
    images: ReferenceImages,
) -> InspectionResult:
    """The visual station's message: the surface class the model saw, with its confidence."""
    confidence = round(rng.uniform(0.93, 0.999), 3)
    failed = surface != "ok"
    image_b64, image_sha256 = images.get(part_type, surface)
    return _result(
        serial,
        "visual",
        part_type=part_type,
        device_id=device_id,
        captured_at=captured_at,
        verdict="fail" if failed else "pass",
        reason=f"defect {surface} (seeded history)" if failed else "seeded history",
        measurements=(),
        findings=[
            {
                "kind": "defect",
                "name": surface,
                "bbox": [180, 180, 260, 260],
                "confidence": confidence,
                "detail": "seeded history",
            }
        ]
        if failed
        else [],
        defect_class=surface,
        defect_confidence=confidence,
        image_png_b64=image_b64,
        image_sha256=image_sha256,
    )


def dimensional_result(
    serial: str,
    part_type: str,
    *,
    measurements: tuple[MeasurementRow, ...],
    captured_at: dt.datetime,
    device_id: str,
    images: ReferenceImages,
) -> InspectionResult:
    """The dimensional station's message: every feature measured; any feature out of its band fails the part."""
    out = [f"{m.name} {m.value:.3f} {m.unit}" for m in measurements if not m.passed]
    image_b64, image_sha256 = images.get(part_type, "ok")
    return _result(
        serial,
        "dimensional",
        part_type=part_type,
        device_id=device_id,
        captured_at=captured_at,
        verdict="fail" if out else "pass",
        reason=f"out of tolerance: {', '.join(out)} (seeded history)" if out else "seeded history",
        measurements=measurements,
        findings=[
            {"kind": "dimension", "name": m.name, "detail": "out of tolerance"} for m in measurements if not m.passed
        ],
        defect_class=None,
        defect_confidence=None,
        image_png_b64=image_b64,
        image_sha256=image_sha256,
    )


def chunks(items: Sequence[InspectionResult], size: int) -> Iterator[Sequence[InspectionResult]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
