"""Camera sources on the edge device, behind one small interface (`base.CameraSource`), chosen per station by
configuration (`factory.camera_from_config`): the demo renderer, a watched folder, an OpenCV device or stream, an
HTTP upload endpoint. Every image is checked on arrival (`checks.check_image`); a missing or bad one is a
`CameraError` with the reason, which the capture task reports as an inspection error."""

from .base import (
    CameraError,
    CameraSource,
    Frame,
    FrameRequest,
    SourceKind,
    UnavailableSource,
    View,
    capture_for,
)
from .checks import ImageRefused, check_image
from .factory import Cameras, camera_from_config, station_variable

__all__ = [
    "CameraError",
    "CameraSource",
    "Cameras",
    "Frame",
    "FrameRequest",
    "ImageRefused",
    "SourceKind",
    "UnavailableSource",
    "View",
    "camera_from_config",
    "capture_for",
    "check_image",
    "station_variable",
]
