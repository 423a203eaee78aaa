"""inspect_image: pass/fail per feature and per defect, overlay geometry, findings, JSON."""

import json

import pytest

from edge_worker.vision.backends import load_classifier
from edge_worker.vision.inspect import inspect_image
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part


@pytest.fixture(scope="module")
def classifier():
    clf, _reason = load_classifier("onnxruntime")
    return clf


def _first_seed(code, defect, want_dims_pass=True):
    for seed in range(100):
        part = render_part(code, seed=seed, defect=defect)
        if all(part.truth["features_pass"].values()) == want_dims_pass:
            return part
    raise AssertionError("no such seed")


@pytest.mark.parametrize("code", sorted(DEMO_PART_TYPES))
def test_it_passes_a_good_part_and_returns_every_measurement(code, classifier):
    part = _first_seed(code, "ok")
    out = inspect_image(encode_png(part.image), DEMO_PART_TYPES[code], classifier=classifier)
    assert out.verdict == "pass", out.reason
    assert out.reason == "" and out.findings == []
    assert [m["name"] for m in out.measurements] == [f.name for f in DEMO_PART_TYPES[code].features]
    assert all(m["passed"] and m["geometry"] for m in out.measurements)
    assert out.defect_class == "ok" and abs(sum(out.class_probabilities.values()) - 1) < 1e-3
    assert set(out.timings_ms) == {"decode", "measure", "classify"}
    assert out.model["backend"] == "onnxruntime" and len(out.model["sha256"]) == 64
    assert out.image_size == [512, 512]
    json.dumps(out.to_dict())


def test_it_fails_an_oversized_hole_on_its_dimension_with_a_bbox(classifier):
    part = render_part("CF-80", seed=4, defect="oversized_hole")
    name = part.truth["defect"]["feature"]
    out = inspect_image(encode_png(part.image), DEMO_PART_TYPES["CF-80"], classifier=classifier)
    assert out.verdict == "fail"
    assert name in out.reason
    finding = next(f for f in out.findings if f["kind"] == "dimension" and f["name"] == name)
    x, y, w, h = finding["bbox"]
    cx, cy = part.truth["geometry"]["circles"][name]["center"]
    assert x < cx < x + w and y < cy < y + h


def test_it_fails_a_missing_hole_as_not_measured(classifier):
    part = render_part("TF-12", seed=4, defect="missing_hole")
    out = inspect_image(encode_png(part.image), DEMO_PART_TYPES["TF-12"], classifier=classifier)
    assert out.verdict == "fail"
    assert "not measured" in out.reason


@pytest.mark.parametrize(
    "defect",
    [
        "scratch",
        "dent",
        "burr",
        "crack",
    ],
)
def test_it_fails_a_surface_defect_through_the_classifier(defect, classifier):
    part = render_part("CF-80", seed=21, defect=defect)
    out = inspect_image(encode_png(part.image), DEMO_PART_TYPES["CF-80"], classifier=classifier)
    assert out.verdict == "fail"
    assert out.defect_class != "ok"
    assert any(f["kind"] == "defect" and len(f["bbox"]) == 4 for f in out.findings)


def test_it_measures_without_a_classifier():
    part = _first_seed("CF-80", "ok")
    out = inspect_image(encode_png(part.image), DEMO_PART_TYPES["CF-80"], classifier=None)
    assert out.verdict == "pass" and out.defect_class is None and "classify" not in out.timings_ms


def test_it_uses_the_given_scale():
    part = render_part("CF-80", seed=3, px_per_mm=4.8)
    out = inspect_image(encode_png(part.image), DEMO_PART_TYPES["CF-80"], classifier=None, px_per_mm=4.8)
    outer = next(m for m in out.measurements if m["name"] == "outer_diameter")
    assert abs(outer["value"] - part.truth["dimensions_mm"]["outer_diameter"]) < 0.02
