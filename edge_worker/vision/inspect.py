"""One call per captured image: decode, measure every toleranced feature, classify surface defects.

    outcome = inspect_image(png_bytes, DEMO_PART_TYPES["CF-80"], classifier=clf)
    outcome.verdict  # "pass" | "fail" | "error"

Never raises for bad input: empty, corrupt, truncated, wrong-size or wrong-channel images give verdict
``error`` with a reason an operator can act on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .errors import ImageError, MeasurementError
from .imageio import check_header, decode_grayscale, read_header
from .measure import feature_results, measure_part
from .parts import PartTypeSpec
from .preprocess import preprocess
from .render import DEFAULT_PX_PER_MM, IMAGE_SIZE

if TYPE_CHECKING:
    from .backends import Classifier

log = logging.getLogger("edge_worker.vision.inspect")

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
EXPECTED_SIZE = (IMAGE_SIZE, IMAGE_SIZE)  # (width, height) of the cell camera's images
OK_CLASS = "ok"
JOBS = ("full", "measurement", "defect_model")


@dataclass
class InspectionOutcome:
    verdict: str  # "pass" | "fail" | "error"
    reason: str = ""
    part_type: str = ""
    measurements: list[dict[str, Any]] = field(default_factory=list)
    defect_class: str | None = None
    defect_confidence: float | None = None
    class_probabilities: dict[str, float] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    image_size: list[int] | None = None  # [width, height]
    px_per_mm: float | None = None
    part_bbox: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode_image(
    image_bytes: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, expected_size: tuple[int, int] | None = EXPECTED_SIZE
) -> np.ndarray:
    """Bytes (PNG, JPEG, BMP, TIFF ...) -> HxW uint8 grayscale. Raises ImageError with a clear reason."""
    if image_bytes is None or not isinstance(image_bytes, (bytes, bytearray, memoryview)):
        raise ImageError(f"no image data (got {type(image_bytes).__name__})")
    data = bytes(image_bytes)
    if len(data) == 0:
        raise ImageError("empty image (0 bytes)")
    if len(data) > max_bytes:
        raise ImageError(f"image too large: {len(data)} bytes > limit {max_bytes}")
    if data.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" not in data[-16:]:
        raise ImageError("truncated PNG: the IEND chunk is missing")
    if data.startswith(b"\xff\xd8") and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ImageError("truncated JPEG: the end-of-image marker is missing")
    header = read_header(data)
    if header is not None:  # PNG, JPEG: what the header declares is checked before a pixel is decoded
        check_header(header, expected_size=expected_size)
        gray = decode_grayscale(data)
        if min(gray.shape) < 64:
            raise ImageError(f"image too small to inspect: {gray.shape[1]}x{gray.shape[0]}")
        return gray
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ImageError(f"corrupt or unsupported image data ({len(data)} bytes could not be decoded)")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim != 2:
        channels = img.shape[2] if img.ndim == 3 else "?"
        raise ImageError(f"wrong number of channels: expected 1 (grayscale camera), got {channels}")
    if img.dtype != np.uint8:
        raise ImageError(f"wrong pixel depth: expected 8-bit, got {img.dtype}")
    h, w = img.shape
    if expected_size is not None and (w, h) != tuple(expected_size):
        raise ImageError(f"wrong image size: expected {expected_size[0]}x{expected_size[1]}, got {w}x{h}")
    if min(h, w) < 64:
        raise ImageError(f"image too small to inspect: {w}x{h}")
    return img


def _bbox_of_geometry(g: dict[str, Any] | None, pad: float = 0.3) -> list[int] | None:
    if not g:
        return None
    if g.get("type") == "circle":
        cx, cy = g["center"]
        r = g["radius"] * (1 + pad)
        return [int(cx - r), int(cy - r), int(2 * r) + 1, int(2 * r) + 1]
    pts = np.array(g.get("points") or [], dtype=float)
    if pts.size == 0:
        return None
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    m = 10 + pad * 0.1 * max(x1 - x0, y1 - y0)
    return [int(x0 - m), int(y0 - m), int(x1 - x0 + 2 * m) + 1, int(y1 - y0 + 2 * m) + 1]


def _limit_text(row: dict[str, Any]) -> str:
    lo, hi = row["nominal"] + row["lower_tol"], row["nominal"] + row["upper_tol"]
    if row["value"] is None:
        return f"{row['name']} not measured ({row['detail'].get('error', 'feature not found')})"
    side = f"< {lo:.3f}" if row["value"] < lo else f"> {hi:.3f}"
    return f"{row['name']} {row['value']:.3f} {row['unit']} {side} {row['unit']}"


def undistort(image: np.ndarray, k1: float) -> np.ndarray:
    """The image without the lens's radial distortion k1 (against calibrate.focal_guess)."""
    from .calibrate import focal_guess

    h, w = image.shape[:2]
    camera = focal_guess(w, h)
    return np.ascontiguousarray(cv2.undistort(image, camera, np.array([k1, 0.0, 0.0, 0.0, 0.0]), None, camera))


def inspect_image(
    image_bytes: bytes,
    spec: PartTypeSpec,
    *,
    classifier: "Classifier | None",
    px_per_mm: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    expected_size: tuple[int, int] | None = EXPECTED_SIZE,
    job: str = "full",
    view: str = "front",
    lens_k1: float | None = None,
) -> InspectionOutcome:
    """Inspect one image of a part of type ``spec``. A part fails when any feature is out of tolerance or
    the classifier says anything but ``ok``. ``px_per_mm`` None uses the cell's calibrated default.

    ``job`` is what the station runs: "measurement" (the drawing's features; no classifier), "defect_model" (the
    surface classifier; the part is located but not measured) or "full" (both). ``view`` is the camera's lighting:
    "front" (the part bright on a dark fixture) or "backlit" (a dark silhouette on a bright field, inverted here).
    ``lens_k1``: the station camera's radial distortion from its calibration; the image is undistorted before it
    is measured (and classified), so the scale holds across the field."""
    if job not in JOBS:
        return InspectionOutcome(verdict="error", part_type=spec.code, reason=f"unknown station job {job!r}")
    if job == "measurement":
        classifier = None
    scale = float(px_per_mm) if px_per_mm else DEFAULT_PX_PER_MM
    out = InspectionOutcome(verdict="error", part_type=spec.code, px_per_mm=scale)
    if classifier is not None:
        out.model = classifier.describe()
    timings: dict[str, float] = {}
    out.timings_ms = timings
    try:
        t0 = time.perf_counter()
        try:
            img = decode_image(image_bytes, max_bytes=max_bytes, expected_size=expected_size)
        finally:
            timings["decode"] = round((time.perf_counter() - t0) * 1000, 3)
        out.image_size = [int(img.shape[1]), int(img.shape[0])]
        if lens_k1:
            t0 = time.perf_counter()
            img = undistort(img, float(lens_k1))
            timings["undistort"] = round((time.perf_counter() - t0) * 1000, 3)
        if view == "backlit":
            img = np.ascontiguousarray(255 - img)  # the measurement finds a bright part on a dark field

        t0 = time.perf_counter()
        try:
            meas = measure_part(img, spec, scale)
        except MeasurementError as exc:
            timings["measure"] = round((time.perf_counter() - t0) * 1000, 3)
            out.reason = f"part not measurable: {exc}"
            return out
        rows = feature_results(spec, meas, scale) if job != "defect_model" else []
        timings["measure"] = round((time.perf_counter() - t0) * 1000, 3)
        out.measurements = rows
        out.part_bbox = meas.part_bbox

        if classifier is not None:
            t0 = time.perf_counter()
            probs = classifier.predict(preprocess(img)[None])[0]
            timings["classify"] = round((time.perf_counter() - t0) * 1000, 3)
            classes = classifier.model.classes
            k = int(np.argmax(probs))
            out.defect_class = classes[k]
            out.defect_confidence = round(float(probs[k]), 5)
            out.class_probabilities = {c: round(float(p), 5) for c, p in zip(classes, probs)}

        reasons = []
        for row in rows:
            if not row["passed"]:
                reasons.append(_limit_text(row))
                out.findings.append(
                    {
                        "kind": "dimension",
                        "name": row["name"],
                        "bbox": _bbox_of_geometry(row["geometry"]) or meas.part_bbox,
                        "value": row["value"],
                        "nominal": row["nominal"],
                        "lower_limit": round(row["nominal"] + row["lower_tol"], 6),
                        "upper_limit": round(row["nominal"] + row["upper_tol"], 6),
                        "unit": row["unit"],
                        "detail": _limit_text(row),
                    }
                )
        if out.defect_class is not None and out.defect_class != OK_CLASS:
            reasons.append(f"defect {out.defect_class} ({out.defect_confidence:.2f})")
            out.findings.append(
                {
                    "kind": "defect",
                    "name": out.defect_class,
                    # The classifier is image-level: the box is the part, for a zoomed crop of the whole part.
                    "bbox": meas.part_bbox,
                    "confidence": out.defect_confidence,
                    "detail": f"classifier: {out.defect_class} with p={out.defect_confidence:.3f}",
                }
            )
        out.verdict = "fail" if reasons else "pass"
        out.reason = "; ".join(reasons)
        return out
    except ImageError as exc:
        out.reason = str(exc)
        return out
    except Exception as exc:  # never crash the worker on one image
        log.exception("inspection failed")
        out.verdict = "error"
        out.reason = f"internal error: {type(exc).__name__}: {exc}"
        return out
