"""The defect classifier's input pipeline, shared by training and every inference backend.

Input: a grayscale uint8 image (H x W). Output: float32 (2, INPUT_SIZE, INPUT_SIZE):

* channel 0: the grey levels;
* channel 1: a detail channel, ``128 + 2 * (image - medianBlur(image, 7))`` computed at full resolution
  before the resize. A 7x7 median keeps straight edges and large circles (so the part's own outline
  almost vanishes from this channel) but removes anything thinner than ~3 px: scratches, cracks and burrs
  stand out on a flat field. Without it, a MobileNetV2 on the grey channel alone learnt the hole defects
  but not the surface ones within our 2-core CPU budget.

Both are normalised ``(v / 255 - 0.5) / 0.5``. The part is located by an Otsu threshold on a 4x reduced
copy; a square crop centred on its bounding box (side = 1.08 x the longer box side) is resized with
INTER_AREA. When no part is found the whole image is used, so the classifier still sees something.
"""

from __future__ import annotations

import cv2
import numpy as np

INPUT_SIZE = 128
CHANNELS = 2
DETAIL_MEDIAN = 7
DETAIL_GAIN = 2.0
MEAN = 0.5
STD = 0.5
PREPROCESSING = {
    "input": "grayscale uint8, single channel",
    "channels": "2: [grey, detail = 128 + 2 * (grey - medianBlur(grey, 7)) at full resolution]",
    "crop": "square around the part's Otsu bounding box, side 1.08 x longer side (whole image if no part)",
    "resize": f"{INPUT_SIZE}x{INPUT_SIZE}, cv2.INTER_AREA",
    "normalise": "(x / 255 - 0.5) / 0.5",
    "layout": "NCHW float32, C=2",
}


def part_crop_box(image: np.ndarray) -> tuple[int, int, int]:
    """(x0, y0, side) of the square crop around the part, in image pixels."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(w // 4, 1), max(h // 4, 1)), interpolation=cv2.INTER_AREA)
    _t, binary = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    n, _labels, stats, _c = cv2.connectedComponentsWithStats(binary)
    if n <= 1:
        side = max(h, w)
        return (w - side) // 2, (h - side) // 2, side
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh = (int(v) * 4 for v in stats[k, :4])
    side = int(max(bw, bh) * 1.08) + 8
    cx, cy = x + bw // 2, y + bh // 2
    return cx - side // 2, cy - side // 2, side


def preprocess(image: np.ndarray) -> np.ndarray:
    """(2, S, S) float32 classifier input from a grayscale uint8 image."""
    return normalise_uint8(to_uint8_input(image)[None])[0]


def to_uint8_input(image: np.ndarray) -> np.ndarray:
    """(2, S, S) uint8 (grey, detail): the compact form datasets are kept in."""
    x0, y0, side = part_crop_box(image)
    h, w = image.shape[:2]
    # Pad with the border so a crop that runs off the image keeps the part centred.
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    crop = image[y0 : y0 + side, x0 : x0 + side]
    crop = np.ascontiguousarray(crop)
    residual = crop.astype(np.float32) - cv2.medianBlur(crop, DETAIL_MEDIAN).astype(np.float32)
    detail = np.clip(128.0 + DETAIL_GAIN * residual, 0, 255)
    size = (INPUT_SIZE, INPUT_SIZE)
    grey_s = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    detail_s = cv2.resize(detail, size, interpolation=cv2.INTER_AREA)
    return np.stack([grey_s, np.clip(np.rint(detail_s), 0, 255).astype(np.uint8)])


def normalise_uint8(batch_u8: np.ndarray) -> np.ndarray:
    """(N, C, S, S) uint8 -> float32, the same normalisation as ``preprocess``."""
    return (batch_u8.astype(np.float32) / 255.0 - MEAN) / STD
