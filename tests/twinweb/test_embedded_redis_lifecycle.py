"""No orphans: with no REDIS_URL, a `manage.py` command that needs no broker starts no redis-server, and one that
uses Redis leaves nothing running once it exits: the last process holding the embedded server stops it, and a
holder killed outright is cleaned up after by the keeper. Real commands in subprocesses, each run in a var/ folder
of its own; a process counts as left behind when it works in that folder (redis-server runs in its data folder)
or names it on its command line (the keeper)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def env_for(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "CELERY_BROKER_URL") and not k.startswith("PYTEST")
    }
    return {
        **env,
        "TWINWEB_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "twinweb.settings",
        "LOG_LEVEL": "WARNING",
    }


def manage(var_dir: Path, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env_for(var_dir),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def left_behind(var_dir: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["pid"] == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(info["cmdline"] or [])
        if str(var_dir) in cmdline or str(info["cwd"] or "").startswith(str(var_dir)):
            found.append(f"{info['pid']}: {cmdline}")
    return found


def none_left(var_dir: Path, within_s: float = 0.0) -> list[str]:
    deadline = time.monotonic() + within_s
    while (found := left_behind(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def answers(var_dir: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(var_dir / "redis" / "redis.sock"), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("var")
    manage(folder, "migrate", "--noinput")
    yield folder
    subprocess.run(
        [sys.executable, "-m", "twinweb.embedded_redis", "stop", str(folder / "redis")],
        cwd=ROOT,
        env=env_for(folder),
        capture_output=True,
        timeout=60,
    )


# Keeps waiting on its stdin while holding the embedded Redis (it used it), then exits normally.
HOLD = "from twinweb import live; live.next_sequence(1); import sys; sys.stdin.read()"


def test_commands_that_need_no_broker_start_no_redis_server(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    for args in (["help"], ["check"], ["migrate", "--noinput"], ["verify_audit"], ["showmigrations", "monitoring"]):
        manage(var_dir, *args)
        assert not (var_dir / "redis" / "redis.sock").exists(), f"manage.py {args[0]} started a redis-server"
        assert none_left(var_dir) == [], args


def test_a_command_that_uses_redis_leaves_nothing_running_when_it_exits(var_dir: Path) -> None:
    manage(var_dir, "seed_demo", "--parts", "3")  # stores history through the ingest action: nonces in Redis
    assert (var_dir / "redis" / "appendonly.aof").exists() or (var_dir / "redis" / "appendonlydir").exists(), (
        "the command did use the embedded Redis"
    )
    assert none_left(var_dir) == []
    manage(var_dir, "watch_andon", "--once")
    assert none_left(var_dir) == []
    assert not answers(var_dir)


def test_the_last_holder_to_exit_stops_the_server(var_dir: Path) -> None:
    first = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", HOLD],
        cwd=ROOT,
        env=env_for(var_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not answers(var_dir) and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            time.sleep(0.1)
        assert answers(var_dir)
        manage(var_dir, "shell", "-c", "from twinweb import live; live.next_sequence(1)")
        assert answers(var_dir), "another process still holds it: the second command left it running"
        assert first.stdin is not None
        first.stdin.close()
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert none_left(var_dir) == []


def test_a_holder_killed_outright_is_cleaned_up_after_by_the_keeper(var_dir: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", HOLD],
        cwd=ROOT,
        env=env_for(var_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not answers(var_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert answers(var_dir)
        assert len(left_behind(var_dir)) == 2, left_behind(var_dir)  # redis-server and its keeper
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # no atexit, no cleanup of its own
        holder.wait(timeout=10)
    assert none_left(var_dir, within_s=15) == []
