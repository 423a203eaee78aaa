"""One small interface for every camera source on the edge device.

    source = camera_from_config("visual", os.environ)       # render | folder | opencv | http, with a reason
    outcome = capture_for(FrameRequest(station="visual", serial="SN1", capture_id=cid, timeout_s=5), source)
    if isinstance(outcome, CameraError): ...                 # an inspection result with verdict "error", reason str(outcome)
    else: outcome.png                                        # the image as it will be inspected

A source that cannot give an image for a request (none arrived in time, the file is corrupt, the stream is down,
the source is misconfigured) raises `CameraError` with a reason an operator can act on. The caller turns it into an
inspection error with that reason: a missing or bad image never passes.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

log = logging.getLogger("edge_worker.cameras")

DEFAULT_TIMEOUT_S = 10.0


class SourceKind(str, enum.Enum):
    RENDER = "render"
    FOLDER = "folder"
    OPENCV = "opencv"
    HTTP = "http"
    UNAVAILABLE = "unavailable"


class View(str, enum.Enum):
    """How the station lights the part."""

    FRONT = "front"  # ring light from above: surface defects (scratch, dent, crack, burr)
    BACKLIT = "backlit"  # light table under the part: a black silhouette on white, for dimensions


class CameraError(RuntimeError):
    """No usable image for this request. The message is the reason, written for an operator."""

    @property
    def reason(self) -> str:
        return str(self)


@dataclass(frozen=True)
class FrameRequest:
    """What the capture command asks of a camera: the image of one part at one station.

    The part type, seed, defect, dimensions and view are for the demo renderer (a real camera ignores them); the
    renderer refuses a request without a part type, and draws the part its serial stands for when no seed is
    given (a capture command from the cell carries none: the cell's PLC does not know what the part looks like)."""

    station: str
    serial: str
    capture_id: uuid.UUID | str
    timeout_s: float = DEFAULT_TIMEOUT_S
    part_type: Any = None  # a part type code, or an edge_worker.vision.parts.PartTypeSpec (a drawing as data)
    render_seed: int | None = None
    defect: str | None = None
    dimensions_mm: Mapping[str, float] | None = None
    view: View | str = View.FRONT  # a string from a message is read as a View (an unknown one is an error)


@dataclass(frozen=True)
class Frame:
    """One image as it will be inspected: 8-bit grayscale PNG that passed the arrival checks."""

    png: bytes
    source: str  # which source gave it, e.g. "folder:/srv/cameras/visual/incoming"
    taken_at: dt.datetime  # UTC: when the camera wrote it (file time), sent it, or the frame was read
    meta: dict[str, Any] = field(default_factory=dict)  # file name, frame index, remote address, ...


class CameraSource(ABC):
    """A camera for one station. `available` and `reason` say honestly whether it can give images and why not."""

    kind: SourceKind

    def __init__(self, station: str) -> None:
        self.station = station

    @property
    def name(self) -> str:
        return self.kind.value

    @property
    @abstractmethod
    def available(self) -> bool: ...

    @property
    @abstractmethod
    def reason(self) -> str:
        """Why the source is unavailable, or what it is when it is available."""

    @abstractmethod
    def grab(self, request: FrameRequest) -> Frame:
        """The image for this request, within `request.timeout_s`; raises CameraError with the reason otherwise."""

    def close(self) -> None:
        """Release the device, the stream or the listening socket (idempotent)."""

    def describe(self) -> dict[str, Any]:
        return {"station": self.station, "source": self.name, "available": self.available, "reason": self.reason}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.station!r}: {self.name}>"


class UnavailableSource(CameraSource):
    """A station whose camera is misconfigured or missing: every grab is an inspection error with the reason."""

    kind = SourceKind.UNAVAILABLE

    def __init__(self, station: str, reason: str) -> None:
        super().__init__(station)
        self._reason = reason

    @property
    def available(self) -> bool:
        return False

    @property
    def reason(self) -> str:
        return self._reason

    def grab(self, request: FrameRequest) -> Frame:
        raise CameraError(f"no camera for station {self.station!r}: {self._reason}")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def capture_for(request: FrameRequest, source: CameraSource) -> Frame | CameraError:
    """The frame for this request, or the CameraError that explains why there is none. Never raises: an unexpected
    failure inside a source (a bug, an OS error) comes back as a CameraError too, so it becomes an inspection error
    rather than a crashed, redelivered task."""
    if request.station != source.station:
        return CameraError(f"capture for station {request.station!r} sent to the camera of station {source.station!r}")
    try:
        return source.grab(request)
    except CameraError as exc:
        log.warning("station %s, serial %s, capture %s: %s", request.station, request.serial, request.capture_id, exc)
        return exc
    except Exception as exc:  # a failure of the source itself: still an error result, never a silent pass
        log.exception("camera %r failed for capture %s", source, request.capture_id)
        return CameraError(f"camera source {source.name} failed: {type(exc).__name__}: {exc}")
