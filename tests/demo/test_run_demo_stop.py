"""run_demo's shutdown: every process group gets SIGTERM, and whatever ignores it is killed after the timeout,
grandchildren included; then the embedded redis-server stops too, its queue kept on disk."""

from __future__ import annotations

import os
import time

import redis

from demo.management.commands.run_demo import Child, start, stop_all
from twinweb import embedded_redis


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def test_it_stops_every_process_group_even_those_ignoring_sigterm(tmp_path) -> None:  # type: ignore[no-untyped-def]
    polite = Child("polite", ["sleep", "60"])
    stubborn = Child("stubborn", ["bash", "-c", f"trap '' TERM; sleep 60 & echo $! > {tmp_path}/grandchild; wait"])
    for child in (polite, stubborn):
        start(child, dict(os.environ))
    deadline = time.monotonic() + 5
    while not (tmp_path / "grandchild").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int((tmp_path / "grandchild").read_text())
    messages: list[str] = []

    started = time.monotonic()
    stop_all([polite, stubborn], timeout_s=1.0, log=messages.append)

    assert time.monotonic() - started < 5
    assert polite.process is not None and polite.process.returncode == -15
    assert stubborn.process is not None and stubborn.process.returncode == -9
    assert messages == ["  stubborn did not stop within 1 s: killing it"]
    time.sleep(0.2)
    assert not alive(grandchild)


def test_it_stops_the_embedded_redis_server_and_keeps_its_queue_for_the_next_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    socket_path = embedded_redis.ensure_running(tmp_path)
    pid = int((tmp_path / "redis.pid").read_text())
    redis.Redis(unix_socket_path=str(socket_path)).rpush("ingest", "result-1")

    assert embedded_redis.stop(tmp_path) is True
    assert not alive(pid)
    assert embedded_redis.stop(tmp_path) is False, "stopping twice is harmless"

    socket_path = embedded_redis.ensure_running(tmp_path)
    try:
        assert redis.Redis(unix_socket_path=str(socket_path)).lrange("ingest", 0, -1) == [b"result-1"]
    finally:
        embedded_redis.stop(tmp_path)
