"""Bad images give verdict "error" with a clear reason, never an exception."""

import json

import cv2
import numpy as np
import pytest

from edge_worker.vision.backends import Classifier, ModelInfo
from edge_worker.vision.inspect import inspect_image
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part

SPEC = DEMO_PART_TYPES["CF-80"]


@pytest.fixture(scope="module")
def good_png() -> bytes:
    return encode_png(render_part("CF-80", seed=1).image)


@pytest.fixture(scope="module", params=["measurement only", "with the production classifier"])
def classifier(request):
    if request.param == "measurement only":
        yield None
        return
    from edge_worker.vision.backends import create_backend

    clf = create_backend("onnxruntime", threads=1)
    yield clf
    clf.close()


@pytest.fixture
def _error(classifier):
    def inspect_expecting_error(data, **kw):
        outcome = inspect_image(data, SPEC, classifier=classifier, **kw)
        assert outcome.verdict == "error"
        json.dumps(outcome.to_dict())
        return outcome.reason

    return inspect_expecting_error


def test_it_reports_an_empty_image(_error):
    assert "empty" in _error(b"")


def test_it_reports_data_that_is_not_bytes(_error):
    assert "no image data" in _error(None)


def test_it_reports_corrupt_data(_error):
    assert "corrupt" in _error(b"this is not an image at all" * 10)


def test_it_reports_a_png_with_a_broken_body(_error, good_png):
    broken = good_png[:40] + bytes(len(good_png) - 52) + good_png[-12:]
    assert _error(broken)


def test_it_reports_a_truncated_png(_error, good_png):
    assert "truncated PNG" in _error(good_png[: len(good_png) // 2])


def test_it_reports_a_truncated_jpeg(_error):
    ok, buf = cv2.imencode(".jpg", render_part("CF-80", seed=1).image)
    data = buf.tobytes()
    assert "truncated JPEG" in _error(data[: len(data) // 2])


def test_it_reports_a_wrong_size_image(_error):
    small = cv2.resize(render_part("CF-80", seed=1).image, (320, 240))
    assert "wrong image size" in _error(encode_png(small))


def test_it_reports_a_colour_image_as_the_wrong_number_of_channels(_error):
    bgr = cv2.cvtColor(render_part("CF-80", seed=1).image, cv2.COLOR_GRAY2BGR)
    assert "channels" in _error(encode_png(bgr))


def test_it_reports_a_16_bit_image(_error):
    img16 = render_part("CF-80", seed=1).image.astype(np.uint16) * 256
    assert "8-bit" in _error(encode_png(img16))


def test_it_reports_an_oversized_upload(_error, good_png):
    assert "too large" in _error(good_png, max_bytes=100)


def test_it_reports_an_image_without_a_part(_error):
    blank = np.full((512, 512), 40, np.uint8)
    assert "part not measurable" in _error(encode_png(blank))


def test_it_reports_a_part_cut_by_the_image_border(_error):
    img = render_part("CF-80", seed=1).image
    shifted = np.roll(img, 200, axis=1)
    assert "border" in _error(encode_png(shifted))


class ExplodingClassifier(Classifier):
    name = "exploding"

    def __init__(self) -> None:
        super().__init__(ModelInfo())

    def predict(self, batch):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


def test_a_classifier_that_fails_gives_an_error_verdict_with_its_reason_not_a_crash(good_png):
    outcome = inspect_image(good_png, SPEC, classifier=ExplodingClassifier())
    assert outcome.verdict == "error"
    assert "RuntimeError" in outcome.reason and "illegal memory access" in outcome.reason
    json.dumps(outcome.to_dict())


def _png_declaring(width: int, height: int, *, idat_bytes: int) -> bytes:
    """A PNG whose header declares width x height 8-bit grayscale pixels, with `idat_bytes` of zlib data after it
    (a decompression bomb's shape: a small file, an enormous image)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(bytes(idat_bytes * 1000), 9)[:idat_bytes]
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_it_refuses_a_png_declaring_an_enormous_image_from_its_header_alone(_error, monkeypatch):
    bomb = _png_declaring(30000, 30000, idat_bytes=900_000)  # 0.9 MB declaring 900 megapixels
    # Refused before a pixel is decoded: OpenCV is never asked to decode it.
    import edge_worker.vision.imageio as imageio

    def no_decoding(*args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(imageio, "decode_grayscale", no_decoding)
    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    reason = _error(bomb)
    assert "30000x30000" in reason and "before decoding" in reason


def test_it_reads_a_colour_png_as_the_wrong_number_of_channels_from_its_header(_error, monkeypatch):
    bgr = cv2.cvtColor(render_part("CF-80", seed=1).image, cv2.COLOR_GRAY2BGR)
    png = encode_png(bgr)
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: pytest.fail("the image was decoded"))
    assert "got 3 (RGB)" in _error(png)
