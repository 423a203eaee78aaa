"""The edge worker runs as on the Jetson: started as the device starts it, it takes a real capture off a real
broker, inspects it and sends the result back, and in all that time imports nothing of the server: not Django,
not the server's apps, not its web stack."""

from __future__ import annotations

import ast
import base64
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from edge_worker.contracts import Capture, encode_image, utc_now
from edge_worker.contracts.signing import DeviceSecret, mac_matches, open_signed
from edge_worker.contracts.queues import (
    INGEST_QUEUE,
    INGEST_RESULT_TASK,
    INSPECT_CAPTURE_TASK,
    edge_queue,
)
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import encode_png, render_part
from tests.support import broker as private_redis
from tests.support import processes

pytestmark = [pytest.mark.e2e]
DEVICE = "jetson-standalone-01"
# Top-level packages of the server. `profiling`, `review`, `live` and `demo` are server apps (edge_worker's own
# modules are all under `edge_worker.`).
SERVER_PACKAGES = {
    "django",
    "twinweb",
    "inspection",
    "traceability",
    "live",
    "review",
    "profiling",
    "demo",
    "rest_framework",
    "channels",
    "channels_redis",
    "daphne",
    "drf_spectacular",
    "django_filters",
    "whitenoise",
    "psycopg",
    "dj_database_url",
}


def imported_names(importtime_log: str) -> list[str]:
    """Module names from `python -X importtime` output ("import time: self | cumulative | <indent>name").

    The output lists every `import` statement's module, including imports that failed: kombu and Celery probe
    `django.utils.functional` whenever they load, and the edge worker marks Django absent so the probe fails, as
    on a device without Django. A module can only load after its top-level package has, and that package is then
    listed under its own bare name, so a server package that never appears bare was never imported. (A module
    imported through importlib.import_module, as Celery imports its task modules, is not listed itself; what it
    imports is.)"""
    names = []
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header
                names.append(name)
    return names


@pytest.fixture
def broker() -> Iterator[private_redis.RedisServer]:
    server = private_redis.RedisServer().start()
    yield server
    server.stop()


def ingest_messages(server: private_redis.RedisServer) -> list[dict[str, Any]]:
    """The messages waiting on the server's ingest queue (no server worker runs here: the broker keeps them)."""
    client = redis.Redis(unix_socket_path=str(server.socket))
    return [json.loads(raw) for raw in client.lrange(INGEST_QUEUE, 0, -1)]


def first_arg(message: dict[str, Any]) -> Any:
    body = message["body"]
    if message["properties"].get("body_encoding") == "base64":
        body = base64.b64decode(body)
    return json.loads(body)[0][0]


def send_capture(server: private_redis.RedisServer) -> uuid.UUID:
    capture = Capture(
        capture_id=uuid.uuid4(),
        serial="CF-80-SA-1",
        station="visual",
        cell="ac-cell-1",
        part_type=DEMO_PART_TYPES["CF-80"].to_dict(),
        image_png_b64=encode_image(encode_png(render_part("CF-80", seed=3).image)),
        captured_at=utc_now(),
        device_id=DEVICE,
    )
    producer = Celery("standalone-producer", broker="redis+socket://" + str(server.socket), set_as_current=False)
    producer.send_task(INSPECT_CAPTURE_TASK, args=[capture.to_dict()], queue=edge_queue(DEVICE))
    return capture.capture_id


@pytest.mark.parametrize("django_settings_in_env", [True, False], ids=["settings-module-set", "settings-module-unset"])
def test_it_inspects_a_capture_without_importing_anything_of_the_server(
    broker: private_redis.RedisServer, tmp_path: Path, django_settings_in_env: bool
) -> None:
    env = processes.worker_env(broker, tmp_path / "media")  # as the e2e tests and the demo start it: REDIS_URL only
    env.pop("TWINWEB_BROKER_URL", None)
    secret = DeviceSecret.generate()  # what the admin issued for the device (no server here to ask)
    env["TWINWEB_EDGE_SECRET"] = secret.text()
    if not django_settings_in_env:
        env.pop("DJANGO_SETTINGS_MODULE", None)
    assert env["REDIS_URL"].startswith("unix://") and "CELERY_BROKER_URL" not in env

    stderr_path = tmp_path / "importtime.log"
    with open(stderr_path, "wb") as stderr, open(tmp_path / "worker.log", "wb") as stdout:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "edge_worker.worker",
                "--device",
                DEVICE,
                "--telemetry-interval",
                "0",
            ],
            env=env,
            cwd=processes.ROOT,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            processes.wait_for(
                lambda: f"edge worker {DEVICE} ready" in stderr_path.read_text(errors="replace"),
                90,
                "the edge worker to be ready",
                on_fail=lambda: stderr_path.read_text(errors="replace"),
            )
            capture_id = send_capture(broker)
            results = processes.wait_for(
                lambda: [m for m in ingest_messages(broker) if m["headers"]["task"] == INGEST_RESULT_TASK],
                90,
                "the edge worker's result on the ingest queue",
                on_fail=lambda: stderr_path.read_text(errors="replace")[-3000:],
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)

    [result] = [first_arg(m) for m in results]
    assert (result["capture_id"], result["device_id"]) == (str(capture_id), DEVICE)
    body, auth = open_signed(result)  # signed, as the server will check
    assert auth.device_id == DEVICE and mac_matches(body, auth, task=INGEST_RESULT_TASK, secret=secret)
    assert result["verdict"] in ("pass", "fail")
    names = imported_names(stderr_path.read_text(errors="replace"))
    # The worker did load what inspecting takes (so the log is read right) ...
    assert {"celery", "edge_worker.celery_app", "edge_worker.runtime", "edge_worker.vision.inspect", "cv2"} <= set(
        names
    )
    # ... and never a server package.
    assert sorted({n for n in names if "." not in n} & SERVER_PACKAGES) == []
    assert not [n for n in names if n.split(".")[0] in SERVER_PACKAGES - {"django"}]


def test_it_refuses_to_start_without_a_broker_and_names_the_variables(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TWINWEB_BROKER_URL", "CELERY_BROKER_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    done = subprocess.run(
        [sys.executable, "-m", "edge_worker.worker", "--device", DEVICE],
        env=env,
        cwd=processes.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "TWINWEB_BROKER_URL" in done.stderr and "CELERY_BROKER_URL" in done.stderr and "REDIS_URL" in done.stderr


def test_it_has_no_import_of_the_server_anywhere_in_its_code() -> None:
    found = []
    for path in (processes.ROOT / "edge_worker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            found += [f"{path.relative_to(processes.ROOT)}: {m}" for m in modules if m.split(".")[0] in SERVER_PACKAGES]
    assert found == []
