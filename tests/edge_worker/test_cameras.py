"""Camera sources on the edge device: each gives the image a capture asks for, checked on arrival, or a CameraError
with the reason. Real files, real video streams OpenCV opens, a real HTTP server: nothing is mocked."""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_worker.cameras import (
    CameraError,
    Cameras,
    Frame,
    FrameRequest,
    SourceKind,
    View,
    camera_from_config,
    capture_for,
    station_variable,
)
from edge_worker.cameras.folder import FolderSource
from edge_worker.cameras.http_upload import HttpUploadSource, UploadServer
from edge_worker.cameras.opencv_stream import OpenCVSource, has_gstreamer
from edge_worker.cameras.renderer import SURFACE_DEFECTS, RenderSource, part_seen_by_serial
from edge_worker.vision.imageio import read_header
from edge_worker.vision.render import encode_png, render_part


def request(serial: str = "SN-1", *, station: str = "visual", timeout_s: float = 3.0, **kw: Any) -> FrameRequest:
    return FrameRequest(station=station, serial=serial, capture_id=uuid.uuid4(), timeout_s=timeout_s, **kw)


def gray(frame: Frame) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(frame.png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.ndim == 2 and image.dtype == np.uint8
    return image


def png_of(seed: int) -> bytes:
    return encode_png(render_part("CF-80", seed=seed).image)


def png_declaring(width: int, height: int, *, idat_bytes: int) -> bytes:
    """A small PNG whose header declares width x height 8-bit grayscale pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    body = zlib.compress(bytes(idat_bytes * 1000), 9)[:idat_bytes]
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", body)
        + chunk(b"IEND", b"")
    )


def colour_png() -> bytes:
    return encode_png(cv2.cvtColor(render_part("CF-80", seed=1).image, cv2.COLOR_GRAY2BGR))


# --- the demo renderer -----------------------------------------------------------------------------------------


def test_it_renders_the_front_view_as_the_vision_library_draws_it_deterministically_by_seed() -> None:
    camera = RenderSource("visual")
    assert camera.available and "demo renderer" in camera.reason
    frame = camera.grab(request(part_type="CF-80", render_seed=11, defect="scratch"))
    header = read_header(frame.png)
    assert header is not None and (header.format, header.width, header.height) == ("png", 512, 512)
    assert (header.bit_depth, header.channels) == (8, 1)
    assert frame.png == encode_png(render_part("CF-80", seed=11, defect="scratch").image)
    assert camera.grab(request(part_type="CF-80", render_seed=11, defect="scratch")).png == frame.png
    assert camera.grab(request(part_type="CF-80", render_seed=12, defect="scratch")).png != frame.png
    assert frame.meta == {"part_type": "CF-80", "seed": 11, "defect": "scratch", "view": "front"}


@pytest.mark.parametrize("code", ["CF-80", "TF-12"])
def test_it_renders_the_backlit_view_as_a_black_silhouette_on_white_with_the_same_geometry(code: str) -> None:
    camera = RenderSource("dimensional")
    frame = camera.grab(request(station="dimensional", part_type=code, render_seed=5, view=View.BACKLIT))
    image = gray(frame)
    assert image.shape == (512, 512) and frame.meta["view"] == "backlit"
    truth = render_part(code, seed=5).truth
    assert image[:10, :10].mean() > 200 and image[-10:, -10:].mean() > 200  # the light table
    for circle in truth["geometry"]["circles"].values():  # every hole lets the light through
        x, y = (round(v) for v in circle["center"])
        assert image[y - 1 : y + 2, x - 1 : x + 2].mean() > 200, circle
    bore = truth["geometry"]["circles"]["bore_diameter"]
    x, y = round(bore["center"][0]), round(bore["center"][1] - bore["radius"] - 6)  # just outside the bore
    assert image[y - 1 : y + 2, x - 1 : x + 2].mean() < 40  # the part blocks it
    again = camera.grab(request(station="dimensional", part_type=code, render_seed=5, view=View.BACKLIT))
    assert again.png == frame.png


def test_it_shows_a_missing_hole_as_material_against_the_backlight() -> None:
    part = render_part("CF-80", seed=3, defect="missing_hole")
    missing = part.truth["defect"]["feature"]
    frame = RenderSource("dimensional").grab(
        request(station="dimensional", part_type="CF-80", render_seed=3, defect="missing_hole", view="backlit")
    )
    x, y = (round(v) for v in part.truth["geometry"]["circles"][missing]["center"])
    assert gray(frame)[y - 1 : y + 2, x - 1 : x + 2].mean() < 40


@pytest.mark.parametrize(
    ("asked", "reason"),
    [
        ({}, "needs the part type"),
        ({"part_type": "XX-1", "render_seed": 1}, "unknown part type 'XX-1'"),
        ({"part_type": "CF-80", "render_seed": 1, "defect": "melted"}, "unknown defect 'melted'"),
        ({"part_type": "CF-80", "render_seed": 1, "view": "x-ray"}, "'x-ray' is not a valid View"),
    ],
)
def test_it_explains_a_render_request_it_cannot_draw(asked: dict[str, Any], reason: str) -> None:
    with pytest.raises(CameraError, match=reason):
        RenderSource("visual").grab(request(**asked))


def test_it_draws_the_part_a_serial_stands_for_when_the_cell_sends_no_seed() -> None:
    camera = RenderSource("visual", defect_rate=0.5, world_seed=7)
    first = camera.grab(request(serial="CF-80-000123", part_type="CF-80"))
    assert camera.grab(request(serial="CF-80-000123", part_type="CF-80")).png == first.png
    assert camera.grab(request(serial="CF-80-000124", part_type="CF-80")).png != first.png
    assert (
        RenderSource("visual", defect_rate=0.5, world_seed=8)
        .grab(request(serial="CF-80-000123", part_type="CF-80"))
        .png
        != first.png
    )


def test_it_sees_the_configured_share_of_parts_with_a_surface_defect() -> None:
    serials = [f"TF-12-{i:06d}" for i in range(4000)]
    defective = [part_seen_by_serial(s, world_seed=0, defect_rate=0.1)[1] for s in serials]
    share = sum(d is not None for d in defective) / len(serials)
    assert 0.085 < share < 0.115
    assert {d for d in defective if d} == set(SURFACE_DEFECTS)
    assert all(part_seen_by_serial(s, world_seed=0, defect_rate=0.0)[1] is None for s in serials[:200])
    assert all(part_seen_by_serial(s, world_seed=0, defect_rate=1.0)[1] for s in serials[:200])


def test_it_refuses_a_demo_world_defect_rate_outside_zero_to_one() -> None:
    source = camera_from_config("visual", {"TWINWEB_CAMERA_RENDER_DEFECT_RATE": "1.5"})
    assert not source.available
    with pytest.raises(ValueError, match="between 0 and 1"):
        RenderSource("visual", defect_rate=1.5)


# --- the watched folder ----------------------------------------------------------------------------------------


@pytest.fixture
def incoming(tmp_path: Path) -> Path:
    folder = tmp_path / "visual" / "incoming"
    folder.mkdir(parents=True)
    return folder


def watched(folder: Path, **kw: Any) -> FolderSource:
    return FolderSource("visual", folder, **{"poll_s": 0.05, "settle_s": 0.2, **kw})


class Grabber(threading.Thread):
    """A capture waiting for its image in the background, as the edge worker's task would."""

    def __init__(self, camera: Any, asked: FrameRequest) -> None:
        super().__init__(daemon=True)
        self.camera, self.asked = camera, asked
        self.outcome: Frame | CameraError | None = None
        self.start()

    def run(self) -> None:
        self.outcome = capture_for(self.asked, self.camera)


def test_it_takes_a_file_only_once_its_upload_has_finished(incoming: Path) -> None:
    data = png_of(1)
    grabber = Grabber(watched(incoming), request(timeout_s=10))
    with (incoming / "part.png").open("wb") as upload:  # an FTP upload that stalls half way
        upload.write(data[: len(data) // 2])
        upload.flush()
        time.sleep(1.0)
        assert grabber.is_alive(), f"took a half-written file: {grabber.outcome}"
        upload.write(data[len(data) // 2 :])
    grabber.join(10)
    assert isinstance(grabber.outcome, Frame), grabber.outcome
    assert grabber.outcome.png == data and grabber.outcome.meta["file"] == "part.png"
    assert not (incoming / "part.png").exists()
    assert (incoming / "processed" / f"{grabber.asked.capture_id}_part.png").read_bytes() == data


def test_it_ignores_a_temporary_upload_name_until_the_file_is_renamed(incoming: Path) -> None:
    camera = watched(incoming)
    (incoming / "part.png.part").write_bytes(png_of(2))
    (incoming / ".part.png.tmp-smb").write_bytes(png_of(2))
    with pytest.raises(CameraError, match=r"no complete image arrived .* within 0.6 s \(2 still being written"):
        camera.grab(request(timeout_s=0.6))
    os.rename(incoming / "part.png.part", incoming / "part.png")
    assert camera.grab(request()).png == png_of(2)


def test_it_matches_images_to_captures_in_arrival_order(incoming: Path) -> None:
    camera = watched(incoming)
    now = time.time()
    for name, seed, age in (("b-second.png", 2, 5), ("a-third.png", 3, 2), ("c-first.png", 1, 10)):
        (incoming / name).write_bytes(png_of(seed))
        os.utime(incoming / name, (now - age, now - age))
    assert [camera.grab(request(f"SN-{i}")).png for i in range(3)] == [png_of(1), png_of(2), png_of(3)]


def test_it_matches_an_image_to_its_capture_by_the_serial_in_the_file_name(incoming: Path) -> None:
    camera = watched(incoming, name_pattern="{serial}_*.png")
    (incoming / "SN-2_cam1.png").write_bytes(png_of(2))
    (incoming / "SN-1_cam1.png").write_bytes(png_of(1))
    (incoming / "SN-1_cam1.xml").write_text("<meta/>")  # not an image of the pattern: left alone
    first = camera.grab(request("SN-1"))
    assert first.png == png_of(1) and first.meta["matched_by"] == "serial"
    assert camera.grab(request("SN-2")).png == png_of(2)
    with pytest.raises(CameraError, match=r"no image for serial SN-3 \(SN-3_\*\.png\) arrived"):
        camera.grab(request("SN-3", timeout_s=0.5))
    assert (incoming / "SN-1_cam1.xml").exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"GIF89a this is not what the camera should send" * 20, "not an image"),
        (png_of(1)[:400] + bytes(2000) + png_of(1)[-12:], "corrupt"),
        (colour_png(), "wrong number of channels"),
        (encode_png(np.zeros((480, 640), np.uint8)), "wrong image size: expected 512x512, got 640x480"),
        (png_declaring(30000, 30000, idat_bytes=200_000), "30000x30000 pixels"),
    ],
)
def test_it_moves_a_bad_image_to_rejected_with_its_reason_and_the_capture_gets_an_error(
    incoming: Path, content: bytes, reason: str
) -> None:
    (incoming / "bad.png").write_bytes(content)
    asked = request()
    outcome = capture_for(asked, watched(incoming))
    assert isinstance(outcome, CameraError) and reason in str(outcome) and "bad.png" in str(outcome)
    rejected = incoming / "rejected" / f"{asked.capture_id}_bad.png"
    assert rejected.read_bytes() == content
    assert reason in Path(f"{rejected}.reason.txt").read_text()
    assert not (incoming / "bad.png").exists()


def test_it_converts_a_camera_jpeg_to_the_png_it_will_inspect(incoming: Path) -> None:
    image = render_part("CF-80", seed=6).image
    (incoming / "shot.jpg").write_bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    frame = watched(incoming).grab(request())
    assert frame.png.startswith(b"\x89PNG") and frame.meta["format"] == "jpeg"
    assert np.abs(gray(frame).astype(np.int16) - image.astype(np.int16)).mean() < 3.0


def test_it_refuses_a_truncated_image_once_its_upload_has_stalled_too_long(incoming: Path) -> None:
    (incoming / "stalled.png").write_bytes(png_of(1)[:5000])
    with pytest.raises(CameraError, match="truncated PNG"):
        watched(incoming, incomplete_grace_s=0.5).grab(request())
    assert list((incoming / "rejected").glob("*_stalled.png"))


def test_it_times_out_on_an_empty_folder_with_a_clear_reason(incoming: Path) -> None:
    started = time.monotonic()
    outcome = capture_for(request(timeout_s=0.5), watched(incoming))
    assert isinstance(outcome, CameraError)
    assert str(outcome) == f"no complete image arrived in {incoming} within 0.5 s"
    assert 0.5 <= time.monotonic() - started < 2.0


def test_it_gives_a_redelivered_capture_the_image_it_took_the_first_time(incoming: Path) -> None:
    camera = watched(incoming)
    (incoming / "first.png").write_bytes(png_of(1))
    (incoming / "second.png").write_bytes(png_of(2))
    os.utime(incoming / "first.png", (time.time() - 5, time.time() - 5))
    asked = request()
    assert camera.grab(asked).png == png_of(1)
    again = camera.grab(asked)
    assert again.png == png_of(1) and again.meta["redelivered"] is True
    assert (incoming / "second.png").exists()


def test_it_does_not_pair_a_stale_image_with_a_later_part(incoming: Path) -> None:
    (incoming / "yesterday.png").write_bytes(png_of(1))
    os.utime(incoming / "yesterday.png", (time.time() - 3600, time.time() - 3600))
    (incoming / "now.png").write_bytes(png_of(2))
    assert watched(incoming, max_age_s=60).grab(request()).png == png_of(2)
    [note] = (incoming / "rejected").glob("*yesterday.png.reason.txt")
    assert note.read_text().startswith("stale: written 3600 s ago")


def test_it_says_why_a_missing_folder_is_unavailable(tmp_path: Path) -> None:
    camera = watched(tmp_path / "nowhere")
    assert not camera.available
    assert (
        camera.reason
        == f"watched folder {tmp_path / 'nowhere'} does not exist (create it, or mount the camera's share there)"
    )
    with pytest.raises(CameraError, match="does not exist"):
        camera.grab(request())


# --- an OpenCV device or stream --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MJPG video of three rendered parts (seeds 0, 1, 2), written by OpenCV's own FFmpeg."""
    path = tmp_path_factory.mktemp("video") / "parts.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (512, 512), isColor=True)
    assert writer.isOpened()
    for seed in range(3):
        writer.write(cv2.cvtColor(render_part("CF-80", seed=seed).image, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def close_to(frame: Frame, seed: int) -> bool:
    """The frame shows this seed's part (MJPG is lossy: compared by mean absolute difference)."""
    diff = np.abs(gray(frame).astype(np.int16) - render_part("CF-80", seed=seed).image.astype(np.int16))
    return float(diff.mean()) < 3.0


def test_it_reads_a_video_file_frame_by_frame_as_grayscale_and_says_when_it_ends(video: Path) -> None:
    camera = OpenCVSource("visual", str(video))
    try:
        assert camera.available, camera.reason
        assert "video file" in camera.reason
        frames = [camera.grab(request()) for _ in range(3)]
        assert [f.meta["frame_index"] for f in frames] == [1, 2, 3]
        assert all(close_to(f, seed) for f, seed in zip(frames, range(3)))
        assert frames[0].meta["converted"] == ["colour to grayscale"]
        header = read_header(frames[0].png)
        assert header is not None and (header.width, header.height, header.bit_depth, header.channels) == (
            512,
            512,
            8,
            1,
        )
        outcome = capture_for(request(), camera)
        assert isinstance(outcome, CameraError) and "has no more frames (all 3 were used)" in str(outcome)
    finally:
        camera.close()


def test_it_refuses_frames_of_the_wrong_size_from_a_video(tmp_path: Path) -> None:
    path = tmp_path / "small.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (320, 240), isColor=False)
    writer.write(np.full((240, 320), 128, np.uint8))
    writer.release()
    with (
        OpenCVSource("visual", str(path)) as camera,
        pytest.raises(CameraError, match="wrong image size: expected 512x512, got 320x240"),
    ):
        camera.grab(request())


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("/no/such/camera.avi", "no such video file or device: /no/such/camera.avi"),
        (57, "no video device /dev/video57"),
        (
            "videotestsrc ! video/x-raw,format=GRAY8 ! appsink drop=1",
            "no GStreamer support" if not has_gstreamer() else "OpenCV could not open the GStreamer pipeline",
        ),
    ],
)
def test_it_says_why_a_device_or_stream_cannot_be_opened(source: int | str, reason: str) -> None:
    if has_gstreamer() and isinstance(source, str) and "!" in source:
        source = "no_such_element_xyz ! appsink"
    with OpenCVSource("visual", source, reconnect_s=0.1) as camera:
        assert not camera.available
        assert reason in camera.reason
        outcome = capture_for(request(timeout_s=0.2), camera)
        assert isinstance(outcome, CameraError) and reason in str(outcome)


class MjpegCamera:
    """A live camera on the network: an MJPEG-over-HTTP stream (as many IP cameras serve) at 25 frames per second,
    showing whichever part `show()` last put in front of it."""

    def __init__(self) -> None:
        self.jpeg = self._jpeg(0)
        self.paused = threading.Event()
        self.stopped = threading.Event()
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not camera.stopped.is_set():
                        if not camera.paused.is_set():
                            jpeg = camera.jpeg
                            self.wfile.write(
                                b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                                + jpeg
                                + b"\r\n"
                            )
                        time.sleep(0.04)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/video.mjpg"

    @staticmethod
    def _jpeg(seed: int) -> bytes:
        return cv2.imencode(".jpg", render_part("CF-80", seed=seed).image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()

    def show(self, seed: int) -> None:
        self.jpeg = self._jpeg(seed)

    def close(self) -> None:
        self.stopped.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def live_camera() -> Iterator[MjpegCamera]:
    camera = MjpegCamera()
    yield camera
    camera.close()


def test_it_grabs_what_a_live_stream_shows_now_not_a_frame_buffered_before_the_request(
    live_camera: MjpegCamera,
) -> None:
    with OpenCVSource("visual", live_camera.url, open_timeout_s=3) as camera:
        assert camera.available, camera.reason
        assert "stream" in camera.reason
        time.sleep(0.6)  # the stream runs on while no capture asks: frames of part 0 go by
        live_camera.show(7)
        time.sleep(0.3)
        frame = camera.grab(request(timeout_s=3))
        assert close_to(frame, 7), "returned a stale frame"
        assert frame.meta["frame_index"] > 5


def test_it_reports_a_live_stream_that_stopped_sending_frames(live_camera: MjpegCamera) -> None:
    with OpenCVSource("visual", live_camera.url, open_timeout_s=2, reconnect_s=0.2) as camera:
        assert camera.grab(request(timeout_s=3))
        live_camera.paused.set()
        time.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(
            CameraError,
            match=r"no new frame from the stream http://127\.0\.0\.1:\d+/video\.mjpg "
            r"within 0\.8 s",
        ):
            camera.grab(request(timeout_s=0.8))
        assert time.monotonic() - started < 2.0
        live_camera.paused.clear()
        assert close_to(camera.grab(request(timeout_s=5)), 0)


# --- the HTTP upload endpoint ----------------------------------------------------------------------------------


@pytest.fixture
def upload_server() -> Iterator[UploadServer]:
    server = UploadServer("127.0.0.1", 0, max_bytes=1_000_000)
    server.start()
    yield server
    server.stop()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "image/png", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_it_queues_a_pushed_png_and_gives_it_to_the_next_capture(upload_server: UploadServer) -> None:
    camera = HttpUploadSource("visual", upload_server)
    assert camera.available and camera.reason.startswith(f"cameras POST images to {upload_server.url}/stations/visual")
    status, answer = post(f"{upload_server.url}/stations/visual/images", png_of(4))
    assert status == 202 and answer["queued"] is True and answer["waiting"] == 1
    frame = camera.grab(request())
    assert frame.png == png_of(4) and frame.meta["remote"] == "127.0.0.1"
    assert upload_server.queued("visual") == 0


def test_it_hands_a_capture_the_image_pushed_while_it_waits(upload_server: UploadServer) -> None:
    grabber = Grabber(HttpUploadSource("visual", upload_server), request(timeout_s=5))
    time.sleep(0.3)
    assert post(f"{upload_server.url}/stations/visual/images", png_of(5))[0] == 202
    grabber.join(5)
    assert isinstance(grabber.outcome, Frame) and grabber.outcome.png == png_of(5)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (
            png_declaring(30000, 30000, idat_bytes=200_000),
            "image/png",
            400,
            "the PNG header declares 30000x30000 pixels",
        ),
        (colour_png(), "image/png", 400, "wrong number of channels: expected 1 (grayscale camera), got 3 (RGB)"),
        (
            encode_png(np.zeros((100, 100), np.uint8)),
            "image/png",
            400,
            "wrong image size: expected 512x512, got 100x100",
        ),
        (png_of(1)[: len(png_of(1)) // 2], "image/png", 400, "truncated PNG"),
        (b"%PDF-1.7 this is a data sheet, not an image" * 30, "application/octet-stream", 415, "not an image"),
        (b"{}", "application/json", 415, "Content-Type application/json is not an image"),
        (bytes(1_200_000), "image/png", 413, "image too large: 1200000 bytes > limit 1000000"),
    ],
)
def test_it_refuses_a_bad_upload_with_the_reason_and_queues_nothing(
    upload_server: UploadServer, body: bytes, content_type: str, status: int, reason: str
) -> None:
    HttpUploadSource("visual", upload_server)
    answer = post(f"{upload_server.url}/stations/visual/images", body, {"Content-Type": content_type})
    assert answer[0] == status and reason in answer[1]["error"], answer
    assert upload_server.queued("visual") == 0


def test_it_times_out_when_no_image_is_pushed(upload_server: UploadServer) -> None:
    outcome = capture_for(request(timeout_s=0.4), HttpUploadSource("visual", upload_server))
    assert isinstance(outcome, CameraError)
    assert str(outcome) == f"no image arrived at {upload_server.url}/stations/visual/images within 0.4 s"


def test_it_matches_a_pushed_image_to_its_capture_by_serial_raw_or_multipart(upload_server: UploadServer) -> None:
    camera = HttpUploadSource("visual", upload_server)
    url = f"{upload_server.url}/stations/visual/images"
    assert post(url, png_of(2), {"X-Serial": "SN-2"})[0] == 202
    boundary = "cam-boundary"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="serial"\r\n\r\nSN-1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="shot.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png_of(1)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, answer = post(url, form, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 202 and answer["serial"] == "SN-1"
    assert camera.grab(request("SN-1")).png == png_of(1)
    with pytest.raises(CameraError, match=r"within 0.3 s \(1 waiting for other serials\)"):
        camera.grab(request("SN-3", timeout_s=0.3))
    assert camera.grab(request("SN-2")).png == png_of(2)


def test_it_takes_uploads_only_with_the_camera_token_when_one_is_set() -> None:
    server = UploadServer("127.0.0.1", 0, token="s3cret-camera-token")
    server.start()
    try:
        HttpUploadSource("visual", server)
        url = f"{server.url}/stations/visual/images"
        assert post(url, png_of(1)) == (401, {"error": "missing or wrong camera token (Authorization: Bearer ...)"})
        assert post(url, png_of(1), {"Authorization": "Bearer wrong"})[0] == 401
        assert server.queued("visual") == 0
        assert post(url, png_of(1), {"Authorization": "Bearer s3cret-camera-token"})[0] == 202
    finally:
        server.stop()


def test_it_answers_404_for_a_station_that_takes_no_uploads(upload_server: UploadServer) -> None:
    HttpUploadSource("visual", upload_server)
    status, answer = post(f"{upload_server.url}/stations/dimensional/images", png_of(1))
    assert (status, answer["error"]) == (404, "station 'dimensional' takes no camera uploads on this device")


# --- choosing a source by configuration ------------------------------------------------------------------------


def test_it_picks_each_source_from_its_configuration_string(tmp_path: Path, video: Path) -> None:
    (tmp_path / "visual" / "incoming").mkdir(parents=True)
    environ = {
        "TWINWEB_CAMERA_VISUAL": f"folder:{tmp_path}/{{station}}/incoming",
        "TWINWEB_CAMERA_DIMENSIONAL": f"opencv:{video}",
        "TWINWEB_CAMERA_ST_20": "http",
        "TWINWEB_CAMERA_HTTP_PORT": "0",
        "TWINWEB_CAMERA_DEMO": "render",
    }
    cameras = Cameras(environ)
    try:
        kinds = {
            station: cameras.for_station(station) for station in ("visual", "dimensional", "ST-20", "demo", "unset")
        }
        assert {s: c.kind for s, c in kinds.items()} == {
            "visual": SourceKind.FOLDER,
            "dimensional": SourceKind.OPENCV,
            "ST-20": SourceKind.HTTP,
            "demo": SourceKind.RENDER,
            "unset": SourceKind.RENDER,
        }
        assert all(c.available for c in kinds.values()), [c.describe() for c in kinds.values()]
        assert isinstance(kinds["visual"], FolderSource) and kinds["visual"].folder == tmp_path / "visual" / "incoming"
        assert cameras.for_station("visual") is kinds["visual"]
        served = cameras.capture(request(station="demo", part_type="TF-12", render_seed=2))
        assert isinstance(served, Frame) and served.png == encode_png(render_part("TF-12", seed=2).image)
    finally:
        cameras.close()
    assert station_variable("ST-20") == "TWINWEB_CAMERA_ST_20"


def test_it_uses_the_default_source_for_a_station_without_its_own(tmp_path: Path) -> None:
    camera = camera_from_config("visual", {"TWINWEB_CAMERA_DEFAULT": f"folder:{tmp_path}/{{station}}/{{serial}}.png"})
    assert isinstance(camera, FolderSource)
    assert (camera.folder, camera.name_pattern) == (tmp_path / "visual", "{serial}.png")
    assert not camera.available and "does not exist" in camera.reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (
            "ftp://10.0.0.5/",
            (
                "TWINWEB_CAMERA_VISUAL='ftp://10.0.0.5/' is not a camera source; expected render, "
                "folder[:<path>], opencv:<device, file, URL or GStreamer pipeline> or http"
            ),
        ),
        ("opencv:", "TWINWEB_CAMERA_VISUAL='opencv:' is not a camera source"),
        ("folder:/srv/{serial}/x.png", "{serial} may appear only in the file-name pattern"),
    ],
)
def test_it_explains_a_configuration_it_cannot_use_and_every_capture_is_an_error(value: str, reason: str) -> None:
    camera = camera_from_config("visual", {"TWINWEB_CAMERA_VISUAL": value})
    assert not camera.available and reason in camera.reason
    outcome = capture_for(request(), camera)
    assert isinstance(outcome, CameraError) and reason in str(outcome)


def test_it_says_why_the_upload_endpoint_cannot_listen() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        camera = camera_from_config("visual", {"TWINWEB_CAMERA_VISUAL": "http", "TWINWEB_CAMERA_HTTP_PORT": str(port)})
        assert not camera.available
        assert f"cannot listen for camera uploads on 127.0.0.1:{port}" in camera.reason
        outcome = capture_for(request(), camera)
        assert isinstance(outcome, CameraError) and "cannot listen" in str(outcome)


def test_it_refuses_a_capture_sent_to_another_stations_camera() -> None:
    outcome = capture_for(request(station="dimensional"), RenderSource("visual"))
    assert isinstance(outcome, CameraError) and "sent to the camera of station 'visual'" in str(outcome)


def test_it_imports_without_the_server_or_an_inference_runtime_and_opens_nothing_at_import() -> None:
    import subprocess
    import sys

    heavy = ["django.db", "django.conf", "twinweb", "traceability", "inspection", "onnxruntime", "torch", "tensorrt"]
    code = (
        "import json, sys, threading\nimport edge_worker.cameras\n"
        f"print(json.dumps([[m for m in {heavy!r} if m in sys.modules], threading.active_count()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], 1]
