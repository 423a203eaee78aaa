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
    residual_px: float  # RMS of dot centres about the fitted grid (after the lens distortion is taken out)
    # Radial lens distortion (OpenCV's k1, with the focal length set to the image width and the principal point at
    # the image centre), and what it amounts to: the radial shift at the image's corner, in px (+: outwards).
    k1: float = 0.0
    distortion_px: float = 0.0


def focal_guess(width: int, height: int) -> np.ndarray:
    """The camera matrix k1 is expressed against: focal length = image width, principal point at the centre. A
    single, flat view cannot tell focal length from distance, so it is fixed; k1 then scales with it."""
    return np.array([[float(width), 0.0, width / 2.0], [0.0, float(width), height / 2.0], [0.0, 0.0, 1.0]])


def corner_shift_px(k1: float, width: int, height: int) -> float:
    """The radial displacement k1 gives at the image corner, in px."""
    f = float(width)
    r = math.hypot(width / 2.0, height / 2.0) / f
    return k1 * r**3 * f


def distort(image: np.ndarray, k1: float) -> np.ndarray:
    """An image as a lens with radial distortion k1 (against `focal_guess`) would see it: for tests and the demo."""
    h, w = image.shape[:2]
    camera = focal_guess(w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # For each distorted pixel, the undistorted source position (cv2.undistortPoints inverts the model).
    points = np.stack([xx.ravel(), yy.ravel()], axis=1).reshape(-1, 1, 2)
    source = cv2.undistortPoints(points, camera, np.array([k1, 0.0, 0.0, 0.0, 0.0]), P=camera).reshape(h, w, 2)
    return cv2.remap(
        image,
        source[..., 0].astype(np.float32),
        source[..., 1].astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def render_calibration_target(
    px_per_mm: float,
    *,
    seed: int = 0,
    pitch_mm: float = TARGET_PITCH_MM,
    dot_mm: float = TARGET_DOT_DIAMETER_MM,
    grid: int = TARGET_GRID,
) -> np.ndarray:
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
    k1 = _radial_distortion(pts, idx, pitch_mm, (w, h))
    if k1:  # the scale is fitted to where the dots would be without the lens's distortion
        camera = focal_guess(w, h)
        pts = cv2.undistortPoints(
            pts.reshape(-1, 1, 2).astype(np.float64), camera, np.array([k1, 0.0, 0.0, 0.0, 0.0]), P=camera
        ).reshape(-1, 2)
    # Fit pts = origin + A @ idx (A: 2x2 scaled rotation): scale = sqrt(|det A|) px per grid step.
    design = np.column_stack([idx, np.ones(len(idx))])
    coef, *_ = np.linalg.lstsq(design, pts, rcond=None)
    a = coef[:2].T
    step_px = math.sqrt(abs(np.linalg.det(a)))
    res = pts - design @ coef
    return Calibration(
        px_per_mm=step_px / pitch_mm,
        dots=len(pts),
        residual_px=float(np.sqrt((res**2).sum(1).mean())),
        k1=k1,
        distortion_px=corner_shift_px(k1, w, h),
    )


def _radial_distortion(pts: np.ndarray, idx: np.ndarray, pitch_mm: float, size: tuple[int, int]) -> float:
    """k1 by OpenCV's camera calibration on the grid's one view, the focal length and principal point fixed
    (`focal_guess`), tangential and higher terms off: what one flat target can tell. 0 with fewer than 9 dots."""
    if len(pts) < 9:
        return 0.0
    objects = np.column_stack([idx * pitch_mm, np.zeros(len(idx))]).astype(np.float32)
    flags = (
        cv2.CALIB_USE_INTRINSIC_GUESS
        | cv2.CALIB_FIX_FOCAL_LENGTH
        | cv2.CALIB_FIX_PRINCIPAL_POINT
        | cv2.CALIB_FIX_ASPECT_RATIO
        | cv2.CALIB_ZERO_TANGENT_DIST
        | cv2.CALIB_FIX_K2
        | cv2.CALIB_FIX_K3
    )
    try:
        _rms, _camera, dist, _r, _t = cv2.calibrateCamera(
            [objects], [pts.astype(np.float32).reshape(-1, 1, 2)], size, focal_guess(*size), np.zeros(5), flags=flags
        )
    except cv2.error:
        return 0.0
    return float(dist.ravel()[0])
