"""The demo camera: renders the requested part with the vision library, lit the way the station lights it.

`View.FRONT` is the renderer's own image (ring light from above: the machined surface, scratches, dents, cracks,
burrs). `View.BACKLIT` is the same part on a light table: white background, the part black, its holes white. It is
drawn from the geometry the renderer reports for the part (outer contour, each hole with its true radius, a missing
hole left out, an oversized one drawn oversized), with the same blur, so both views of one seed show the same part.
Surface defects do not show against a backlight, as in a real cell; a burr would change the silhouette in a real
cell but is not drawn in it here (the renderer does not report the burr's shape).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import cv2
import numpy as np

from edge_worker.vision.render import DEFECT_CLASSES, IMAGE_SIZE, RenderedPart, encode_png, render_part

from .base import (
    CameraError,
    CameraSource,
    Frame,
    FrameRequest,
    SourceKind,
    View,
    utc_now,
)
from .checks import check_image

BACKLIGHT = 235.0  # grey level of the light table
SILHOUETTE = 12.0  # grey level of the part against it


def _coverage(sdf: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - sdf, 0.0, 1.0)


def backlit_image(rendered: RenderedPart) -> np.ndarray:
    """The silhouette of a rendered part: 8-bit grayscale, the same size, geometry and blur as its front view."""
    truth = rendered.truth
    geometry: dict[str, Any] = truth["geometry"]
    height, width = rendered.image.shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if "outer_circle" in geometry:
        (cx, cy), radius = geometry["outer_circle"]["center"], geometry["outer_circle"]["radius"]
        sdf_outer = np.hypot(xx - cx, yy - cy) - radius
    elif "rectangle" in geometry:
        rect = geometry["rectangle"]
        (cx, cy), (length, breadth) = rect["center"], rect["size"]
        ca, sa = math.cos(math.radians(rect["angle_deg"])), math.sin(math.radians(rect["angle_deg"]))
        u = ca * (xx - cx) + sa * (yy - cy)
        v = -sa * (xx - cx) + ca * (yy - cy)
        sdf_outer = np.maximum(np.abs(u) - length / 2, np.abs(v) - breadth / 2)
    else:
        raise ValueError(f"no outer contour in the geometry of {truth.get('part_type')}")
    material = _coverage(sdf_outer)
    for circle in geometry["circles"].values():
        if circle["present"]:
            (hx, hy), r = circle["center"], circle["radius"]
            material = material * (1.0 - _coverage(np.hypot(xx - hx, yy - hy) - r))
    lit = (BACKLIGHT - (BACKLIGHT - SILHOUETTE) * material).astype(np.float32)
    image = np.asarray(cv2.GaussianBlur(lit, (0, 0), float(truth["blur_sigma_px"])), dtype=np.float32)
    rng = np.random.default_rng([int(truth["seed"]), 0xB4C])
    image += rng.normal(0.0, 1.5, size=image.shape).astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


SURFACE_DEFECTS = tuple(d for d in DEFECT_CLASSES if d != "ok")


def part_seen_by_serial(serial: str, *, world_seed: int, defect_rate: float) -> tuple[int, str | None]:
    """The demo world: the render seed and the surface defect (or None) of the part a serial stands for.

    Derived from the serial alone, so both stations' cameras see the same part, a re-sent command sees it again
    unchanged, and the cell (the simulated PLC) needs to know nothing of how a part looks, as a real PLC does not."""
    digest = hashlib.sha256(f"{world_seed}:{serial}".encode()).digest()
    seed = int.from_bytes(digest[:4], "big") & 0x3FFFFFFF
    draw = int.from_bytes(digest[4:12], "big") / 2.0**64
    defect = SURFACE_DEFECTS[digest[12] % len(SURFACE_DEFECTS)] if draw < defect_rate else None
    return seed, defect


class RenderSource(CameraSource):
    kind = SourceKind.RENDER

    def __init__(self, station: str, *, defect_rate: float = 0.1, world_seed: int = 0) -> None:
        super().__init__(station)
        if not 0.0 <= defect_rate <= 1.0:
            raise ValueError(f"defect rate {defect_rate} is not between 0 and 1")
        self.defect_rate = defect_rate
        self.world_seed = world_seed

    @property
    def available(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        return (
            f"demo renderer: synthetic {IMAGE_SIZE}x{IMAGE_SIZE} images of the requested part (front or backlit), "
            f"{100 * self.defect_rate:.0f} % with a surface defect"
        )

    def grab(self, request: FrameRequest) -> Frame:
        if not request.part_type:
            raise CameraError("the demo renderer needs the part type in the capture command")
        seed, defect = request.render_seed, request.defect
        if seed is None:
            seed, defect = part_seen_by_serial(request.serial, world_seed=self.world_seed, defect_rate=self.defect_rate)
        try:
            view = View(request.view)
            rendered = render_part(
                request.part_type, seed=int(seed), defect=defect, dimensions_mm=request.dimensions_mm
            )
            image = rendered.image if view is View.FRONT else backlit_image(rendered)
        except (KeyError, ValueError, TypeError) as exc:
            detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            raise CameraError(f"the demo renderer cannot draw this part: {detail}") from None
        checked = check_image(encode_png(image))
        code = request.part_type if isinstance(request.part_type, str) else getattr(request.part_type, "code", "")
        return Frame(
            png=checked.png,
            source=self.name,
            taken_at=utc_now(),
            meta={"part_type": code, "seed": int(seed), "defect": defect or "ok", "view": view.value},
        )
