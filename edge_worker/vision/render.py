"""Procedural top-view images of the demo parts, with ground truth.

Images are single-channel (grayscale) ``uint8`` arrays, ``IMAGE_SIZE`` x ``IMAGE_SIZE`` pixels, at
``px_per_mm`` pixels per millimetre. Pixel centres sit at integer coordinates (the OpenCV convention).

Anti-aliasing is analytic rather than by supersampling: every shape is described by a signed distance
field in pixels, and a pixel's coverage is ``clip(0.5 - d, 0, 1)``, which is the exact box-filtered area
for a straight edge and within a few thousandths of a pixel for the circles here (radius > 20 px). That
makes the sub-pixel ground truth meaningful at a fraction of the cost of 4x supersampling.

Variation per image (all from the seed): true dimensions scattered around the tolerance band (a few
percent of parts fall outside it), position offset, rotation, lighting gradient, surface texture,
Gaussian blur, sensor noise. Defects: scratch, dent, burr, crack, missing_hole, oversized_hole.
"""

from __future__ import annotations

from collections.abc import Mapping

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .parts import PartTypeSpec, bolt_hole_names, get_part_type

DEFECT_CLASSES: tuple[str, ...] = ("ok", "scratch", "dent", "burr", "crack", "missing_hole", "oversized_hole")
DEFAULT_PX_PER_MM = 5.0
IMAGE_SIZE = 512


@dataclass
class RenderedPart:
    image: np.ndarray  # HxW uint8, single channel
    truth: dict[str, Any] = field(default_factory=dict)


def encode_png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


@dataclass
class _Circle:
    name: str  # feature name, e.g. "bore_diameter"
    cx: float
    cy: float
    r: float  # px
    present: bool = True


def _sample_true(rng: np.random.Generator, nominal: float, lower: float, upper: float) -> float:
    # A capable process: the tolerance band is +-4 sigma wide, so a defect-free part is in tolerance
    # (dimensional rejects come from the labelled defects: missing or oversized holes).
    mid = nominal + (lower + upper) / 2.0
    spread = max(upper - lower, 0.02) / 8.0
    return float(mid + rng.normal(0.0, spread))


def _coverage(sdf: np.ndarray) -> np.ndarray:
    """Fraction of each pixel inside a shape, from its signed distance in px (negative inside)."""
    return np.clip(0.5 - sdf, 0.0, 1.0)


def _segment_sdf(xx: np.ndarray, yy: np.ndarray, p0: tuple[float, float], p1: tuple[float, float]) -> np.ndarray:
    ax, ay = p0
    bx, by = p1
    dx, dy = bx - ax, by - ay
    denom = dx * dx + dy * dy or 1e-9
    t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / denom, 0.0, 1.0)
    return np.hypot(xx - (ax + t * dx), yy - (ay + t * dy))


def render_part(
    spec_or_code: PartTypeSpec | str,
    *,
    seed: int,
    defect: str | None = None,
    px_per_mm: float = DEFAULT_PX_PER_MM,
    dimensions_mm: Mapping[str, float] | None = None,
) -> RenderedPart:
    """Render one part. ``defect`` None or "ok" gives a part without visual defect. ``dimensions_mm`` fixes
    the true size of named features (e.g. an out-of-tolerance bore); the others are drawn from the process."""
    spec = get_part_type(spec_or_code)
    defect = defect or "ok"
    if defect not in DEFECT_CLASSES:
        raise ValueError(f"unknown defect {defect!r}; known: {DEFECT_CLASSES}")
    rng = np.random.default_rng([seed, DEFECT_CLASSES.index(defect), sum(map(ord, spec.code))])
    size = IMAGE_SIZE
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    s = px_per_mm

    true_mm: dict[str, float] = {f.name: _sample_true(rng, f.nominal, f.lower_tol, f.upper_tol) for f in spec.features}
    unknown = set(dimensions_mm or {}) - set(true_mm)
    if unknown:
        raise ValueError(f"{spec.code} has no feature {sorted(unknown)}; known: {sorted(true_mm)}")
    true_mm.update({name: float(value) for name, value in (dimensions_mm or {}).items()})
    cx = size / 2 + rng.uniform(-12, 12)
    cy = size / 2 + rng.uniform(-12, 12)
    angle = rng.uniform(-8.0, 8.0)  # degrees, part rotation
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def to_px(u_mm: float, v_mm: float) -> tuple[float, float]:
        u, v = u_mm * s, v_mm * s
        return cx + ca * u - sa * v, cy + sa * u + ca * v

    circles: list[_Circle] = []
    geometry: dict[str, Any] = {"center_px": [cx, cy], "rotation_deg": angle}
    family = spec.family
    if family == "flange":
        outer_r = true_mm["outer_diameter"] * s / 2
        sdf_outer = np.hypot(xx - cx, yy - cy) - outer_r
        geometry["outer_circle"] = {"center": [cx, cy], "radius": outer_r}
        circles.append(_Circle("bore_diameter", cx, cy, true_mm["bore_diameter"] * s / 2))
        pcd = true_mm["bolt_circle_diameter"]
        hole_names = bolt_hole_names(spec.features)
        for i, name in enumerate(hole_names):
            a = math.radians(180 / len(hole_names) + 360 / len(hole_names) * i)  # 4 holes: 45, 135, 225, 315
            hx, hy = to_px(pcd / 2 * math.cos(a), pcd / 2 * math.sin(a))
            circles.append(_Circle(name, hx, hy, true_mm[name] * s / 2))
        edge_names = ["outer_diameter", "bore_diameter", *hole_names]
    elif family == "tube_fitting":
        length, width = true_mm["block_length"], true_mm["block_width"]
        u = ca * (xx - cx) + sa * (yy - cy)
        v = -sa * (xx - cx) + ca * (yy - cy)
        sdf_outer = np.maximum(np.abs(u) - length * s / 2, np.abs(v) - width * s / 2)
        corners = [to_px(du * length / 2, dv * width / 2) for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        geometry["rectangle"] = {
            "center": [cx, cy],
            "size": [length * s, width * s],
            "angle_deg": angle,
            "corners": [list(c) for c in corners],
        }
        circles.append(_Circle("bore_diameter", cx, cy, true_mm["bore_diameter"] * s / 2))
        dist = true_mm["mount_hole_distance"]
        hole_names = ["mount_hole_1_diameter", "mount_hole_2_diameter"]
        for sign, name in zip((-1, 1), hole_names):
            hx, hy = to_px(sign * dist / 2, 0.0)
            circles.append(_Circle(name, hx, hy, true_mm[name] * s / 2))
        edge_names = ["outer", "bore_diameter", *hole_names]
    else:
        raise ValueError(f"no renderer for part family {family!r} ({spec.code})")

    defect_info: dict[str, Any] = {}
    if defect in ("missing_hole", "oversized_hole"):
        target = circles[1 + int(rng.integers(0, len(hole_names)))]
        defect_info["feature"] = target.name
        if defect == "missing_hole":
            target.present = False
        else:
            factor = rng.uniform(1.15, 1.35)
            target.r *= factor
            true_mm[target.name] = target.r * 2 / s
        defect_info["bbox"] = _circle_bbox(target.cx, target.cy, target.r * 1.3)

    material = _coverage(sdf_outer)
    for c in circles:
        if c.present:
            material = material * (1.0 - _coverage(np.hypot(xx - c.cx, yy - c.cy) - c.r))

    # Surface brightness with machining texture: turning rings on the flange, milling lines on the block.
    base = rng.uniform(165, 200)
    rr = np.hypot(xx - cx, yy - cy)
    if family == "flange":
        texture = 3.0 * np.sin(rr * (2 * math.pi / rng.uniform(3.0, 5.0)) + rng.uniform(0, 6.28))
    else:
        texture = 3.0 * np.sin((xx * ca + yy * sa) * (2 * math.pi / rng.uniform(3.0, 5.0)))
    surface = base + texture + rng.normal(0, 2.0, size=(size, size)).astype(np.float32)
    background = rng.uniform(25, 50)

    if defect in ("scratch", "dent", "crack", "burr"):
        material, surface = _apply_surface_defect(
            defect, rng, xx, yy, material, surface, circles, sdf_outer, family, cx, cy, defect_info
        )

    image = background + (surface - background) * material
    # Lighting: a linear gradient in a random direction, and a gentle vignette.
    g_dir = rng.uniform(0, 2 * math.pi)
    g_amp = rng.uniform(0.0, 0.15)
    image *= 1.0 + g_amp * ((xx - size / 2) * math.cos(g_dir) + (yy - size / 2) * math.sin(g_dir)) / size
    image *= 1.0 - 0.08 * ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (size / 2) ** 2
    sigma = rng.uniform(0.5, 1.0)
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)
    image += rng.normal(0.0, rng.uniform(1.0, 3.0), size=image.shape).astype(np.float32)
    out = np.clip(np.rint(image), 0, 255).astype(np.uint8)

    truth_circles = {c.name: {"center": [c.cx, c.cy], "radius": c.r, "present": c.present} for c in circles}
    geometry["circles"] = truth_circles
    dims_px = {name: value * s for name, value in true_mm.items()}
    for c in circles:
        if not c.present:
            dims_px[c.name] = None  # type: ignore[assignment]
            true_mm[c.name] = None  # type: ignore[assignment]
    truth = {
        "part_type": spec.code,
        "seed": seed,
        "defect_class": defect,
        "defect": defect_info,
        "px_per_mm": s,
        "dimensions_mm": true_mm,
        "dimensions_px": dims_px,
        "features_pass": {f.name: f.passes(true_mm.get(f.name)) for f in spec.features},
        "geometry": geometry,
        "blur_sigma_px": sigma,
        "image_size": [size, size],
        "edges": edge_names,
    }
    return RenderedPart(image=out, truth=truth)


def _circle_bbox(cx: float, cy: float, r: float) -> list[int]:
    x0, y0 = int(math.floor(cx - r)), int(math.floor(cy - r))
    w = int(math.ceil(2 * r)) + 1
    return [x0, y0, w, w]


def _random_point_on_material(
    rng: np.random.Generator, material: np.ndarray, margin_mask: np.ndarray
) -> tuple[float, float]:
    ys, xs = np.nonzero(margin_mask)
    i = int(rng.integers(0, len(xs)))
    return float(xs[i]), float(ys[i])


def _apply_surface_defect(
    defect: str,
    rng: np.random.Generator,
    xx: np.ndarray,
    yy: np.ndarray,
    material: np.ndarray,
    surface: np.ndarray,
    circles: list[_Circle],
    sdf_outer: np.ndarray,
    family: str,
    cx: float,
    cy: float,
    info: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    # Points well inside the material, away from every edge, for surface defects.
    inner = sdf_outer < -14
    for c in circles:
        inner &= np.hypot(xx - c.cx, yy - c.cy) > c.r + 14
    if defect == "scratch":
        x0, y0 = _random_point_on_material(rng, material, inner)
        ang = rng.uniform(0, math.pi)
        length = rng.uniform(60, 110)
        x1, y1 = x0 + length * math.cos(ang), y0 + length * math.sin(ang)
        width = rng.uniform(2.6, 4.0)
        cov = _coverage(_segment_sdf(xx, yy, (x0, y0), (x1, y1)) - width / 2)
        # Under the cell's ring light a scratch in machined metal shows bright (it reflects); a crack shows dark.
        delta = rng.uniform(70, 100)
        surface = surface + delta * cov
        xs, ys = [x0, x1], [y0, y1]
    elif defect == "dent":
        x0, y0 = _random_point_on_material(rng, material, inner)
        rad = rng.uniform(11, 18)
        ell = rng.uniform(0.6, 1.0)
        ang = rng.uniform(0, math.pi)
        u = ((xx - x0) * math.cos(ang) + (yy - y0) * math.sin(ang)) / rad
        v = (-(xx - x0) * math.sin(ang) + (yy - y0) * math.cos(ang)) / (rad * ell)
        bump = np.exp(-(u * u + v * v) * 1.5)
        light = rng.uniform(0, 2 * math.pi)
        # A dent is shaded: dark on the side facing the light, a bright rim opposite, darker centre.
        shade = -(u * math.cos(light) + v * math.sin(light)) * bump * rng.uniform(70, 100)
        surface = surface + shade - 45.0 * bump
        xs, ys = [x0 - rad, x0 + rad], [y0 - rad, y0 + rad]
    elif defect == "crack":
        # Starts at an edge (outer edge or a hole) and runs into the material as a jagged dark line.
        present = [c for c in circles if c.present]
        if rng.random() < 0.5 and present:
            c = present[int(rng.integers(0, len(present)))]
            a = rng.uniform(0, 2 * math.pi)
            px, py = c.cx + (c.r + 0.5) * math.cos(a), c.cy + (c.r + 0.5) * math.sin(a)
            heading = a
        else:
            edge = (np.abs(sdf_outer) < 1.0) & inner.any()
            ys_, xs_ = np.nonzero(edge)
            i = int(rng.integers(0, len(xs_)))
            px, py = float(xs_[i]), float(ys_[i])
            heading = math.atan2(cy - py, cx - px)
        pts = [(px, py)]
        total = rng.uniform(40, 75)
        n = 6
        for _ in range(n):
            heading += rng.uniform(-0.6, 0.6)
            step = total / n
            px, py = px + step * math.cos(heading), py + step * math.sin(heading)
            pts.append((px, py))
        d = np.full(xx.shape, 1e9, dtype=np.float32)
        for p0, p1 in zip(pts[:-1], pts[1:]):
            d = np.minimum(d, _segment_sdf(xx, yy, p0, p1))
        width = rng.uniform(2.4, 3.4)
        cov = _coverage(d - width / 2)
        surface = surface - rng.uniform(100, 140) * cov
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    elif defect == "burr":
        # Small lumps of material left on an edge: outward on the outer edge, inward into a hole.
        present = [c for c in circles if c.present]
        use_hole = rng.random() < 0.5
        bumps: list[tuple[float, float, float]] = []
        if use_hole:
            c = present[int(rng.integers(0, len(present)))]
            a0 = rng.uniform(0, 2 * math.pi)
            for k in range(int(rng.integers(4, 7))):
                a = a0 + k * rng.uniform(0.12, 0.2)
                rb = rng.uniform(5.5, 8.0)
                bumps.append((c.cx + c.r * math.cos(a), c.cy + c.r * math.sin(a), rb))
        else:
            edge = np.abs(sdf_outer) < 1.0
            ys_, xs_ = np.nonzero(edge)
            i = int(rng.integers(0, len(xs_)))
            ex, ey = float(xs_[i]), float(ys_[i])
            a0 = math.atan2(ey - cy, ex - cx)
            # Walk along the edge with small steps; sdf_outer is a distance so its zero set is the edge.
            for k in range(int(rng.integers(4, 7))):
                a = a0 + k * rng.uniform(0.05, 0.09)
                ray = np.arange(0, 400, 0.5)
                rx, ry = cx + ray * math.cos(a), cy + ray * math.sin(a)
                ix = np.clip(np.rint(rx).astype(int), 0, xx.shape[1] - 1)
                iy = np.clip(np.rint(ry).astype(int), 0, xx.shape[0] - 1)
                outside = np.nonzero(sdf_outer[iy, ix] > 0)[0]
                j = int(outside[0]) if len(outside) else len(ray) - 1
                bumps.append((float(rx[j]), float(ry[j]), rng.uniform(6.0, 9.0)))
        lump = np.zeros_like(material)
        for bx, by, rb in bumps:
            lump = np.maximum(lump, _coverage(np.hypot(xx - bx, yy - by) - rb))
        material = np.maximum(material, lump)
        surface = surface + 55.0 * lump
        xs = [b[0] for b in bumps]
        ys = [b[1] for b in bumps]
        info["edge"] = "hole" if use_hole else "outer"
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(defect)
    pad = 8
    x0, x1 = min(xs) - pad, max(xs) + pad
    y0, y1 = min(ys) - pad, max(ys) + pad
    info["bbox"] = [int(x0), int(y0), int(math.ceil(x1 - x0)), int(math.ceil(y1 - y0))]
    return material, surface
