"""Camera sources on the edge device: each gives the image a capture asks for, checked on arrival, or a CameraError
with the reason. Real files, real video streams OpenCV opens, a real HTTP server: nothing is mocked."""
from __future__ import annotations

import struct
import uuid
import zlib
from typing import Any

import cv2
import numpy as np
import pytest

from edge_worker.cameras import (
    CameraError,
    Frame,
    FrameRequest,
    View,
)
from edge_worker.cameras.renderer import RenderSource
from edge_worker.vision.imageio import read_header
from edge_worker.vision.render import encode_png, render_part


def request(serial: str = "SN-1", *, station: str = "visual", timeout_s: float = 3.0, **kw: Any) -> FrameRequest:
    return FrameRequest(station=station, serial=serial, capture_id=uuid.uuid4(), timeout_s=timeout_s, **kw)


def gray(frame: Frame) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(frame.png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.ndim == 2 and image.dtype == np.uint8
    return image


def png_of(seed: int) -> bytes:
    return encode_png(render_part("CF-80", seed=seed).image)


def png_declaring(width: int, height: int, *, idat_bytes: int) -> bytes:
    """A small PNG whose header declares width x height 8-bit grayscale pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    body = zlib.compress(bytes(idat_bytes * 1000), 9)[:idat_bytes]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def colour_png() -> bytes:
    return encode_png(cv2.cvtColor(render_part("CF-80", seed=1).image, cv2.COLOR_GRAY2BGR))


# --- the demo renderer -----------------------------------------------------------------------------------------


def test_it_renders_the_front_view_as_the_vision_library_draws_it_deterministically_by_seed() -> None:
    camera = RenderSource("visual")
    assert camera.available and "demo renderer" in camera.reason
    frame = camera.grab(request(part_type="CF-80", render_seed=11, defect="scratch"))
    header = read_header(frame.png)
    assert header is not None and (header.format, header.width, header.height) == ("png", 512, 512)
    assert (header.bit_depth, header.channels) == (8, 1)
    assert frame.png == encode_png(render_part("CF-80", seed=11, defect="scratch").image)
    assert camera.grab(request(part_type="CF-80", render_seed=11, defect="scratch")).png == frame.png
    assert camera.grab(request(part_type="CF-80", render_seed=12, defect="scratch")).png != frame.png
    assert frame.meta == {"part_type": "CF-80", "seed": 11, "defect": "scratch", "view": "front"}


@pytest.mark.parametrize("code", ["CF-80", "TF-12"])
def test_it_renders_the_backlit_view_as_a_black_silhouette_on_white_with_the_same_geometry(code: str) -> None:
    camera = RenderSource("dimensional")
    frame = camera.grab(request(station="dimensional", part_type=code, render_seed=5, view=View.BACKLIT))
    image = gray(frame)
    assert image.shape == (512, 512) and frame.meta["view"] == "backlit"
    truth = render_part(code, seed=5).truth
    assert image[:10, :10].mean() > 200 and image[-10:, -10:].mean() > 200  # the light table
    for circle in truth["geometry"]["circles"].values():  # every hole lets the light through
        x, y = (round(v) for v in circle["center"])
        assert image[y - 1:y + 2, x - 1:x + 2].mean() > 200, circle
    bore = truth["geometry"]["circles"]["bore_diameter"]
    x, y = round(bore["center"][0]), round(bore["center"][1] - bore["radius"] - 6)  # just outside the bore
    assert image[y - 1:y + 2, x - 1:x + 2].mean() < 40  # the part blocks it
    again = camera.grab(request(station="dimensional", part_type=code, render_seed=5, view=View.BACKLIT))
    assert again.png == frame.png


def test_it_shows_a_missing_hole_as_material_against_the_backlight() -> None:
    part = render_part("CF-80", seed=3, defect="missing_hole")
    missing = part.truth["defect"]["feature"]
    frame = RenderSource("dimensional").grab(
        request(station="dimensional", part_type="CF-80", render_seed=3, defect="missing_hole", view="backlit"))
    x, y = (round(v) for v in part.truth["geometry"]["circles"][missing]["center"])
    assert gray(frame)[y - 1:y + 2, x - 1:x + 2].mean() < 40


@pytest.mark.parametrize(("asked", "reason"), [
    ({}, "needs the part type and a render seed"),
    ({"part_type": "XX-1", "render_seed": 1}, "unknown part type 'XX-1'"),
    ({"part_type": "CF-80", "render_seed": 1, "defect": "melted"}, "unknown defect 'melted'"),
    ({"part_type": "CF-80", "render_seed": 1, "view": "x-ray"}, "'x-ray' is not a valid View"),
])
def test_it_explains_a_render_request_it_cannot_draw(asked: dict[str, Any], reason: str) -> None:
    with pytest.raises(CameraError, match=reason):
        RenderSource("visual").grab(request(**asked))
