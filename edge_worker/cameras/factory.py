"""Which camera each station uses, from the environment (the edge device has no database).

    TWINWEB_CAMERA_<STATION>=render | folder[:<path>] | opencv:<source> | http
    TWINWEB_CAMERA_DEFAULT   the source of a station with no variable of its own (default: render, the demo)
    TWINWEB_CAMERA_RENDER_DEFECT_RATE, TWINWEB_CAMERA_RENDER_SEED
                             the demo world the renderer draws: the share of parts with a surface defect (0.1)
                             and the seed that, with each serial, decides how a part looks (0)

`<STATION>` is the station code in capitals, every other character than A-Z and 0-9 as `_` (station `visual` ->
TWINWEB_CAMERA_VISUAL, `ST-20` -> TWINWEB_CAMERA_ST_20); `{station}` in a folder path is the code itself. A value
that cannot be used gives a source whose `available` is False with the reason, and whose every grab is an
inspection error with that reason: a misconfigured station shows errors, never passes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from .base import (
    CameraError,
    CameraSource,
    Frame,
    FrameRequest,
    UnavailableSource,
    capture_for,
)
from .checks import MAX_IMAGE_BYTES
from .folder import DEFAULT_FOLDER, FolderSource, parse_folder_spec
from .http_upload import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    HttpUploadSource,
    UploadServer,
    acquire_server,
)
from .opencv_stream import OpenCVSource, parse_source
from .renderer import RenderSource

PREFIX = "TWINWEB_CAMERA_"
DEFAULT_SOURCE = "render"
SETTINGS = (
    "DEFAULT",
    "HTTP_HOST",
    "HTTP_PORT",
    "HTTP_TOKEN",
    "MAX_BYTES",
    "MAX_AGE_S",
    "RENDER_DEFECT_RATE",
    "RENDER_SEED",
    "TIMEOUT_S",
)
USAGE = "expected render, folder[:<path>], opencv:<device, file, URL or GStreamer pipeline> or http"


def station_variable(station: str) -> str:
    return PREFIX + re.sub(r"[^A-Z0-9]", "_", station.upper())


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(PREFIX + name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{PREFIX}{name}={raw!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{PREFIX}{name}={raw!r} is negative")
    return value


def camera_from_config(station: str, environ: Mapping[str, str]) -> CameraSource:
    """The camera source configured for a station; never raises (a bad setting gives an unavailable source)."""
    variable = station_variable(station)
    if variable[len(PREFIX) :] in SETTINGS:
        return UnavailableSource(station, f"station code {station!r} collides with the setting {variable}")
    configured = environ.get(variable)
    spec = (configured if configured is not None else environ.get(PREFIX + "DEFAULT", DEFAULT_SOURCE)).strip()
    origin = variable if configured is not None else f"{PREFIX}DEFAULT (no {variable})"
    kind, _, argument = spec.partition(":")
    kind = kind.strip().lower()
    try:
        max_bytes = int(_number(environ, "MAX_BYTES", MAX_IMAGE_BYTES))
        max_age_s = _number(environ, "MAX_AGE_S", 120.0)
        if kind == "render" and not argument:
            return RenderSource(
                station,
                defect_rate=_number(environ, "RENDER_DEFECT_RATE", 0.1),
                world_seed=int(_number(environ, "RENDER_SEED", 0)),
            )
        if kind == "folder":
            folder, pattern = parse_folder_spec(argument.strip() or DEFAULT_FOLDER, station)
            return FolderSource(station, folder, name_pattern=pattern, max_bytes=max_bytes, max_age_s=max_age_s)
        if kind == "opencv" and argument.strip():
            return OpenCVSource(station, parse_source(argument))
        if kind == "http" and not argument:
            host = environ.get(PREFIX + "HTTP_HOST", "").strip() or DEFAULT_HOST
            port = int(_number(environ, "HTTP_PORT", DEFAULT_PORT))
            token = environ.get(PREFIX + "HTTP_TOKEN", "").strip() or None
            try:
                server = acquire_server(host, port, token=token, max_bytes=max_bytes, max_age_s=max_age_s)
            except CameraError as exc:
                return HttpUploadSource(station, UploadServer(host, port), problem=str(exc))
            return HttpUploadSource(station, server)
    except ValueError as exc:
        return UnavailableSource(station, f"{origin}: {exc}")
    return UnavailableSource(station, f"{origin}={spec!r} is not a camera source; {USAGE}")


class Cameras:
    """The camera of every station this worker serves, created on first use and kept open (a stream stays
    connected, the upload endpoint listening) until `close()`."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = dict(environ)
        self._sources: dict[str, CameraSource] = {}
        self._lock = threading.Lock()

    def for_station(self, station: str) -> CameraSource:
        with self._lock:
            source = self._sources.get(station)
            if source is None:
                source = self._sources[station] = camera_from_config(station, self.environ)
            return source

    def capture(self, request: FrameRequest) -> Frame | CameraError:
        return capture_for(request, self.for_station(request.station))

    def describe(self) -> list[dict[str, object]]:
        with self._lock:
            sources = list(self._sources.values())
        return [source.describe() for source in sources]

    def close(self) -> None:
        with self._lock:
            sources, self._sources = list(self._sources.values()), {}
        for source in sources:
            source.close()
