"""Each station camera is calibrated as data: px per mm from an image of the dot-grid target, stored per station with
its residual, who and when; the next capture is measured with it and the inspection names it; a failed calibration
is refused with the reason; an old one shows a warning where people look."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from edge_worker.vision.calibrate import corner_shift_px, distort, render_calibration_target
from edge_worker.vision.render import encode_png
from inspection.actions.calibration import calibrate_station
from inspection.actions.ingest import record_inspection_result
from inspection.models import StationCalibration
from inspection.selectors import calibration_is_stale, current_calibration
from tests.support import factories, ingest_builders
from traceability.errors import RefusedByRule

pytestmark = pytest.mark.django_db


def target(px_per_mm: float, seed: int = 0) -> bytes:
    return encode_png(render_calibration_target(px_per_mm, seed=seed))


@pytest.mark.parametrize("px_per_mm", [4.0, 5.0, 6.5])
def test_it_recovers_the_scale_of_a_rendered_target_within_a_tenth_of_a_percent(cell: Any, px_per_mm: float) -> None:
    station = cell.stations.get(code="dimensional")
    calibration = calibrate_station(station, png=target(px_per_mm, seed=3), actor=None)
    assert abs(calibration.px_per_mm - px_per_mm) / px_per_mm < 0.001
    assert current_calibration(station) == calibration and calibration.dots >= 25


@pytest.mark.parametrize("k1", [-0.15, 0.1])
def test_it_measures_the_lens_distortion_and_keeps_the_scale_through_it(cell: Any, k1: float) -> None:
    station = cell.stations.get(code="dimensional")
    seen = distort(render_calibration_target(5.0, seed=2), k1)
    calibration = calibrate_station(station, png=encode_png(seen), actor=None)
    assert calibration.lens_k1 == pytest.approx(k1, rel=0.02)
    assert abs(calibration.px_per_mm - 5.0) / 5.0 < 0.001
    assert calibration.distortion_px == pytest.approx(corner_shift_px(k1, 512, 512), rel=0.02)
    assert abs(calibration.distortion_px) > 10  # a lens that shifts the corner by 10+ px, measured and taken out


def test_it_finds_no_distortion_in_an_undistorted_target(cell: Any) -> None:
    calibration = calibrate_station(cell.stations.get(code="visual"), png=target(5.0, seed=4), actor=None)
    assert abs(calibration.distortion_px) < 0.2


def test_it_measures_a_part_through_a_distorting_lens_once_the_calibration_says_how(cell: Any) -> None:
    from edge_worker.vision.inspect import inspect_image
    from edge_worker.vision.parts import DEMO_PART_TYPES
    from edge_worker.vision.render import render_part

    spec = DEMO_PART_TYPES["CF-80"]
    seen = encode_png(distort(render_part(spec, seed=5).image, -0.15))
    raw = inspect_image(seen, spec, classifier=None, job="measurement")
    corrected = inspect_image(seen, spec, classifier=None, job="measurement", lens_k1=-0.15)
    error = {r["name"]: abs(r["value"] - r["nominal"]) for r in corrected.measurements}
    raw_error = {r["name"]: abs(r["value"] - r["nominal"]) for r in raw.measurements}
    assert corrected.verdict == "pass", corrected.reason
    assert max(error.values()) < max(raw_error.values())


def test_it_refuses_an_image_without_the_target(cell: Any) -> None:
    import numpy as np

    blank = encode_png(np.full((512, 512), 200, np.uint8))
    with pytest.raises(RefusedByRule, match="fewer than 4 dots"):
        calibrate_station(cell.stations.get(code="visual"), png=blank, actor=None)
    assert not StationCalibration.objects.exists()


def test_it_refuses_a_fit_whose_residual_is_over_the_limit(cell: Any, settings: Any) -> None:
    settings.TWINWEB_CALIBRATION_MAX_RESIDUAL_PX = 0.001  # stricter than any real image meets
    with pytest.raises(RefusedByRule, match="off a regular grid"):
        calibrate_station(cell.stations.get(code="visual"), png=target(5.0), actor=None)
    assert not StationCalibration.objects.exists()


def test_the_command_calibrates_a_station_from_an_image_file(cell: Any, tmp_path: Any, capsys: Any) -> None:
    image = tmp_path / "target.png"
    image.write_bytes(target(5.5, seed=1))
    call_command("calibrate", "--cell", cell.code, "--station", "dimensional", "--image", str(image))
    out = capsys.readouterr().out
    assert abs(float(out.split(": ")[1].split(" px/mm")[0]) - 5.5) / 5.5 < 0.001
    with pytest.raises(CommandError, match="no station"):
        call_command("calibrate", "--cell", cell.code, "--station", "paint", "--render")


def test_quality_engineers_calibrate_on_the_page_and_operators_only_read(
    cell: Any, quality_engineer: Any, operator: Any, login: Any
) -> None:
    station = cell.stations.get(code="visual")
    upload = {"station": station.pk, "pitch_mm": "10", "image": SimpleUploadedFile("t.png", target(5.0), "image/png")}
    assert login(operator).get("/calibration/").status_code == 200
    assert login(operator).post("/calibration/", upload).status_code == 403
    upload["image"] = SimpleUploadedFile("t.png", target(5.0), "image/png")
    assert login(quality_engineer).post("/calibration/", upload).status_code == 302
    calibration = current_calibration(station)
    assert calibration is not None and calibration.calibrated_by == quality_engineer


def test_an_inspection_names_the_calibration_it_was_measured_with(cell: Any) -> None:
    station = cell.stations.get(code="dimensional")
    calibration = calibrate_station(station, png=target(5.0), actor=None)
    device = ingest_builders.make_device(cell)
    part = ingest_builders.make_edge_part(cell)
    payload = ingest_builders.signed(
        {
            **ingest_builders.body(serial=part.serial, station="dimensional", device_id=device.device_id),
            "calibration_id": calibration.pk,
        }
    )
    inspection, _ = record_inspection_result(payload)
    assert inspection.calibration == calibration


def test_an_old_or_missing_calibration_warns_on_the_live_page(
    cell: Any, supervisor: Any, login: Any, settings: Any
) -> None:
    settings.TWINWEB_CALIBRATION_MAX_AGE_DAYS = 30
    station = cell.stations.get(code="dimensional")
    calibration = calibrate_station(station, png=target(5.0), actor=None)
    calibrate_station(cell.stations.get(code="visual"), png=target(5.0), actor=None)
    assert not calibration_is_stale(calibration)
    page = login(supervisor).get(f"/cells/{cell.pk}/").content.decode()
    assert "camera calibration" not in page
    StationCalibration.objects.filter(pk=calibration.pk).update(
        calibrated_at=calibration.calibrated_at - dt.timedelta(days=31)
    )
    page = login(supervisor).get(f"/cells/{cell.pk}/").content.decode()
    assert "Dimensional inspection: camera calibration from" in page and "is due" in page


def test_a_cell_whose_cameras_were_never_calibrated_says_so(supervisor: Any, login: Any) -> None:
    cell = factories.make_cell()
    page = login(supervisor).get(f"/cells/{cell.pk}/").content.decode()
    assert page.count("calibration missing") == 2
