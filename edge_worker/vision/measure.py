"""Sub-pixel dimensional inspection with OpenCV and numpy.

Pipeline for one image (grayscale, bright part on a dark background):

1. Otsu threshold + ``cv2.findContours`` (two-level hierarchy) locate the part and its holes to about a
   pixel.
2. Each edge is then located to a fraction of a pixel along rays normal to it: the grey-level profile is
   sampled by bilinear interpolation every 0.25 px over +-6 px, and the edge position is the one at which
   an ideal step between the two end levels has the same integral as the profile (a moment-preserving
   edge: insensitive to the blur width and to noise, which the integral averages).
3. Circles: algebraic (Kasa) fit, then geometric least squares (Gauss-Newton on the radial residual),
   with outlier rejection (median absolute deviation) so burrs and cracks do not pull the fit; then the
   rays are recast from the fitted centre and the fit repeated. Straight sides: total least squares lines.
4. Feature values in mm = px / px_per_mm; pass/fail against the spec's tolerance band.

Each measurement carries the geometry needed to draw an overlay (centres and radii in px, line end points,
polygon corners).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .errors import MeasurementError
from .parts import FeatureSpec, PartTypeSpec, bolt_hole_names

RAY_HALF_WIDTH = 6.0  # px either side of the expected edge
RAY_STEP = 0.25  # px between profile samples
MIN_CONTRAST = 25.0  # grey levels between the two sides of an edge


@dataclass
class CircleFit:
    cx: float
    cy: float
    r: float
    rms: float
    n_points: int
    n_rays: int

    def geometry(self) -> dict[str, Any]:
        return {"type": "circle", "center": [round(self.cx, 3), round(self.cy, 3)], "radius": round(self.r, 3)}


@dataclass
class LineFit:
    point: np.ndarray  # a point on the line (px)
    direction: np.ndarray  # unit vector
    rms: float
    n_points: int

    @property
    def normal(self) -> np.ndarray:
        return np.array([-self.direction[1], self.direction[0]])


@dataclass
class PartMeasurement:
    """Raw result of measuring one image: values in px and mm plus overlay geometry per feature."""

    values_px: dict[str, float | None] = field(default_factory=dict)
    geometry: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    part_bbox: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    part_geometry: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- sub-pixel
def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = img.shape
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0 = np.floor(x).astype(np.intp)
    y0 = np.floor(y).astype(np.intp)
    fx = x - x0
    fy = y - y0
    a = img[y0, x0]
    b = img[y0, x0 + 1]
    c = img[y0 + 1, x0]
    d = img[y0 + 1, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def edge_offsets(
    img: np.ndarray, origins: np.ndarray, normals: np.ndarray, half_width: float = RAY_HALF_WIDTH
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel edge position along each ray ``origin + t * normal``, t in [-hw, hw].

    Returns (t, contrast) per ray; t is NaN where the profile has too little contrast.
    """
    t = np.arange(-half_width, half_width + 1e-9, RAY_STEP)
    xs = origins[:, 0:1] + normals[:, 0:1] * t[None, :]
    ys = origins[:, 1:2] + normals[:, 1:2] * t[None, :]
    prof = _bilinear(img, xs, ys)
    k = int(round(1.5 / RAY_STEP))
    a = prof[:, :k].mean(axis=1)
    b = prof[:, -k:].mean(axis=1)
    contrast = b - a
    # Trapezoid integral of (I - a) from t0 to t1 equals (b - a) * (t1 - e) for an ideal step at e.
    integral = np.trapezoid(prof - a[:, None], t, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = t[-1] - integral / contrast
    bad = (np.abs(contrast) < MIN_CONTRAST) | (e < t[0] + 1.0) | (e > t[-1] - 1.0)
    e[bad] = np.nan
    return e, contrast


def fit_circle_kasa(pts: np.ndarray) -> tuple[float, float, float]:
    x, y = pts[:, 0], pts[:, 1]
    a = np.column_stack([x, y, np.ones_like(x)])
    bvec = x * x + y * y
    sol, *_ = np.linalg.lstsq(a, bvec, rcond=None)
    cx, cy = sol[0] / 2, sol[1] / 2
    r = math.sqrt(max(sol[2] + cx * cx + cy * cy, 0.0))
    return float(cx), float(cy), r


def fit_circle_geometric(
    pts: np.ndarray, init: tuple[float, float, float], iters: int = 10
) -> tuple[float, float, float]:
    cx, cy, r = init
    for _ in range(iters):
        dx, dy = pts[:, 0] - cx, pts[:, 1] - cy
        d = np.hypot(dx, dy)
        d = np.where(d < 1e-9, 1e-9, d)
        res = d - r
        jac = np.column_stack([-dx / d, -dy / d, -np.ones_like(d)])
        step, *_ = np.linalg.lstsq(jac, -res, rcond=None)
        cx, cy, r = cx + step[0], cy + step[1], r + step[2]
        if np.abs(step).max() < 1e-6:
            break
    return float(cx), float(cy), float(r)


def _robust_circle(pts: np.ndarray) -> tuple[tuple[float, float, float], np.ndarray]:
    keep = np.ones(len(pts), dtype=bool)
    fit = fit_circle_kasa(pts)
    for _ in range(3):
        fit = fit_circle_geometric(pts[keep], fit if keep.all() else fit)
        res = np.hypot(pts[:, 0] - fit[0], pts[:, 1] - fit[1]) - fit[2]
        mad = 1.4826 * np.median(np.abs(res[keep] - np.median(res[keep])))
        new_keep = np.abs(res) < max(3.0 * mad, 0.25)
        if new_keep.sum() < 6 or (new_keep == keep).all():
            break
        keep = new_keep
    return fit, keep


def measure_circle(img: np.ndarray, cx: float, cy: float, r: float, n_rays: int | None = None) -> CircleFit:
    """Refine a rough circle (centre and radius within ~1.5 px) to sub-pixel accuracy."""
    if n_rays is None:
        n_rays = int(np.clip(2 * math.pi * r / 1.5, 48, 360))
    ang = np.linspace(0, 2 * math.pi, n_rays, endpoint=False)
    normals = np.column_stack([np.cos(ang), np.sin(ang)])
    fit = (cx, cy, r)
    keep = np.zeros(0, dtype=bool)
    pts = np.zeros((0, 2))
    for _ in range(2):
        origins = np.array([fit[0], fit[1]]) + normals * fit[2]
        e, _c = edge_offsets(img, origins, normals)
        ok = ~np.isnan(e)
        if ok.sum() < max(12, n_rays // 4):
            raise MeasurementError(
                f"circle at ({cx:.0f},{cy:.0f}) r={r:.0f}px: edge found on {int(ok.sum())}/{n_rays} rays"
            )
        pts = origins[ok] + normals[ok] * e[ok, None]
        fit, keep = _robust_circle(pts)
    res = np.hypot(pts[keep, 0] - fit[0], pts[keep, 1] - fit[1]) - fit[2]
    return CircleFit(fit[0], fit[1], fit[2], float(np.sqrt(np.mean(res**2))), int(keep.sum()), n_rays)


def measure_line(img: np.ndarray, p0: np.ndarray, p1: np.ndarray, outward: np.ndarray, n_rays: int) -> LineFit:
    """Refine a rough straight edge between p0 and p1 (sampling its central 70 %)."""
    s = np.linspace(0.15, 0.85, n_rays)
    origins = p0[None, :] + (p1 - p0)[None, :] * s[:, None]
    normals = np.repeat(outward[None, :] / np.linalg.norm(outward), n_rays, axis=0)
    line: LineFit | None = None
    for _ in range(2):
        e, _c = edge_offsets(img, origins, normals)
        ok = ~np.isnan(e)
        if ok.sum() < max(6, n_rays // 3):
            raise MeasurementError(f"straight edge: found on {int(ok.sum())}/{n_rays} rays")
        pts = origins[ok] + normals[ok] * e[ok, None]
        keep = np.ones(len(pts), dtype=bool)
        for _i in range(3):
            c = pts[keep].mean(axis=0)
            _u, _s, vt = np.linalg.svd(pts[keep] - c)
            d = vt[0]
            n = np.array([-d[1], d[0]])
            res = (pts - c) @ n
            mad = 1.4826 * np.median(np.abs(res[keep]))
            new_keep = np.abs(res) < max(3.0 * mad, 0.25)
            if new_keep.sum() < 6 or (new_keep == keep).all():
                break
            keep = new_keep
        res = (pts[keep] - c) @ n
        line = LineFit(c, d, float(np.sqrt(np.mean(res**2))), int(keep.sum()))
        # Recast the rays exactly normal to the fitted line, through it.
        n_out = n if n @ outward > 0 else -n
        proj = (origins - c) @ d
        origins = c[None, :] + proj[:, None] * d[None, :]
        normals = np.repeat(n_out[None, :], n_rays, axis=0)
    assert line is not None
    return line


# ------------------------------------------------------------------------------------------ segmentation
@dataclass
class _Blob:
    cx: float
    cy: float
    r: float  # equivalent radius
    area: float
    contour: np.ndarray


def _segment(img: np.ndarray) -> tuple[np.ndarray, list[_Blob]]:
    smooth = cv2.GaussianBlur(img, (5, 5), 0)
    _t, binary = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if not contours or hierarchy is None:
        raise MeasurementError("no part found (image has no bright region)")
    hierarchy = hierarchy[0]
    outer_ids = [i for i in range(len(contours)) if hierarchy[i][3] < 0]
    part_id = max(outer_ids, key=lambda i: cv2.contourArea(contours[i]))
    part = contours[part_id]
    h, w = img.shape
    if cv2.contourArea(part) < 0.02 * h * w:
        raise MeasurementError("no part found (largest bright region is too small)")
    x, y, bw, bh = cv2.boundingRect(part)
    if x <= 0 or y <= 0 or x + bw >= w or y + bh >= h:
        raise MeasurementError("part touches the image border: not fully in view")
    holes: list[_Blob] = []
    child = hierarchy[part_id][2]
    while child >= 0:
        c = contours[child]
        area = cv2.contourArea(c)
        if area > 30:
            perim = cv2.arcLength(c, True)
            circularity = 4 * math.pi * area / (perim * perim) if perim > 0 else 0
            if circularity > 0.6:
                m = cv2.moments(c)
                holes.append(_Blob(m["m10"] / m["m00"], m["m01"] / m["m00"], math.sqrt(area / math.pi), area, c))
        child = hierarchy[child][0]
    return part, holes


def _nearest(holes: list[_Blob], x: float, y: float, max_dist: float) -> _Blob | None:
    best = None
    best_d = max_dist
    for hb in holes:
        d = math.hypot(hb.cx - x, hb.cy - y)
        if d < best_d:
            best, best_d = hb, d
    return best


def _hole_fit(img: np.ndarray, blob: _Blob | None, name: str, out: PartMeasurement) -> CircleFit | None:
    if blob is None:
        out.values_px[name] = None
        out.details[name] = {"error": "hole not found"}
        return None
    try:
        # Contour vertices sit on pixel centres inside the threshold: the area radius is ~0.5 px small.
        fit = measure_circle(img, blob.cx, blob.cy, blob.r + 0.5)
    except MeasurementError as exc:
        out.values_px[name] = None
        out.details[name] = {"error": str(exc)}
        return None
    out.values_px[name] = 2 * fit.r
    out.geometry[name] = fit.geometry()
    out.details[name] = {"rms_px": round(fit.rms, 4), "edge_points": fit.n_points, "rays": fit.n_rays}
    return fit


# ------------------------------------------------------------------------------------------- programmes
def _measure_flange(
    img: np.ndarray, spec: PartTypeSpec, px_per_mm: float, part: np.ndarray, holes: list[_Blob]
) -> PartMeasurement:
    out = PartMeasurement()
    (ex, ey), er = cv2.minEnclosingCircle(part)
    m = cv2.moments(part)
    cx0, cy0 = m["m10"] / m["m00"], m["m01"] / m["m00"]
    r0 = math.sqrt(cv2.contourArea(part) / math.pi) + 0.5
    outer = measure_circle(img, cx0, cy0, r0)
    out.values_px["outer_diameter"] = 2 * outer.r
    out.geometry["outer_diameter"] = outer.geometry()
    out.details["outer_diameter"] = {"rms_px": round(outer.rms, 4), "edge_points": outer.n_points, "rays": outer.n_rays}
    out.part_geometry = {"type": "circle", "center": [outer.cx, outer.cy], "radius": outer.r}

    bore_nom = spec.feature("bore_diameter").nominal * px_per_mm / 2
    bore_blob = _nearest(holes, outer.cx, outer.cy, max(bore_nom * 0.5, 5))
    _hole_fit(img, bore_blob, "bore_diameter", out)

    pcd_r = spec.feature("bolt_circle_diameter").nominal * px_per_mm / 2
    bolt_names = bolt_hole_names(spec.features)
    n = len(bolt_names)
    cand = [
        hb
        for hb in holes
        if hb is not bore_blob and abs(math.hypot(hb.cx - outer.cx, hb.cy - outer.cy) - pcd_r) < 0.15 * pcd_r
    ]
    # Part rotation: the mean angular offset of the found holes from their nominal slots (45 + k*360/n deg).
    pitch = 2 * math.pi / n
    if cand:
        offs = [
            ((math.atan2(hb.cy - outer.cy, hb.cx - outer.cx) - pitch / 2) + pitch / 2) % pitch - pitch / 2
            for hb in cand
        ]
        rot = math.atan2(np.mean(np.sin(np.array(offs) * n)), np.mean(np.cos(np.array(offs) * n))) / n
    else:
        rot = 0.0
    centres = []
    for k, name in enumerate(bolt_names):
        a = pitch / 2 + k * pitch + rot
        sx, sy = outer.cx + pcd_r * math.cos(a), outer.cy + pcd_r * math.sin(a)
        fit = _hole_fit(img, _nearest(cand, sx, sy, 0.3 * pcd_r), name, out)
        if fit is not None:
            centres.append((fit.cx, fit.cy))
    if len(centres) >= 3:
        pcx, pcy, pr = fit_circle_kasa(np.array(centres))
    elif centres:
        pcx, pcy = outer.cx, outer.cy
        pr = float(np.mean([math.hypot(x - pcx, y - pcy) for x, y in centres]))
    else:
        pr = None
    if pr is None:
        out.values_px["bolt_circle_diameter"] = None
        out.details["bolt_circle_diameter"] = {"error": "no bolt hole found"}
    else:
        out.values_px["bolt_circle_diameter"] = 2 * pr
        out.geometry["bolt_circle_diameter"] = {
            "type": "circle",
            "center": [round(pcx, 3), round(pcy, 3)],
            "radius": round(pr, 3),
        }
        out.details["bolt_circle_diameter"] = {"holes_used": len(centres)}
    out.part_geometry["rotation_deg"] = math.degrees(rot)
    return out


def _measure_fitting(
    img: np.ndarray, spec: PartTypeSpec, px_per_mm: float, part: np.ndarray, holes: list[_Blob]
) -> PartMeasurement:
    out = PartMeasurement()
    (rcx, rcy), (rw, rh), rang = cv2.minAreaRect(part)
    # Orient the u axis along the long side, pointing right (|angle| < 45 deg from +x).
    if rw < rh:
        rw, rh = rh, rw
        rang += 90.0
    rang = (rang + 90.0) % 180.0 - 90.0
    a = math.radians(rang)
    u = np.array([math.cos(a), math.sin(a)])
    v = np.array([-u[1], u[0]])
    c = np.array([rcx, rcy])
    hl, hw = rw / 2, rh / 2
    # Sides: (name, p0, p1, outward normal, rays)
    sides = {
        "left": (c - u * hl - v * hw, c - u * hl + v * hw, -u, 40),
        "right": (c + u * hl - v * hw, c + u * hl + v * hw, u, 40),
        "top": (c - u * hl - v * hw, c + u * hl - v * hw, -v, 80),
        "bottom": (c - u * hl + v * hw, c + u * hl + v * hw, v, 80),
    }
    lines = {k: measure_line(img, p0, p1, n, nr) for k, (p0, p1, n, nr) in sides.items()}

    def dist(a_: LineFit, b_: LineFit) -> float:
        return 0.5 * (abs((a_.point - b_.point) @ b_.normal) + abs((b_.point - a_.point) @ a_.normal))

    def corner(a_: LineFit, b_: LineFit) -> list[float]:
        m_ = np.column_stack([a_.direction, -b_.direction])
        t_ = np.linalg.solve(m_, b_.point - a_.point)
        p = a_.point + t_[0] * a_.direction
        return [round(float(p[0]), 3), round(float(p[1]), 3)]

    corners = [
        corner(lines["top"], lines["left"]),
        corner(lines["top"], lines["right"]),
        corner(lines["bottom"], lines["right"]),
        corner(lines["bottom"], lines["left"]),
    ]
    poly = {"type": "polygon", "points": corners}
    out.values_px["block_length"] = dist(lines["left"], lines["right"])
    out.values_px["block_width"] = dist(lines["top"], lines["bottom"])
    for name, (s1, s2) in (("block_length", ("left", "right")), ("block_width", ("top", "bottom"))):
        g = dict(poly)
        g["lines"] = [[lines[s].point.round(3).tolist(), lines[s].direction.round(6).tolist()] for s in (s1, s2)]
        out.geometry[name] = g
        out.details[name] = {
            "rms_px": round(max(lines[s1].rms, lines[s2].rms), 4),
            "edge_points": lines[s1].n_points + lines[s2].n_points,
        }
    centre = np.mean(np.array(corners), axis=0)
    out.part_geometry = {"type": "polygon", "points": corners, "center": centre.tolist(), "rotation_deg": rang}

    bore_nom = spec.feature("bore_diameter").nominal * px_per_mm / 2
    _hole_fit(img, _nearest(holes, centre[0], centre[1], max(bore_nom * 0.6, 5)), "bore_diameter", out)
    half = spec.feature("mount_hole_distance").nominal * px_per_mm / 2
    fits = []
    for sign, name in ((-1, "mount_hole_1_diameter"), (1, "mount_hole_2_diameter")):
        sx, sy = centre + sign * half * u
        fits.append(_hole_fit(img, _nearest(holes, sx, sy, 0.25 * half), name, out))
    if fits[0] is not None and fits[1] is not None:
        out.values_px["mount_hole_distance"] = math.hypot(fits[0].cx - fits[1].cx, fits[0].cy - fits[1].cy)
        out.geometry["mount_hole_distance"] = {
            "type": "line",
            "points": [[round(fits[0].cx, 3), round(fits[0].cy, 3)], [round(fits[1].cx, 3), round(fits[1].cy, 3)]],
        }
    else:
        out.values_px["mount_hole_distance"] = None
        out.details["mount_hole_distance"] = {"error": "a mount hole was not found"}
    return out


PROGRAMMES = {"flange": _measure_flange, "tube_fitting": _measure_fitting}
# What each programme needs the drawing to name (the server checks a new drawing against it).
PROGRAMME_FEATURES = {
    "flange": ("outer_diameter", "bore_diameter", "bolt_circle_diameter"),  # and bolt_hole_<n>_diameter, 1 or more
    "tube_fitting": (
        "block_length",
        "block_width",
        "bore_diameter",
        "mount_hole_1_diameter",
        "mount_hole_2_diameter",
        "mount_hole_distance",
    ),
}


def measure_part(img: np.ndarray, spec: PartTypeSpec, px_per_mm: float) -> PartMeasurement:
    """Measure every feature of ``spec`` in a grayscale uint8 image. Raises MeasurementError."""
    programme = PROGRAMMES.get(spec.family)
    if programme is None:
        raise MeasurementError(f"no measurement programme for part type {spec.code} (family {spec.family})")
    part, holes = _segment(img)
    f32 = img.astype(np.float32)
    out = programme(f32, spec, px_per_mm, part, holes)
    x, y, w, h = cv2.boundingRect(part)
    out.part_bbox = [int(x), int(y), int(w), int(h)]
    return out


def feature_results(spec: PartTypeSpec, meas: PartMeasurement, px_per_mm: float) -> list[dict[str, Any]]:
    """One dict per feature of the spec: value in mm, tolerance, pass/fail, overlay geometry."""
    rows = []
    for f in spec.features:
        vpx = meas.values_px.get(f.name)
        vpx = None if vpx is None else float(vpx)
        value = None if vpx is None else round(vpx / px_per_mm, 4)
        rows.append(_row(f, value, vpx, meas.geometry.get(f.name), meas.details.get(f.name, {})))
    return rows


def _row(
    f: FeatureSpec, value: float | None, vpx: float | None, geometry: dict[str, Any] | None, detail: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": f.name,
        "kind": f.kind,
        "value": value,
        "value_px": None if vpx is None else round(vpx, 4),
        "nominal": f.nominal,
        "lower_tol": f.lower_tol,
        "upper_tol": f.upper_tol,
        "unit": f.unit,
        "passed": bool(f.passes(value)),
        "geometry": geometry,
        "detail": detail,
    }
