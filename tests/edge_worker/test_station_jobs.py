"""Each station has its own job on its own image: the visual station runs the defect model on a front-lit image,
the dimensional station the drawing's measurement programme on a backlit silhouette, so the two disagree when only
one of them should fail."""

from __future__ import annotations

from typing import Any

import pytest

from edge_worker.cameras.renderer import backlit_image
from edge_worker.vision.backends import create_backend
from edge_worker.vision.inspect import inspect_image
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part

SPEC = DEMO_PART_TYPES["CF-80"]


@pytest.fixture(scope="module")
def classifier() -> Any:
    backend = create_backend("onnxruntime", threads=1)  # the shipped defect model
    yield backend
    backend.close()


def stations_see(
    classifier: Any, *, seed: int, defect: str | None = None, dimensions_mm: dict[str, float] | None = None
) -> tuple[Any, Any]:
    rendered = render_part(SPEC, seed=seed, defect=defect, dimensions_mm=dimensions_mm)
    visual = inspect_image(encode_png(rendered.image), SPEC, classifier=classifier, job="defect_model", view="front")
    dimensional = inspect_image(
        encode_png(backlit_image(rendered)), SPEC, classifier=classifier, job="measurement", view="backlit"
    )
    return visual, dimensional


def test_a_scratch_on_a_part_in_tolerance_fails_at_visual_and_passes_at_dimensional(classifier: Any) -> None:
    visual, dimensional = stations_see(classifier, seed=5, defect="scratch")
    assert (visual.verdict, visual.defect_class) == ("fail", "scratch")
    assert visual.measurements == []  # the visual station does not measure
    assert dimensional.verdict == "pass" and dimensional.defect_class is None  # nor does the dimensional classify
    assert {m["name"] for m in dimensional.measurements} == {f.name for f in SPEC.features}


def test_an_oversized_bore_on_a_clean_part_fails_at_dimensional_alone(classifier: Any) -> None:
    visual, dimensional = stations_see(classifier, seed=6, dimensions_mm={"bore_diameter": 30.2})
    assert visual.verdict == "pass", visual.reason
    assert dimensional.verdict == "fail" and "bore_diameter" in dimensional.reason


def test_the_silhouette_measures_as_the_front_view_does(classifier: Any) -> None:
    _visual, dimensional = stations_see(classifier, seed=4)
    front = inspect_image(encode_png(render_part(SPEC, seed=4).image), SPEC, classifier=None, job="measurement")
    for a, b in zip(dimensional.measurements, front.measurements):
        assert abs(a["value"] - b["value"]) < 0.02, a["name"]
