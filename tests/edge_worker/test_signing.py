"""The signature both sides compute (edge_worker/contracts/signing.py): it survives the trip through the broker's
JSON and nothing else does (any field, the task, the device, the time, the nonce), and the device reads its
secret from its environment and will not start without one."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kombu.utils.json import dumps as kombu_dumps
from kombu.utils.json import loads as kombu_loads

from edge_worker.celery_app import EdgeConfigError
from edge_worker.contracts.queues import INGEST_RESULT_TASK, INGEST_TELEMETRY_TASK
from edge_worker.contracts.signing import (
    AuthError,
    DeviceSecret,
    canonical_json,
    freshness_problem,
    mac_matches,
    open_signed,
    sign,
)
from edge_worker.credentials import credentials_from_env
from tests.support import ingest_builders as builders

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 3, 1, 8, 0, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def secret() -> DeviceSecret:
    return DeviceSecret.generate()


def signed_result(secret: DeviceSecret, **kwargs: Any) -> dict[str, Any]:
    return sign(
        builders.body(serial="SN-1"),
        task=INGEST_RESULT_TASK,
        device_id=builders.DEVICE_ID,
        secret=secret,
        now=NOW,
        **kwargs,
    )


def verifies(message: dict[str, Any], secret: DeviceSecret, task: str = INGEST_RESULT_TASK) -> bool:
    body, auth = open_signed(message)
    return mac_matches(body, auth, task=task, secret=secret)


def test_it_verifies_what_crossed_the_broker_as_json(secret: DeviceSecret) -> None:
    message = signed_result(secret)
    travelled = kombu_loads(kombu_dumps([message]))[0]  # Celery's own JSON, as the ingest worker reads it
    assert travelled == message and verifies(travelled, secret)
    assert set(message["auth"]) == {"v", "device_id", "kid", "ts", "nonce", "mac"}
    assert {k: v for k, v in message.items() if k != "auth"} == builders.body(serial="SN-1") | {
        "result_id": message["result_id"],
        "capture_id": message["capture_id"],
    }, "the wire keys stay as they were"


def test_it_canonicalises_order_whitespace_and_unicode() -> None:
    assert canonical_json({"b": [1, 2.5, None], "a": "é"}) == b'{"a":"\\u00e9","b":[1,2.5,null]}'
    assert canonical_json({"a": 1, "b": 2}) == canonical_json(json.loads('{ "b" : 2 , "a" : 1 }'))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: m.update(verdict="fail"),
        lambda m: m["measurements"][0].update(value=30.0),
        lambda m: m.update(extra="a field the schema ignores"),
        lambda m: m.pop("reason"),
        lambda m: m["auth"].update(device_id="jetson-other-01"),
        lambda m: m["auth"].update(ts="2026-03-01T09:00:01+00:00"),
        lambda m: m["auth"].update(nonce="A" * 22),
        lambda m: m["auth"].update(mac="0" * 64),
    ],
    ids=["verdict", "nested-value", "added-field", "removed-field", "device", "time", "nonce", "mac"],
)
def test_it_notices_any_change_after_signing(secret: DeviceSecret, tamper: Any) -> None:
    message = copy.deepcopy(signed_result(secret))
    tamper(message)
    assert not verifies(message, secret)


def test_it_binds_the_task_and_the_secret(secret: DeviceSecret) -> None:
    message = signed_result(secret)
    assert not verifies(message, secret, task=INGEST_TELEMETRY_TASK)  # sent as another task
    assert not verifies(message, DeviceSecret.generate())


def test_it_tells_an_unsigned_message_and_a_malformed_auth(secret: DeviceSecret) -> None:
    with pytest.raises(AuthError, match="^unsigned$"):
        open_signed(builders.body(serial="SN-1"))
    with pytest.raises(AuthError, match="^unsigned$"):
        open_signed(["not", "an", "object"])
    message = signed_result(secret)
    message["auth"]["mac"] = "XYZ"
    with pytest.raises(AuthError, match="malformed auth: auth.mac: expected 64 lowercase hex digits"):
        open_signed(message)
    message["auth"] = "a string"
    with pytest.raises(AuthError, match="malformed auth: auth: expected an object"):
        open_signed(message)


def test_it_counts_age_and_clock_skew() -> None:
    limits = {"max_age_s": 100.0, "max_skew_s": 10.0}
    assert freshness_problem(NOW, now=NOW + dt.timedelta(seconds=100), **limits) is None
    assert (
        freshness_problem(NOW, now=NOW + dt.timedelta(seconds=101), **limits)
        == "expired (sent 101 s ago > limit 100 s)"
    )
    assert freshness_problem(NOW, now=NOW - dt.timedelta(seconds=10), **limits) is None
    assert freshness_problem(NOW, now=NOW - dt.timedelta(seconds=11), **limits) == (
        "expired (clock skew: sent 11 s in the future > limit 10 s)"
    )


def test_it_writes_and_reads_a_secret_and_never_shows_it_by_accident(secret: DeviceSecret) -> None:
    text = secret.text()
    assert text.startswith("twe1_") and len(text) == 5 + 43
    assert DeviceSecret.parse(f"  {text}\n") == secret
    assert secret.text() not in repr(secret) and secret.kid in repr(secret)
    assert len(secret.kid) == 16 and secret.kid != DeviceSecret.generate().kid
    for bad in ("", "twe1_", "twe2_" + text[5:], text[:-1], text + "A", "twe1_" + "!" * 43):
        with pytest.raises(ValueError):
            DeviceSecret.parse(bad)


def test_it_reads_the_secret_from_the_environment_or_a_file(secret: DeviceSecret, tmp_path: Path) -> None:
    assert (
        credentials_from_env({"TWINWEB_EDGE_DEVICE": "jetson-a", "TWINWEB_EDGE_SECRET": secret.text()}).secret == secret
    )
    path = tmp_path / "edge.secret"
    path.write_text(secret.text() + "\n")
    found = credentials_from_env({"TWINWEB_EDGE_DEVICE": "jetson-a", "TWINWEB_EDGE_SECRET_FILE": str(path)})
    assert (found.device_id, found.secret) == ("jetson-a", secret)
    with pytest.raises(EdgeConfigError, match="no device secret: set TWINWEB_EDGE_SECRET"):
        credentials_from_env({"TWINWEB_EDGE_DEVICE": "jetson-a"})
    with pytest.raises(EdgeConfigError, match="cannot be read"):
        credentials_from_env({"TWINWEB_EDGE_SECRET_FILE": str(tmp_path / "missing")})
    with pytest.raises(EdgeConfigError, match="TWINWEB_EDGE_SECRET is not a device secret"):
        credentials_from_env({"TWINWEB_EDGE_SECRET": "hunter2"})


def test_the_worker_refuses_to_start_without_a_secret() -> None:
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0", "TWINWEB_EDGE_DEVICE": "jetson-a"}
    done = subprocess.run(
        [sys.executable, "-m", "edge_worker.worker", "--device", "jetson-a"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "no device secret: set TWINWEB_EDGE_SECRET (or TWINWEB_EDGE_SECRET_FILE)" in done.stderr
