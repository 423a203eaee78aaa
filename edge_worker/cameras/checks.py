"""The arrival checks every camera source applies, in one place: format, file size, then what the header declares
(dimensions, bit depth, channels, pixel count) before a pixel is decoded, then the decoded image.

The checks themselves are the vision library's (`edge_worker.vision.inspect.decode_image`, which reads PNG and JPEG
headers with `edge_worker.vision.imageio`), so an image refused here would be refused by the inspection with the
same words; refusing it on arrival says which file or upload was bad, and lets an HTTP camera hear why.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from edge_worker.vision.errors import ImageError
from edge_worker.vision.imageio import PNG_SIGNATURE
from edge_worker.vision.inspect import EXPECTED_SIZE, decode_image
from edge_worker.vision.render import encode_png

from .base import CameraError

MAX_IMAGE_BYTES = 8 * 1024 * 1024  # as the server's TWINWEB_MAX_IMAGE_BYTES default; a 512x512 PNG is ~0.3 MB
FORMATS = "PNG, JPEG, BMP or TIFF"


class Problem(str, enum.Enum):
    FORMAT = "format"  # not an image format the cell reads
    BYTES = "bytes"  # the file is larger than allowed
    CONTENT = "content"  # an image, but corrupt, truncated, or the wrong size, depth or channels


class ImageRefused(CameraError):
    """An image that arrived but cannot be inspected; `problem` says which kind of check refused it."""

    def __init__(self, reason: str, *, problem: Problem = Problem.CONTENT) -> None:
        super().__init__(reason)
        self.problem = problem


@dataclass(frozen=True)
class CheckedImage:
    png: bytes  # the image as it will be inspected: the camera's own bytes when it sent a PNG
    format: str  # what arrived: png, jpeg, bmp, tiff
    width: int
    height: int

    @property
    def converted(self) -> bool:
        return self.format != "png"


def sniff_format(data: bytes) -> str | None:
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"BM"):
        return "bmp"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    return None


def looks_incomplete(data: bytes) -> bool:
    """Empty, or a PNG or JPEG whose end marker has not arrived yet: what a file still being uploaded looks like."""
    if not data:
        return True
    if data.startswith(PNG_SIGNATURE):
        return b"IEND" not in data[-16:]
    if data.startswith(b"\xff\xd8"):
        return not data.rstrip(b"\x00").endswith(b"\xff\xd9")
    return False


def check_image(
    data: bytes, *, expected_size: tuple[int, int] | None = EXPECTED_SIZE, max_bytes: int = MAX_IMAGE_BYTES
) -> CheckedImage:
    """The image as it will be inspected (8-bit grayscale PNG), or ImageRefused with the reason."""
    if not data:
        raise ImageRefused("empty image (0 bytes)")
    if len(data) > max_bytes:
        raise ImageRefused(f"image too large: {len(data)} bytes > limit {max_bytes}", problem=Problem.BYTES)
    kind = sniff_format(data)
    if kind is None:
        raise ImageRefused(
            f"not an image: {len(data)} bytes starting {data[:8]!r}; expected {FORMATS}", problem=Problem.FORMAT
        )
    try:
        image = decode_image(data, max_bytes=max_bytes, expected_size=expected_size)
    except ImageError as exc:
        raise ImageRefused(str(exc)) from None
    height, width = image.shape
    png = data if kind == "png" else encode_png(image)
    return CheckedImage(png=png, format=kind, width=width, height=height)


def check_array(image: np.ndarray, *, expected_size: tuple[int, int] | None = EXPECTED_SIZE) -> CheckedImage:
    """A frame from a video device, after conversion to 8-bit grayscale: encoded and checked like any file."""
    return check_image(encode_png(image), expected_size=expected_size, max_bytes=64 * 1024 * 1024)
