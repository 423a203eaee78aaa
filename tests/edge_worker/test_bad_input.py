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
