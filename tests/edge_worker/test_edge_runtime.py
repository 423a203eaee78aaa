"""The edge runtime: every result names its model and backend, result ids follow the capture, and a capture it
cannot use becomes an error result (kept by the server) rather than a lost message."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_worker.contracts import Capture, InspectionResult, encode_image, utc_now
from edge_worker.power import NoneSampler, PowerMonitor
from edge_worker.runtime import EdgeRuntime, result_id_for
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part
from tests.support import ingest_builders as builders


@pytest.fixture
def runtime() -> Iterator[EdgeRuntime]:
    rt = EdgeRuntime(device_id=builders.DEVICE_ID, backend="none", monitor=PowerMonitor(NoneSampler()))
    yield rt
    rt.close()


def capture(part_type: dict, png: bytes) -> Capture:  # type: ignore[type-arg]
    return Capture(uuid.uuid4(), "SN-1", "visual", "c", part_type, encode_image(png), utc_now(), builders.DEVICE_ID)


def test_it_inspects_a_rendered_part_and_says_which_backend_did_it(runtime: EdgeRuntime) -> None:
    cap = capture(DEMO_PART_TYPES["TF-12"].to_dict(), encode_png(render_part("TF-12", seed=2).image))
    result = InspectionResult.from_dict(runtime.inspect(cap).to_dict())
    assert result.result_id == result_id_for(cap.capture_id, builders.DEVICE_ID)
    assert result.verdict in ("pass", "fail")
    assert {m.name for m in result.measurements} == {f.name for f in DEMO_PART_TYPES["TF-12"].features}
    assert (result.model.backend, result.power.avg_power_mw) == ("none", None)
    assert result.power.note == "not measured: power sampler 'none' configured"
    assert result.latency_ms > 0 and runtime.fps(over_s=60) > 0
    result.verify_image()


def test_it_reports_an_unusable_capture_as_an_error_result(runtime: EdgeRuntime) -> None:
    result = runtime.inspect(capture({"code": "CF-80", "name": "x", "features": [{"name": 1}]}, builders.png()))
    assert result.verdict == "error" and result.reason.startswith("part type specification unusable")


def test_it_reports_a_steady_rate_at_the_cells_takt_not_bursts(runtime: EdgeRuntime) -> None:
    """Two images per 15 s takt for two minutes: 0.133 images/s whenever telemetry samples it, not 0 or 0.4."""
    import time

    now = time.monotonic()
    runtime._started = now - 120
    runtime._done.extend(now - 120 + takt * 15 + offset for takt in range(8) for offset in (0.0, 0.5))
    assert runtime.fps() == pytest.approx(8 / 60, abs=0.02)
    runtime._started = now - 20  # a worker up for 20 s: its rate over 20 s, not diluted over a minute
    runtime._done.clear()
    runtime._done.extend([now - 14.5, now - 14.0, now - 0.5])
    assert runtime.fps() == pytest.approx(3 / 20, abs=0.01)


def command(part_type: dict, *, station: str = "visual", view: str = "front", job: str = "full") -> Capture:  # type: ignore[type-arg]
    """A capture command from the cell: no image, the device's camera for the station takes it."""
    return Capture(
        uuid.uuid4(), "TF-12-000042", station, "c", part_type, "", utc_now(), builders.DEVICE_ID, job=job, view=view
    )


def test_it_takes_the_image_of_a_capture_command_from_the_stations_camera() -> None:
    from edge_worker.cameras import Cameras

    cameras = Cameras({"TWINWEB_CAMERA_DIMENSIONAL": "render"})
    rt = EdgeRuntime(device_id=builders.DEVICE_ID, backend="none", monitor=PowerMonitor(NoneSampler()), cameras=cameras)
    try:
        cmd = command(DEMO_PART_TYPES["TF-12"].to_dict(), station="dimensional", view="backlit", job="measurement")
        result = InspectionResult.from_dict(rt.inspect(cmd).to_dict())
    finally:
        rt.close()
    assert result.verdict in ("pass", "fail"), result.reason
    assert {m.name for m in result.measurements} == {f.name for f in DEMO_PART_TYPES["TF-12"].features}
    assert result.has_image and len(result.verify_image()) > 1000


def test_it_reports_a_capture_command_its_camera_cannot_serve_as_an_error_without_an_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge_worker.cameras import Cameras

    monkeypatch.setenv("TWINWEB_CAMERA_TIMEOUT_S", "0.3")
    cameras = Cameras({"TWINWEB_CAMERA_VISUAL": f"folder:{tmp_path}", "TWINWEB_CAMERA_MAX_AGE_S": "1"})
    rt = EdgeRuntime(device_id=builders.DEVICE_ID, backend="none", monitor=PowerMonitor(NoneSampler()), cameras=cameras)
    try:
        cmd = command(DEMO_PART_TYPES["CF-80"].to_dict())
        result = rt.inspect(cmd)
    finally:
        rt.close()
    assert result.verdict == "error" and result.reason.startswith("no image from the camera:")
    assert (result.image_png_b64, result.image_sha256, result.measurements) == ("", "", ())
    assert InspectionResult.from_dict(result.to_dict()) == result  # it travels: the server keeps the error


def test_it_refuses_a_pass_or_fail_result_without_its_image() -> None:
    from edge_worker.contracts import MessageError

    result = builders.body(serial="SN-1")
    for verdict in ("pass", "fail"):
        with pytest.raises(MessageError, match="image_png_b64: must not be empty"):
            InspectionResult.from_dict({**result, "verdict": verdict, "image_png_b64": "", "image_sha256": ""})
    with pytest.raises(MessageError, match="image_sha256: given for a result without an image"):
        InspectionResult.from_dict({**result, "verdict": "error", "image_png_b64": ""})
