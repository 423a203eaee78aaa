"""A watched folder: smart cameras drop their images over FTP or SMB into one folder per station.

    folder:/srv/cameras/{station}/incoming                    the oldest complete file is this part's image (FIFO)
    folder:/srv/cameras/{station}/incoming/{serial}_*.png     the file whose name carries this part's serial

Matching. Without `{serial}` in the file-name pattern, images are matched to captures in arrival order: the oldest
complete file (by modification time, then name) goes to the next capture. With `{serial}`, a capture takes only a
file whose name matches the pattern with its own serial; files of other serials wait for their own captures.

A file is complete when it is not a temporary upload name (dot-files, `*.part`, `*.filepart`, `*.partial`,
`*.tmp`, `*~`) and its size and modification time have not changed for `settle_s` seconds. A PNG or JPEG that is
still empty or has no end marker is taken for an upload in progress for `incomplete_grace_s` more seconds, then
refused as truncated.

What happens to each file: a good one moves to `processed/<capture id>_<name>` (a redelivered capture finds it
there again and gets the same image), a bad one to `rejected/<capture id>_<name>` with `<name>.reason.txt` beside it
and the capture gets an inspection error with that reason. A file older than `max_age_s` (by its modification time:
keep the camera's and the device's clocks in step) was asked for by no capture; it moves to `rejected/` as stale
rather than being paired with a later part. Both folders keep the newest `keep` files.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from edge_worker.vision.inspect import EXPECTED_SIZE

from .base import CameraError, CameraSource, Frame, FrameRequest, SourceKind, utc_now
from .checks import MAX_IMAGE_BYTES, ImageRefused, check_image, looks_incomplete

log = logging.getLogger("edge_worker.cameras.folder")

DEFAULT_FOLDER = "/srv/cameras/{station}/incoming"
TEMPORARY_SUFFIXES = (".part", ".filepart", ".partial", ".tmp", ".crdownload", "~")
REASON_SUFFIX = ".reason.txt"
PROCESSED, REJECTED = "processed", "rejected"


def parse_folder_spec(spec: str, station: str) -> tuple[Path, str]:
    """`/srv/cameras/{station}/incoming[/name-pattern]` -> (folder, file-name pattern). The last part is a pattern
    when it holds `{serial}`, `*` or `?`."""
    path = (spec or DEFAULT_FOLDER).replace("{station}", station)
    head, _, last = path.rstrip("/").rpartition("/")
    if "{serial}" in last or "*" in last or "?" in last:
        return Path(head or "/"), last
    if "{serial}" in path:
        raise ValueError(f"{{serial}} may appear only in the file-name pattern, the last part of {spec!r}")
    return Path(path), "*"


def _pattern_regex(pattern: str, serial: str | None) -> re.Pattern[str]:
    """`{serial}_*.png` -> a regex; `*` any characters, `?` one; the serial matched literally (any, when None)."""
    out = []
    for i, piece in enumerate(pattern.split("{serial}")):
        if i:
            out.append(re.escape(serial) if serial is not None else ".+")
        out.extend(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in piece)
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@dataclass
class _Seen:
    signature: tuple[int, int]  # size, mtime_ns
    since: float  # monotonic time the file was first seen with this signature


class FolderSource(CameraSource):
    kind = SourceKind.FOLDER

    def __init__(
        self,
        station: str,
        folder: Path | str,
        *,
        name_pattern: str = "*",
        poll_s: float = 0.1,
        settle_s: float = 0.5,
        incomplete_grace_s: float = 10.0,
        max_age_s: float = 120.0,
        keep: int = 1000,
        max_bytes: int = MAX_IMAGE_BYTES,
        expected_size: tuple[int, int] | None = EXPECTED_SIZE,
    ) -> None:
        super().__init__(station)
        self.folder = Path(folder)
        self.name_pattern = name_pattern
        self.by_serial = "{serial}" in name_pattern
        self.poll_s, self.settle_s, self.incomplete_grace_s = poll_s, settle_s, incomplete_grace_s
        self.max_age_s, self.keep, self.max_bytes, self.expected_size = max_age_s, keep, max_bytes, expected_size
        self._any = _pattern_regex(name_pattern, None)
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"folder:{self.folder / self.name_pattern if self.name_pattern != '*' else self.folder}"

    @property
    def available(self) -> bool:
        return self._problem() is None

    @property
    def reason(self) -> str:
        problem = self._problem()
        if problem:
            return problem
        matching = f"by the serial in the file name ({self.name_pattern})" if self.by_serial else "in arrival order"
        return f"watched folder {self.folder}: images matched to captures {matching}"

    def _problem(self) -> str | None:
        if not self.folder.is_dir():
            return f"watched folder {self.folder} does not exist (create it, or mount the camera's share there)"
        if not os.access(self.folder, os.R_OK | os.W_OK | os.X_OK):
            return f"watched folder {self.folder} is not readable and writable by this user (uid {os.getuid()})"
        return None

    # --- grabbing -------------------------------------------------------------------------------------------------

    def grab(self, request: FrameRequest) -> Frame:
        with self._lock:
            earlier = self._earlier_outcome(request)
            if earlier is not None:
                return earlier
            mine = _pattern_regex(self.name_pattern, request.serial)
            deadline = time.monotonic() + max(request.timeout_s, 0.0)
            while True:
                problem = self._problem()
                if problem:
                    raise CameraError(problem)
                waiting: list[str] = []
                for path in self._complete_files(waiting):
                    if self._is_stale(path):
                        continue
                    if not mine.match(path.name):
                        continue
                    frame = self._take(path, request, waiting)
                    if frame is not None:
                        return frame
                if time.monotonic() >= deadline:
                    raise CameraError(self._timeout_reason(request, waiting))
                time.sleep(self.poll_s)

    def _complete_files(self, waiting: list[str]) -> list[Path]:
        """Files in the folder that match the pattern and have stopped changing, oldest first."""
        now = time.monotonic()
        found: list[tuple[int, str, Path]] = []
        present: set[str] = set()
        try:
            entries = list(os.scandir(self.folder))
        except OSError as exc:
            raise CameraError(f"cannot list watched folder {self.folder}: {exc}") from None
        for entry in entries:
            name = entry.name
            if name.endswith(TEMPORARY_SUFFIXES) or (name.startswith(".") and entry.is_file()):
                waiting.append(name)  # an upload in progress under a temporary name
                continue
            if name.endswith(REASON_SUFFIX):
                continue
            try:
                if not entry.is_file(follow_symlinks=False) or not self._any.match(name):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except OSError:  # gone between listing and stat: another upload replaced it
                continue
            present.add(name)
            signature = (stat.st_size, stat.st_mtime_ns)
            seen = self._seen.get(name)
            if seen is None or seen.signature != signature:
                self._seen[name] = _Seen(signature, now)
                waiting.append(name)
            elif now - seen.since < self.settle_s:
                waiting.append(name)
            else:
                found.append((stat.st_mtime_ns, name, Path(entry.path)))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return [path for _, _, path in sorted(found)]

    def _is_stale(self, path: Path) -> bool:
        if not self.max_age_s:
            return False
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            return True
        if age <= self.max_age_s:
            return False
        reason = (
            f"stale: written {age:.0f} s ago, and no capture asked for it within {self.max_age_s:.0f} s "
            "(TWINWEB_CAMERA_MAX_AGE_S); not paired with a later part"
        )
        self._move(path, REJECTED, f"stale_{uuid.uuid4().hex[:8]}", reason)
        log.warning("station %s: %s %s", self.station, path.name, reason)
        return True

    def _take(self, path: Path, request: FrameRequest, waiting: list[str]) -> Frame | None:
        try:
            stat = path.stat()
            size, mtime = stat.st_size, stat.st_mtime
            data = path.read_bytes() if size <= self.max_bytes else b""
        except OSError:  # taken away meanwhile: look again at the next poll
            return None
        seen = self._seen.get(path.name)
        if (
            size <= self.max_bytes
            and looks_incomplete(data)
            and seen is not None
            and time.monotonic() - seen.since < self.incomplete_grace_s
        ):
            waiting.append(path.name)  # an FTP or SMB upload that paused: its end has not arrived yet
            return None
        try:
            if size > self.max_bytes:
                raise ImageRefused(f"image too large: {size} bytes > limit {self.max_bytes}")
            checked = check_image(data, expected_size=self.expected_size, max_bytes=self.max_bytes)
        except ImageRefused as exc:
            where = self._move(path, REJECTED, str(request.capture_id), str(exc))
            raise CameraError(f"image {path.name} from {self.folder} refused: {exc} (moved to {where})") from None
        where = self._move(path, PROCESSED, str(request.capture_id), None)
        return Frame(
            png=checked.png,
            source=self.name,
            taken_at=dt.datetime.fromtimestamp(mtime, dt.UTC),
            meta={
                "file": path.name,
                "stored_as": str(where),
                "bytes": size,
                "format": checked.format,
                "matched_by": "serial" if self.by_serial else "arrival order",
            },
        )

    def _earlier_outcome(self, request: FrameRequest) -> Frame | None:
        """A redelivered capture gets the file it took the first time (or the same refusal), not the next one."""
        prefix = f"{request.capture_id}_"
        for kept in sorted((self.folder / PROCESSED).glob(f"{prefix}*")) if self.folder.is_dir() else []:
            checked = check_image(kept.read_bytes(), expected_size=self.expected_size, max_bytes=self.max_bytes)
            return Frame(
                png=checked.png,
                source=self.name,
                taken_at=dt.datetime.fromtimestamp(kept.stat().st_mtime, dt.UTC),
                meta={
                    "file": kept.name[len(prefix) :],
                    "stored_as": str(kept),
                    "redelivered": True,
                    "format": checked.format,
                },
            )
        for note in sorted((self.folder / REJECTED).glob(f"{prefix}*{REASON_SUFFIX}")) if self.folder.is_dir() else []:
            raise CameraError(
                f"image {note.name[len(prefix) : -len(REASON_SUFFIX)]} from {self.folder} refused: "
                f"{note.read_text().splitlines()[0]} (moved to {note.with_name(note.name[: -len(REASON_SUFFIX)])})"
            )
        return None

    def _move(self, path: Path, where: str, prefix: str, reason: str | None) -> Path:
        target_dir = self.folder / where
        target_dir.mkdir(exist_ok=True)
        target = target_dir / f"{prefix}_{path.name}"
        if reason is not None:
            # The reason first, so that a reader of rejected/ never sees an image without its explanation.
            target.with_name(target.name + REASON_SUFFIX).write_text(
                f"{reason}\nstation: {self.station}\nrefused at: {utc_now().isoformat()}\n"
            )
        try:
            os.replace(path, target)
        except OSError as exc:
            raise CameraError(f"cannot move {path.name} to {target_dir}: {exc}") from None
        self._seen.pop(path.name, None)
        self._prune(target_dir)
        return target

    def _prune(self, directory: Path) -> None:
        limit = self.keep * (2 if directory.name == REJECTED else 1)  # rejected images come with their reasons
        entries = [e for e in os.scandir(directory) if e.is_file(follow_symlinks=False)]
        if len(entries) <= limit:
            return
        entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
        for old in entries[: len(entries) - limit]:
            Path(old.path).unlink(missing_ok=True)

    def _timeout_reason(self, request: FrameRequest, waiting: list[str]) -> str:
        what = (
            f"no image for serial {request.serial} ({self.name_pattern.replace('{serial}', request.serial)})"
            if self.by_serial
            else "no complete image"
        )
        reason = f"{what} arrived in {self.folder} within {request.timeout_s:g} s"
        if waiting:
            shown = ", ".join(sorted(waiting)[:5]) + (" ..." if len(waiting) > 5 else "")
            reason += f" ({len(waiting)} still being written: {shown})"
        return reason
