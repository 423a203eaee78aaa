"""Scale calibration (px per mm) from an image of a dot-grid target of known pitch.

The centres of the dots are found to sub-pixel accuracy (the same ray + circle fit as the inspection),
and the scale is the least-squares fit of their pixel positions to the grid: pitch errors average out and,
unlike a diameter, a centre does not move with blur or threshold. ``render_calibration_target`` makes the
matching synthetic target, so the whole chain can be tested against a known scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import MeasurementError
from .measure import measure_circle
from .render import IMAGE_SIZE

TARGET_PITCH_MM = 10.0
TARGET_DOT_DIAMETER_MM = 4.0
TARGET_GRID = 7


@dataclass(frozen=True)
class Calibration:
    px_per_mm: float
    dots: int
    residual_px: float  # RMS of dot centres about the fitted grid


def render_calibration_target(px_per_mm: float, *, seed: int = 0, pitch_mm: float = TARGET_PITCH_MM,
                              dot_mm: float = TARGET_DOT_DIAMETER_MM, grid: int = TARGET_GRID) -> np.ndarray:
    """A bright plate with a ``grid`` x ``grid`` array of dark dots, slightly rotated, blurred and noisy."""
    rng = np.random.default_rng(seed)
    size = IMAGE_SIZE
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    ang = math.radians(rng.uniform(-3, 3))
    cx, cy = size / 2 + rng.uniform(-5, 5), size / 2 + rng.uniform(-5, 5)
    img: np.ndarray = np.full((size, size), rng.uniform(190, 220), np.float32)
    r = dot_mm * px_per_mm / 2
    half = (grid - 1) / 2
    for i in range(grid):
        for j in range(grid):
            u, v = (i - half) * pitch_mm * px_per_mm, (j - half) * pitch_mm * px_per_mm
            x, y = cx + u * math.cos(ang) - v * math.sin(ang), cy + u * math.sin(ang) + v * math.cos(ang)
            cov = np.clip(0.5 - (np.hypot(xx - x, yy - y) - r), 0, 1)
            img -= 160 * cov
    img = cv2.GaussianBlur(img, (0, 0), 0.8) + rng.normal(0, 2.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def calibrate_from_dot_grid(image: np.ndarray, pitch_mm: float = TARGET_PITCH_MM) -> Calibration:
    """px per mm from an image of the dot-grid target (dark dots on a bright plate)."""
    smooth = cv2.GaussianBlur(image, (5, 5), 0)
    _t, binary = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, _l, stats, cents = cv2.connectedComponentsWithStats(binary)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if n < 5:
        raise MeasurementError("calibration target: fewer than 4 dots found")
    med = np.median(areas)
    f32 = image.astype(np.float32)
    h, w = image.shape
    centres = []
    for k in range(1, n):
        x, y, bw, bh, area = stats[k]
        if not (0.5 * med < area < 2 * med) or x <= 2 or y <= 2 or x + bw >= w - 2 or y + bh >= h - 2:
            continue
        fit = measure_circle(f32, float(cents[k][0]), float(cents[k][1]), math.sqrt(area / math.pi) + 0.5)
        centres.append((fit.cx, fit.cy))
    pts = np.array(centres)
    if len(pts) < 4:
        raise MeasurementError("calibration target: fewer than 4 measurable dots")
    # Nearest-neighbour spacing gives the pitch in px to within a few percent: index the grid with it.
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    rough = float(np.median(d.min(axis=1)))
    nn = pts[np.argmin(d[0])] - pts[0]
    ang = math.atan2(nn[1], nn[0])
    rot = np.array([[math.cos(ang), math.sin(ang)], [-math.sin(ang), math.cos(ang)]])
    local = (pts - pts[0]) @ rot.T / rough
    idx = np.rint(local)
    # Fit pts = origin + A @ idx (A: 2x2 scaled rotation): scale = sqrt(|det A|) px per grid step.
    design = np.column_stack([idx, np.ones(len(idx))])
    coef, *_ = np.linalg.lstsq(design, pts, rcond=None)
    a = coef[:2].T
    step_px = math.sqrt(abs(np.linalg.det(a)))
    res = pts - design @ coef
    return Calibration(px_per_mm=step_px / pitch_mm, dots=len(pts), residual_px=float(np.sqrt((res**2).sum(1).mean())))
