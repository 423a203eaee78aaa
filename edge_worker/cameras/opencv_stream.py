"""A camera OpenCV can open with `cv2.VideoCapture`: a USB or CSI device, an RTSP or HTTP stream, a GStreamer
pipeline (a Jetson's CSI camera through `nvarguscamerasrc`), or a video file.

    opencv:0                                        /dev/video0 (V4L2)
    opencv:rtsp://user:pass@10.0.3.21:554/stream1   an IP camera (FFmpeg; TCP with OPENCV_FFMPEG_CAPTURE_OPTIONS)
    opencv:nvarguscamerasrc ! ... ! appsink drop=1  a GStreamer pipeline (any source containing "!")
    opencv:/data/recorded.avi                       a video file: one frame per capture, in order

The device is opened on first use (`available` or `grab`), never at import. A live source is read continuously by
a thread of its own that keeps only the newest frame, so a grab returns a frame that arrived after the capture was
asked for, never one that sat in a buffer while the part moved on; a stream that drops is reopened every
`reconnect_s` seconds, and a grab meanwhile waits up to its timeout and then says why there was no frame. A video
file is read in order, one frame per grab, and ends with an error once its frames are used up.

Frames are converted to 8-bit grayscale (colour to luminance, 16-bit to its high byte), encoded as PNG and checked
like every other camera image: the pipeline must deliver the inspection's image size.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_worker.vision.inspect import EXPECTED_SIZE

from .base import CameraError, CameraSource, Frame, FrameRequest, SourceKind, utc_now
from .checks import check_array

log = logging.getLogger("edge_worker.cameras.opencv")

URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def parse_source(spec: str) -> int | str:
    spec = spec.strip()
    return int(spec) if spec.isdigit() else spec


def has_gstreamer() -> bool:
    return bool(re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()))


def _redact(source: int | str) -> str:
    """The source as logs and reasons show it: a URL's password left out."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", str(source))


def to_gray8(frame: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A frame as 8-bit grayscale, with what was converted."""
    notes: list[str] = []
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    elif frame.ndim == 3:
        code = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}.get(frame.shape[2])
        if code is None:
            raise CameraError(f"frame with {frame.shape[2]} channels: not a camera image OpenCV can convert")
        frame = cv2.cvtColor(frame, code)
        notes.append("colour to grayscale")
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
        notes.append("16-bit to 8-bit")
    elif frame.dtype != np.uint8:
        raise CameraError(f"frame of {frame.dtype} pixels: expected 8- or 16-bit")
    return frame, notes


class OpenCVSource(CameraSource):
    kind = SourceKind.OPENCV

    def __init__(
        self,
        station: str,
        source: int | str,
        *,
        expected_size: tuple[int, int] | None = EXPECTED_SIZE,
        open_timeout_s: float = 10.0,
        reconnect_s: float = 2.0,
    ) -> None:
        super().__init__(station)
        self.source = source
        self.expected_size = expected_size
        self.open_timeout_s, self.reconnect_s = open_timeout_s, reconnect_s
        self.is_pipeline = isinstance(source, str) and "!" in source
        self.is_file = (
            isinstance(source, str) and not self.is_pipeline and not URL.match(source) and Path(source).is_file()
        )
        self._lock = threading.Lock()
        self._cap: Any = None  # cv2.VideoCapture while open (owned by the reader thread for a live source)
        self._problem: str | None = None
        self._tried_at: float | None = None
        self._index = 0
        # Live sources: the newest frame and when it arrived, guarded by _fresh.
        self._fresh = threading.Condition()
        self._latest: tuple[np.ndarray, float, int, dt.datetime] | None = None  # frame, arrival, index, UTC
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def name(self) -> str:
        return f"opencv:{_redact(self.source)}"

    @property
    def kind_of_source(self) -> str:
        if self.is_pipeline:
            return "GStreamer pipeline"
        if isinstance(self.source, int):
            return f"video device {self.source}"
        if self.is_file:
            return "video file"
        return "stream" if URL.match(str(self.source)) else "device"

    @property
    def available(self) -> bool:
        self._ensure_open()
        return self._problem is None

    @property
    def reason(self) -> str:
        self._ensure_open()
        if self._problem:
            return self._problem
        how = "read in order, one frame per capture" if self.is_file else "newest frame after each request"
        return f"OpenCV {self.kind_of_source} {_redact(self.source)} ({how})"

    # --- opening --------------------------------------------------------------------------------------------------

    def _open(self) -> Any:
        """A new opened cv2.VideoCapture, or CameraError with the reason it cannot be opened."""
        source = self.source
        if self.is_pipeline:
            if not has_gstreamer():
                raise CameraError(
                    "this OpenCV build has no GStreamer support, so it cannot open a pipeline (pip's "
                    "opencv-python-headless wheels have none: use JetPack's OpenCV on a Jetson)"
                )
            cap = cv2.VideoCapture(source, cv2.CAP_GSTREAMER)
        elif isinstance(source, int):
            device = Path(f"/dev/video{source}")
            if Path("/dev").is_dir() and not device.exists():
                raise CameraError(f"no video device {device} (is the camera plugged in, and the user in group video?)")
            cap = cv2.VideoCapture(source)
        elif URL.match(source):
            timeout_ms = int(self.open_timeout_s * 1000)
            cap = cv2.VideoCapture(
                source,
                cv2.CAP_FFMPEG,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms],
            )
        else:
            if not Path(source).exists():
                raise CameraError(f"no such video file or device: {source}")
            cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"OpenCV could not open the {self.kind_of_source} {_redact(source)}")
        return cap

    def _ensure_open(self) -> None:
        with self._lock:
            if self._cap is not None or self._reader is not None or self._stop.is_set():
                return
            if self._tried_at is not None and time.monotonic() - self._tried_at < self.reconnect_s:
                return  # failed a moment ago: don't hammer a missing device on every call
            self._tried_at = time.monotonic()
            try:
                cap = self._open()
            except CameraError as exc:
                self._problem = str(exc)
                log.warning("station %s: %s", self.station, exc)
                return
            self._problem = None
            if self.is_file:
                self._cap = cap
            else:
                self._reader = threading.Thread(
                    target=self._read_live, args=(cap,), daemon=True, name=f"camera-{self.station}"
                )
                self._reader.start()

    def _read_live(self, cap: Any) -> None:
        """Reads every frame of a live source and keeps the newest; reopens the stream when it drops."""
        while not self._stop.is_set():
            ok, frame = cap.read() if cap is not None else (False, None)
            if ok and frame is not None:
                with self._fresh:
                    self._index += 1
                    self._latest = (frame, time.monotonic(), self._index, utc_now())
                    self._problem = None
                    self._fresh.notify_all()
                continue
            if cap is not None:
                cap.release()
                cap = None
                self._problem = f"the {self.kind_of_source} {_redact(self.source)} stopped sending frames; reconnecting"
                log.warning("station %s: %s", self.station, self._problem)
            if self._stop.wait(self.reconnect_s):
                break
            try:
                cap = self._open()
            except CameraError as exc:
                self._problem = f"{exc}; retrying every {self.reconnect_s:g} s"
        if cap is not None:
            cap.release()

    # --- grabbing -------------------------------------------------------------------------------------------------

    def grab(self, request: FrameRequest) -> Frame:
        self._ensure_open()
        if self.is_file:
            return self._grab_from_file()
        if self._reader is None:
            raise CameraError(self._problem or f"the {self.kind_of_source} is closed")
        asked = time.monotonic()
        deadline = asked + max(request.timeout_s, 0.0)
        with self._fresh:
            while self._latest is None or self._latest[1] < asked:
                left = deadline - time.monotonic()
                if left <= 0:
                    why = f": {self._problem}" if self._problem else ""
                    raise CameraError(
                        f"no new frame from the {self.kind_of_source} {_redact(self.source)} "
                        f"within {request.timeout_s:g} s{why}"
                    )
                self._fresh.wait(left)
            frame, _, index, taken_at = self._latest
        return self._frame(frame, index, taken_at)

    def _grab_from_file(self) -> Frame:
        with self._lock:
            if self._cap is None:
                raise CameraError(self._problem or f"the video file {self.source} is closed")
            ok, frame = self._cap.read()
            if not ok or frame is None:
                raise CameraError(f"the video file {self.source} has no more frames (all {self._index} were used)")
            self._index += 1
            index = self._index
        return self._frame(frame, index, utc_now())

    def _frame(self, frame: np.ndarray, index: int, taken_at: dt.datetime) -> Frame:
        gray, notes = to_gray8(frame)
        checked = check_array(gray, expected_size=self.expected_size)
        return Frame(
            png=checked.png,
            source=self.name,
            taken_at=taken_at,
            meta={"frame_index": index, "converted": notes, "width": checked.width, "height": checked.height},
        )

    def close(self) -> None:
        self._stop.set()
        reader = self._reader
        if reader is not None:
            reader.join(timeout=self.open_timeout_s + self.reconnect_s)
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            self._reader = None
