"""Decoding a camera image cheaply and safely: what the header declares is checked before a pixel is decoded.

A small file can declare an enormous image (a 0.9 MB PNG declaring 30000x30000 pixels cost 6.6 s and 1.8 GB to
refuse after decoding, and a capture that is redelivered after the worker is killed turns that into a crash loop).
So the dimensions, bit depth and colour type are read from the PNG header (IHDR) or the JPEG frame header (SOFn)
first, refused with the reason when they are not what a cell camera sends, and only then is the image decoded,
straight to 8-bit grayscale.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_GRAY = 0
PNG_COLOR_TYPES = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}
MAX_PIXELS = 4096 * 4096  # far above any inspection camera here; far below what hurts a Jetson's memory
JPEG_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int
    bit_depth: int | None
    channels: int | None


def png_header(data: bytes) -> ImageHeader:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise ImageError("corrupt PNG: no IHDR header")
    width, height, depth, color_type = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color_type)
    if channels is None:
        raise ImageError(f"corrupt PNG: unknown colour type {color_type}")
    if color_type != PNG_GRAY:
        raise ImageError(
            f"wrong number of channels: expected 1 (grayscale camera), got {channels} ({PNG_COLOR_TYPES[color_type]})"
        )
    return ImageHeader("png", width, height, depth, channels)


def jpeg_header(data: bytes) -> ImageHeader:
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            raise ImageError("corrupt JPEG: marker expected")
        marker = data[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in JPEG_SOF_MARKERS:
            depth, height, width, channels = struct.unpack(">BHHB", data[position + 4 : position + 10])
            return ImageHeader("jpeg", width, height, depth, channels)
        position += 2 + length
    raise ImageError("corrupt JPEG: no frame header")


def read_header(data: bytes) -> ImageHeader | None:
    """The declared size and depth of a PNG or JPEG, without decoding it (None for other formats)."""
    if data.startswith(PNG_SIGNATURE):
        return png_header(data)
    if data.startswith(b"\xff\xd8"):
        return jpeg_header(data)
    return None


def check_header(header: ImageHeader, *, expected_size: tuple[int, int] | None, max_pixels: int = MAX_PIXELS) -> None:
    if header.width <= 0 or header.height <= 0:
        raise ImageError(f"corrupt {header.format.upper()}: declares {header.width}x{header.height} pixels")
    if header.width * header.height > max_pixels:
        raise ImageError(
            f"image too large: the {header.format.upper()} header declares {header.width}x{header.height} "
            f"pixels (limit {max_pixels} pixels); refused before decoding"
        )
    if expected_size is not None and (header.width, header.height) != tuple(expected_size):
        raise ImageError(
            f"wrong image size: expected {expected_size[0]}x{expected_size[1]}, got {header.width}x{header.height}"
        )
    if header.bit_depth is not None and header.bit_depth != 8:
        raise ImageError(f"wrong pixel depth: expected 8-bit, got {header.bit_depth}-bit")
    if header.channels is not None and header.channels != 1:
        raise ImageError(f"wrong number of channels: expected 1 (grayscale camera), got {header.channels}")


def decode_grayscale(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None or img.size == 0:
        raise ImageError(f"corrupt or unsupported image data ({len(data)} bytes could not be decoded)")
    return img
