"""Sub-pixel dimensional inspection against the renderer's ground truth, and scale calibration."""

import numpy as np
import pytest

from edge_worker.vision.calibrate import (
    calibrate_from_dot_grid,
    render_calibration_target,
)
from edge_worker.vision.measure import (
    fit_circle_geometric,
    fit_circle_kasa,
    measure_part,
)
from edge_worker.vision.measure_accuracy import measurement_errors
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import render_part


def test_it_fits_a_circle_exactly_to_points_on_a_circle():
    a = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    pts = np.column_stack([10.3 + 7.7 * np.cos(a), -4.2 + 7.7 * np.sin(a)])
    for fit in (fit_circle_kasa(pts), fit_circle_geometric(pts, (10, -4, 7))):
        assert np.allclose(fit, (10.3, -4.2, 7.7), atol=1e-6)


def test_it_measures_rendered_parts_to_a_tenth_of_a_pixel_on_average():
    """40 images (20 per part type); the 500-image figure is in docs/benchmarks.md."""
    errors = measurement_errors(count=40, seed=123)
    assert errors["count_values"] > 200
    assert errors["mean_px"] < 0.1, errors
    assert errors["max_px"] < 0.5, errors


@pytest.mark.parametrize("code", sorted(DEMO_PART_TYPES))
def test_it_returns_overlay_geometry_for_every_measured_feature(code):
    part = render_part(code, seed=11)
    meas = measure_part(part.image, DEMO_PART_TYPES[code], part.truth["px_per_mm"])
    for f in DEMO_PART_TYPES[code].features:
        g = meas.geometry[f.name]
        assert g["type"] in ("circle", "line", "polygon")
        if g["type"] == "circle":
            assert len(g["center"]) == 2 and g["radius"] > 0


def test_it_reports_a_missing_hole_as_not_measured():
    part = render_part("TF-12", seed=2, defect="missing_hole")
    name = part.truth["defect"]["feature"]
    meas = measure_part(part.image, DEMO_PART_TYPES["TF-12"], part.truth["px_per_mm"])
    assert meas.values_px[name] is None
    assert meas.values_px["mount_hole_distance"] is None


@pytest.mark.parametrize("scale", [4.5, 5.0, 5.6])
def test_it_calibrates_px_per_mm_from_a_dot_grid(scale):
    cal = calibrate_from_dot_grid(render_calibration_target(scale, seed=1))
    assert cal.dots == 49
    assert abs(cal.px_per_mm - scale) / scale < 1e-4
