"""An HTTP endpoint for cameras that push their images.

    POST /stations/<station>/images          body: the image (PNG, JPEG, BMP or TIFF), or multipart/form-data
    X-Serial: <serial>                       optional: the part the image shows (or a form field "serial")
    Authorization: Bearer <token>            required when TWINWEB_CAMERA_HTTP_TOKEN is set

Answers 202 when the image is queued for the station, and otherwise, with the reason in a JSON `error`:
400 (corrupt, truncated, wrong size, depth or channels, or a header declaring too many pixels), 401 (token),
404 (no such station here), 411 (no Content-Length), 413 (body over the byte limit), 415 (not an image),
503 (the station's queue is full: no capture has asked for its images). Every image is checked on arrival with
the same checks as every other source, before it is queued; a refused image is never queued.

Matching: a capture takes the oldest queued image that carries its serial, else the oldest that carries none;
an image for another serial waits for its own capture. An image no capture asked for within `max_age_s` is
dropped (and logged) rather than paired with a later part.

One server (one port) serves every station configured `http`; it listens on TWINWEB_CAMERA_HTTP_HOST (127.0.0.1
unless set) and TWINWEB_CAMERA_HTTP_PORT. It runs in a thread of the edge worker's process: stdlib
`http.server`, a thread per connection, each with a socket timeout.
"""

from __future__ import annotations

import collections
import datetime as dt
import email.parser
import email.policy
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edge_worker.vision.inspect import EXPECTED_SIZE

from .base import CameraError, CameraSource, Frame, FrameRequest, SourceKind, utc_now
from .checks import MAX_IMAGE_BYTES, CheckedImage, ImageRefused, Problem, check_image

log = logging.getLogger("edge_worker.cameras.http")

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
PATH = re.compile(r"^/stations/([A-Za-z0-9_.\-]{1,40})/images/?$")
ACCEPTED_TYPES = (
    "image/png",
    "image/jpeg",
    "image/bmp",
    "image/tiff",
    "application/octet-stream",
    "multipart/form-data",
)
STATUS_OF_PROBLEM = {
    Problem.FORMAT: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    Problem.BYTES: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    Problem.CONTENT: HTTPStatus.BAD_REQUEST,
}
DRAIN_LIMIT = 64 * 1024 * 1024  # an oversized body up to this is read and dropped, so the camera hears the 413


@dataclass(frozen=True)
class Upload:
    image: CheckedImage
    serial: str | None
    received_at: dt.datetime
    arrived: float  # monotonic
    remote: str


class Refused(Exception):
    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class UploadServer:
    """The listening socket and, per station, the queue of images waiting for their capture."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        token: str | None = None,
        max_bytes: int = MAX_IMAGE_BYTES,
        expected_size: tuple[int, int] | None = EXPECTED_SIZE,
        max_queued: int = 8,
        max_age_s: float = 120.0,
        socket_timeout_s: float = 15.0,
    ) -> None:
        self.host, self.port, self.token = host, port, token or None
        self.max_bytes, self.expected_size = max_bytes, expected_size
        self.max_queued, self.max_age_s, self.socket_timeout_s = max_queued, max_age_s, socket_timeout_s
        self._queues: dict[str, collections.deque[Upload]] = {}
        self._changed = threading.Condition()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self._httpd.server_address[1]) if self._httpd else (self.host, self.port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def listening(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def open_to_network(self) -> bool:
        try:
            return not ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host != "localhost"

    def start(self) -> None:
        """Listen (raises OSError when the port is taken or the address is not this device's)."""
        if self._httpd is not None:
            return
        handler = type("Handler", (_Handler,), {"uploads": self, "timeout": self.socket_timeout_s})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            daemon=True,
            name=f"camera-http-{self.address[1]}",
        )
        self._thread.start()
        if self.open_to_network and not self.token:
            log.warning(
                "camera upload endpoint %s is open to the network without TWINWEB_CAMERA_HTTP_TOKEN: any host "
                "that reaches it can push images",
                self.url,
            )

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    # --- the stations' queues ----------------------------------------------------------------------------------

    def register(self, station: str) -> None:
        with self._changed:
            self._queues.setdefault(station, collections.deque())

    def unregister(self, station: str) -> None:
        with self._changed:
            self._queues.pop(station, None)

    @property
    def stations(self) -> list[str]:
        with self._changed:
            return sorted(self._queues)

    def queued(self, station: str) -> int:
        with self._changed:
            return len(self._queues.get(station, ()))

    def _drop_stale(self, station: str, queue: collections.deque[Upload]) -> None:
        if not self.max_age_s:
            return
        now = time.monotonic()
        for upload in [u for u in queue if now - u.arrived > self.max_age_s]:
            queue.remove(upload)
            log.warning(
                "station %s: dropped an image from %s (serial %s) that no capture asked for within %.0f s",
                station,
                upload.remote,
                upload.serial or "none",
                self.max_age_s,
            )

    def put(self, station: str, upload: Upload) -> int:
        with self._changed:
            queue = self._queues.get(station)
            if queue is None:
                raise Refused(HTTPStatus.NOT_FOUND, f"station {station!r} takes no camera uploads on this device")
            self._drop_stale(station, queue)
            if len(queue) >= self.max_queued:
                raise Refused(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    f"station {station!r} already has {len(queue)} images waiting for their captures",
                )
            queue.append(upload)
            self._changed.notify_all()
            return len(queue)

    def take(self, station: str, serial: str, timeout_s: float) -> Upload:
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._changed:
            while True:
                queue = self._queues.get(station)
                if queue is None:
                    raise CameraError(f"station {station!r} takes no camera uploads (its source was closed)")
                self._drop_stale(station, queue)
                chosen = next((u for u in queue if u.serial == serial), None) or next(
                    (u for u in queue if u.serial is None), None
                )
                if chosen is not None:
                    queue.remove(chosen)
                    return chosen
                left = deadline - time.monotonic()
                if left <= 0:
                    others = f" ({len(queue)} waiting for other serials)" if queue else ""
                    raise CameraError(
                        f"no image arrived at {self.url}/stations/{station}/images within {timeout_s:g} s{others}"
                    )
                self._changed.wait(left)

    # --- one request -------------------------------------------------------------------------------------------

    def admit(self, path: str, headers: Any) -> tuple[str, int]:
        """Checks what the request line and headers say, before the body is read: (station, content length)."""
        match = PATH.match(path.split("?", 1)[0])
        if not match:
            raise Refused(HTTPStatus.NOT_FOUND, "post images to /stations/<station>/images")
        station = match.group(1)
        if self.token:
            given = headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                raise Refused(HTTPStatus.UNAUTHORIZED, "missing or wrong camera token (Authorization: Bearer ...)")
        with self._changed:
            if station not in self._queues:
                raise Refused(HTTPStatus.NOT_FOUND, f"station {station!r} takes no camera uploads on this device")
        content_type = headers.get_content_type() if headers.get("Content-Type") else "application/octet-stream"
        if content_type not in ACCEPTED_TYPES:
            raise Refused(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type {content_type} is not an image; send one of {', '.join(ACCEPTED_TYPES)}",
            )
        if headers.get("Transfer-Encoding") or headers.get("Content-Length") is None:
            raise Refused(HTTPStatus.LENGTH_REQUIRED, "send the image with a Content-Length (chunked is not accepted)")
        try:
            length = int(headers["Content-Length"])
        except ValueError:
            raise Refused(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
        if length < 0:
            raise Refused(HTTPStatus.BAD_REQUEST, "Content-Length is negative")
        if length > self.max_bytes + 64 * 1024:  # room for a multipart envelope around a largest image
            raise Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"image too large: {length} bytes > limit {self.max_bytes}"
            )
        return station, length

    def accept(self, station: str, body: bytes, headers: Any, remote: str) -> tuple[Upload, int]:
        data, serial = _image_of(body, headers)
        try:
            checked = check_image(data, expected_size=self.expected_size, max_bytes=self.max_bytes)
        except ImageRefused as exc:
            raise Refused(STATUS_OF_PROBLEM[exc.problem], str(exc)) from None
        upload = Upload(image=checked, serial=serial, received_at=utc_now(), arrived=time.monotonic(), remote=remote)
        return upload, self.put(station, upload)


def _image_of(body: bytes, headers: Any) -> tuple[bytes, str | None]:
    """The image bytes and the serial from a raw body or a multipart form (the first file part, field "serial")."""
    serial = (headers.get("X-Serial") or "").strip() or None
    if headers.get_content_type() != "multipart/form-data":
        return body, serial
    envelope = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(envelope + body)
    image: bytes | None = None
    for part in message.iter_parts() if message.is_multipart() else []:
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        if part.get_param("name", header="content-disposition") == "serial" and not part.get_filename():
            serial = serial or payload.decode("utf-8", "replace").strip() or None
        elif image is None and (part.get_filename() or part.get_content_maintype() == "image"):
            image = payload
    if image is None:
        raise Refused(HTTPStatus.BAD_REQUEST, "the multipart form has no file part with the image")
    return image, serial


class _Handler(BaseHTTPRequestHandler):
    uploads: UploadServer
    protocol_version = "HTTP/1.1"
    server_version = "TwinWebCamera/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="twinweb-camera"')
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, refused: Refused) -> None:
        log.warning(
            "camera upload from %s to %s refused (%d): %s", self.client_address[0], self.path, refused.status, refused
        )
        self._reply(refused.status, {"error": str(refused)})

    def handle_expect_100(self) -> bool:
        # A camera that asks first hears a refusal before it sends the body.
        try:
            self.uploads.admit(self.path, self.headers)
        except Refused as refused:
            self.close_connection = True
            self._refuse(refused)
            return False
        return super().handle_expect_100()

    def do_POST(self) -> None:
        try:
            station, length = self.uploads.admit(self.path, self.headers)
        except Refused as refused:
            self.close_connection = True
            self._drain()
            self._refuse(refused)
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            self._refuse(Refused(HTTPStatus.BAD_REQUEST, f"body ended after {len(body)} of {length} bytes"))
            return
        try:
            upload, waiting = self.uploads.accept(station, body, self.headers, self.client_address[0])
        except Refused as refused:
            self._refuse(refused)
            return
        self._reply(
            HTTPStatus.ACCEPTED,
            {
                "queued": True,
                "station": station,
                "serial": upload.serial,
                "format": upload.image.format,
                "sha256": hashlib.sha256(upload.image.png).hexdigest(),
                "waiting": waiting,
            },
        )

    def _drain(self) -> None:
        """Reads and drops a refused body of a sane size, so that the camera reads the answer rather than a reset."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return
        if 0 < length <= DRAIN_LIMIT:
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:
                    break
                length -= len(chunk)

    def do_GET(self) -> None:
        self._reply(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": "POST images to /stations/<station>/images", "stations": self.uploads.stations},
        )

    do_PUT = do_DELETE = do_GET


class HttpUploadSource(CameraSource):
    kind = SourceKind.HTTP

    def __init__(self, station: str, server: UploadServer, *, problem: str | None = None) -> None:
        super().__init__(station)
        self.server = server
        self._problem = problem
        self._closed = False
        if problem is None:
            server.register(station)

    @property
    def name(self) -> str:
        return f"http:{self.server.url}/stations/{self.station}/images"

    @property
    def available(self) -> bool:
        return self._problem is None and not self._closed and self.server.listening

    @property
    def reason(self) -> str:
        if self._problem:
            return self._problem
        if self._closed or not self.server.listening:
            return f"the upload endpoint {self.server.url} is not listening"
        auth = "with a camera token" if self.server.token else "without a token"
        if self.server.open_to_network and not self.server.token:
            auth += " (open to the network: set TWINWEB_CAMERA_HTTP_TOKEN)"
        return f"cameras POST images to {self.server.url}/stations/{self.station}/images, {auth}"

    def grab(self, request: FrameRequest) -> Frame:
        if not self.available:
            raise CameraError(self.reason)
        upload = self.server.take(self.station, request.serial, request.timeout_s)
        return Frame(
            png=upload.image.png,
            source=self.name,
            taken_at=upload.received_at,
            meta={
                "remote": upload.remote,
                "serial": upload.serial,
                "format": upload.image.format,
                "matched_by": "serial" if upload.serial else "arrival order",
            },
        )

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._problem is None:
                self.server.unregister(self.station)
                release_server(self.server)


# --- one server per address, shared by the stations that use it -----------------------------------------------

_servers: dict[tuple[str, int], tuple[UploadServer, int]] = {}
_servers_lock = threading.Lock()


def acquire_server(host: str, port: int, **options: Any) -> UploadServer:
    """The running server on host:port (started on first use); raises CameraError when it cannot listen."""
    with _servers_lock:
        if (host, port) in _servers:
            server, users = _servers[(host, port)]
            _servers[(host, port)] = (server, users + 1)
            return server
        server = UploadServer(host, port, **options)
        try:
            server.start()
        except OSError as exc:
            raise CameraError(f"cannot listen for camera uploads on {host}:{port}: {exc}") from None
        _servers[(host, port)] = (server, 1)
        return server


def release_server(server: UploadServer) -> None:
    with _servers_lock:
        for key, (known, users) in list(_servers.items()):
            if known is server:
                if users > 1:
                    _servers[key] = (known, users - 1)
                    return
                del _servers[key]
                break
    server.stop()
