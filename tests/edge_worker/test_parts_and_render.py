"""The demo part specs and the renderer: deterministic, single-channel, with ground truth."""

import json

import numpy as np
import pytest

from edge_worker.vision.parts import DEMO_PART_TYPES, FeatureSpec, PartTypeSpec
from edge_worker.vision.render import DEFECT_CLASSES, encode_png, render_part


def test_it_ships_exactly_two_demo_part_types_that_round_trip_through_dicts():
    assert sorted(DEMO_PART_TYPES) == ["CF-80", "TF-12"]
    for spec in DEMO_PART_TYPES.values():
        data = json.loads(json.dumps(spec.to_dict()))
        assert PartTypeSpec.from_dict(data) == spec
        assert all(f.lower_tol <= 0 <= f.upper_tol for f in spec.features)


def test_it_passes_a_feature_only_inside_its_tolerance_band():
    f = FeatureSpec("bore_diameter", "diameter", 30.0, -0.05, 0.05)
    assert f.passes(30.05) and f.passes(29.95) and f.passes(30.0)
    assert not f.passes(30.051) and not f.passes(29.949) and not f.passes(None)


def test_it_rejects_a_feature_with_a_positive_lower_tolerance():
    with pytest.raises(ValueError):
        FeatureSpec("x", "diameter", 1.0, 0.1, 0.2)


@pytest.mark.parametrize("code", sorted(DEMO_PART_TYPES))
@pytest.mark.parametrize("defect", DEFECT_CLASSES)
def test_it_renders_every_defect_class_as_single_channel_uint8_with_truth(code, defect):
    part = render_part(code, seed=7, defect=defect)
    assert part.image.dtype == np.uint8 and part.image.ndim == 2
    t = part.truth
    assert t["defect_class"] == defect and t["part_type"] == code and t["px_per_mm"] > 0
    assert set(t["dimensions_mm"]) == {f.name for f in DEMO_PART_TYPES[code].features}
    if defect != "ok":
        assert len(t["defect"]["bbox"]) == 4
    json.dumps(t)  # ground truth is JSON-serialisable
    assert encode_png(part.image).startswith(b"\x89PNG")


def test_it_is_deterministic_by_seed_and_varies_across_seeds():
    a = render_part("CF-80", seed=3, defect="scratch")
    b = render_part("CF-80", seed=3, defect="scratch")
    c = render_part("CF-80", seed=4, defect="scratch")
    assert np.array_equal(a.image, b.image) and a.truth == b.truth
    assert not np.array_equal(a.image, c.image)


def test_it_leaves_the_missing_hole_out_of_the_truth_and_enlarges_the_oversized_one():
    missing = render_part("CF-80", seed=5, defect="missing_hole")
    name = missing.truth["defect"]["feature"]
    assert missing.truth["dimensions_mm"][name] is None
    big = render_part("TF-12", seed=5, defect="oversized_hole")
    name = big.truth["defect"]["feature"]
    assert big.truth["dimensions_mm"][name] > DEMO_PART_TYPES["TF-12"].feature(name).nominal * 1.1
