"""Real processes for end-to-end tests and benchmarks: Daphne serving TwinWeb, Celery workers (the server's and
the edge device's), all sharing the test database; and the one wait helper they use."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection

if TYPE_CHECKING:
    from tests.support.broker import RedisServer

ROOT = Path(settings.BASE_DIR)


def database_url() -> str:
    """The URL of the database this test runs against (the test database), for worker subprocesses."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    raise RuntimeError(f"no URL for database vendor {connection.vendor}")


def worker_env(redis_server: "RedisServer | str", media_root: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker process: the test database, this Redis (a server, or its URL), no model."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "EDGE_WORKER_FAULT"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "twinweb.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_server if isinstance(redis_server, str) else redis_server.url,
            "CELERY_VISIBILITY_TIMEOUT_S": "3",
            "MEDIA_ROOT": str(media_root),
            "TWINWEB_INFERENCE_BACKEND": "none",
            "TWINWEB_POWER_SAMPLER": "none",
            "CHANNEL_LAYER_PREFIX": "twinweb-e2e",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
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
        self.process = subprocess.Popen(
            self.argv,
            env={**self.env, **extra_env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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
    return Worker(
        "ingest",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "twinweb",
            "worker",
            "-Q",
            "ingest",
            "--pool",
            "solo",
            "-n",
            "ingest-e2e@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ],
        env,
        log_dir,
    )


def edge_worker(
    env: dict[str, str], log_dir: Path, device_id: str, telemetry_s: float = 0, pool: str = "solo", queues: str = ""
) -> Worker:
    """The device's edge worker, given its current secret (as an installer puts it on the Jetson) unless `env`
    names one: the device must be registered in the test database with a secret (builders.make_device)."""
    if "TWINWEB_EDGE_SECRET" not in env:
        from tests.support.ingest_builders import credentials

        env = {**env, "TWINWEB_EDGE_SECRET": credentials(device_id).secret.text()}
    return Worker(
        "edge",
        [
            sys.executable,
            "-m",
            "edge_worker.worker",
            "--device",
            device_id,
            "--pool",
            pool,
            "--telemetry-interval",
            str(telemetry_s),
            *(["--queues", queues] if queues else []),
        ],
        env,
        log_dir,
    )


def wait_for(
    condition: Callable[[], Any],
    timeout_s: float,
    what: str,
    *,
    on_fail: Callable[[], str] | None = None,
    interval_s: float = 0.1,
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    detail = f"\n--- log tail ---\n{on_fail()[-4000:]}" if on_fail else ""
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{detail}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child that shares this process's database, Redis and channel-layer prefix."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "twinweb.settings"}
    env["DATABASE_URL"] = database_url()
    env["REDIS_URL"] = settings.REDIS_URL
    env["CHANNEL_LAYER_PREFIX"] = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    env["LOG_LEVEL"] = env.get("LOG_LEVEL", "WARNING")
    env.update(extra)
    return env


def _wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


class Daphne:
    """A Daphne process serving twinweb.asgi on 127.0.0.1:<port>; stop() and start() again on the same port."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path | None = None) -> None:
        self.port = port
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "twinweb.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_http(self.url + "/healthz", timeout_s, self.proc)

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@contextlib.contextmanager
def daphne(env: dict[str, str], log_path: Path | None = None) -> Iterator[Daphne]:
    server = Daphne(free_port(), env, log_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def celery_worker(env: dict[str, str], queue: str, log_path: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker consuming `queue` (a queue of the caller's own, so no other worker takes its tasks)."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "twinweb",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "-n",
            f"{queue}@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    """SIGTERM the process group a child started (start_new_session=True), SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
