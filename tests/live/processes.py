"""Real processes for end-to-end tests and bench/live.py: Daphne serving TwinWeb, a Celery ingest worker, and
headless Chromium, all pointed at the same database and Redis as the calling process."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def current_database_url() -> str:
    """The URL of the database this process uses now (the test database under pytest)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child that shares this process's database, Redis and channel-layer prefix."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "twinweb.settings"}
    env["DATABASE_URL"] = current_database_url()
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
            cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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
        [sys.executable, "-m", "celery", "-A", "twinweb", "worker", "-Q", queue, "--pool", "solo", "-n",
         f"{queue}@%h", "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def session_cookie_for(user: Any, base_url: str) -> Any:
    """A Playwright cookie (SetCookieParam) carrying a fresh session of `user`."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def in_plain_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run fn in a thread without an event loop: Playwright's sync API keeps one in the main thread, and the
    publish helper (async_to_sync) refuses to run inside a loop. The thread closes its database connection."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection as thread_connection

    def call() -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            thread_connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()
