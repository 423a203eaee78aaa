"""/readyz: a probe gets the status without signing in; an admin sees every component (database, Redis, channel
layer, each queue and its workers, each cell gateway, each edge device) with its status and the probe's latency.
Components are probed for real: nothing here stands in for the database, Redis or a worker."""

from __future__ import annotations

import ast
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from monitoring import actions, selectors
from monitoring.choices import GatewayLinkState
from tests.support import ingest_builders as builders
from tests.support import processes
from tests.twinweb.test_production_settings import setting


def components(client: Client) -> dict[str, dict[str, Any]]:
    response = client.get("/readyz")
    body = response.json()
    assert "components" in body, body
    return {c["name"]: c for c in body["components"]}


def test_it_answers_an_anonymous_probe_with_the_status_alone(db: Any) -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200, "no redirect to the login page: probes do not sign in"
    assert response.json()["status"] in {"ok", "degraded"}
    assert set(response.json()) == {"status"}
    assert "no-cache" in response["Cache-Control"]


def test_it_keeps_the_components_from_signed_in_users_who_are_not_admins(supervisor: Any, login: Any) -> None:
    assert set(login(supervisor).get("/readyz").json()) == {"status"}


def test_it_shows_an_admin_every_component_with_its_status_and_latency(admin_user: Any, login: Any, cell: Any) -> None:
    device = builders.make_device(cell, "jetson-ready-01")
    found = components(login(admin_user))

    for name in ("database", "redis", "channel_layer"):
        assert found[name]["status"] == "ok", found[name]
        assert found[name]["critical"] is True
    assert {
        "queue:ingest",
        "queue:training",
        f"queue:edge.{device.device_id}",
        f"edge:{device.device_id}",
        f"gateway:{cell.code}",
    } <= set(found)
    assert all(c["latency_ms"] >= 0 for c in found.values())
    assert found["queue:ingest"]["status"] == "down"  # no ingest worker runs in this test
    assert "no worker consumes it" in found["queue:ingest"]["detail"]
    assert found["queue:training"]["status"] == "not_configured"
    assert found[f"gateway:{cell.code}"]["status"] == "not_configured"
    assert found[f"edge:{device.device_id}"]["status"] == "degraded"  # registered, never heard from
    assert found[f"edge:{device.device_id}"]["detail"] == "last heartbeat never"


def test_it_reports_the_cell_gateway_from_its_heartbeat(admin_user: Any, login: Any, cell: Any, settings: Any) -> None:
    client = login(admin_user)
    name = f"gateway:{cell.code}"
    actions.record_gateway_heartbeat(cell.code, state=GatewayLinkState.UP, reconnects=2)
    gateway = components(client)[name]
    assert gateway["status"] == "ok"
    assert gateway["detail"].startswith("link up, 2 reconnect(s)")

    actions.record_gateway_heartbeat(cell.code, state=GatewayLinkState.DOWN, reconnects=3, error="PLC unreachable")
    gateway = components(client)[name]
    assert gateway["status"] == "down"
    assert gateway["detail"].endswith(": PLC unreachable")
    actions.record_gateway_heartbeat(cell.code, state=GatewayLinkState.STOPPED, reconnects=3)
    assert components(client)[name]["status"] == "not_configured"  # shut down on purpose, cell not listed
    # A heartbeat written long ago (a gateway whose clock or loop stalled) is late.
    actions.record_gateway_heartbeat(
        cell.code, state=GatewayLinkState.UP, reconnects=3, at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert components(client)[name]["status"] == "degraded"

    selectors.redis_client().set(selectors.gateway_heartbeat_key(cell.code), b"{not json")
    assert components(client)[name]["status"] == "down"
    assert "malformed" in components(client)[name]["detail"]


def test_it_reads_the_heartbeat_as_the_gateway_writes_it(admin_user: Any, login: Any, cell: Any) -> None:
    """What gateway/link.py writes, extra fields included (each station's state)."""
    written = {
        "at": timezone.now().isoformat(),
        "state": "up",
        "reconnects": 1,
        "error": "",
        "stations": {"visual": {"state": "EXECUTE", "fault_code": 0}},
    }
    selectors.redis_client().set(f"twinweb:gateway:{cell.code}:heartbeat", json.dumps(written), ex=15)
    assert components(login(admin_user))[f"gateway:{cell.code}"]["status"] == "ok"


def test_it_forgets_a_gateway_that_stopped_writing_and_says_down_where_one_is_expected(
    admin_user: Any, login: Any, cell: Any, settings: Any
) -> None:
    client = login(admin_user)
    name = f"gateway:{cell.code}"
    actions.record_gateway_heartbeat(cell.code, state=GatewayLinkState.UP, reconnects=0, ttl_s=0.3)
    assert components(client)[name]["status"] == "ok"
    time.sleep(0.5)  # past the TTL: the key expired in Redis
    assert components(client)[name]["status"] == "not_configured"
    settings.TWINWEB_GATEWAY_CELLS = [cell.code, "cell-without-a-record"]
    found = components(client)
    assert found[name]["status"] == "down"
    assert found["gateway:cell-without-a-record"]["status"] == "down"


def test_the_heartbeat_contract_is_the_documented_json_with_a_ttl(cell: Any) -> None:
    at = dt.datetime(2026, 12, 6, 9, 50, 15, tzinfo=dt.timezone.utc)
    actions.record_gateway_heartbeat(cell.code, state=GatewayLinkState.UP, reconnects=4, at=at, ttl_s=15)
    key = f"twinweb:gateway:{cell.code}:heartbeat"
    client = selectors.redis_client()
    assert json.loads(client.get(key)) == {
        "at": "2026-12-06T09:50:15+00:00",
        "state": "up",
        "reconnects": 4,
        "error": "",
    }
    assert 14_000 < client.pttl(key) <= 15_000
    with pytest.raises(ValueError):
        actions.record_gateway_heartbeat(cell.code, state=GatewayLinkState.UP, reconnects=-1)


@pytest.mark.parametrize(
    ("age_s", "edge_status", "queue_status"),
    [
        (1, "ok", "ok"),
        (30, "degraded", "degraded"),
        (600, "down", "down"),
    ],
)
def test_it_reports_each_edge_device_by_its_heartbeat(
    admin_user: Any, login: Any, cell: Any, age_s: float, edge_status: str, queue_status: str
) -> None:
    device = builders.make_device(cell, "jetson-beat-01")
    type(device).objects.filter(pk=device.pk).update(last_heartbeat_at=timezone.now() - dt.timedelta(seconds=age_s))
    found = components(login(admin_user))
    assert found["edge:jetson-beat-01"]["status"] == edge_status
    assert found["queue:edge.jetson-beat-01"]["status"] == queue_status


def test_it_is_unready_while_redis_does_not_answer(admin_user: Any, login: Any, settings: Any, tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path / 'no-redis.sock'}"  # nothing listens there
    settings.REDIS_URL = nowhere
    settings.CELERY_BROKER_URL = "redis+socket://" + str(tmp_path / "no-redis.sock")
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [{"address": nowhere}]}}}

    response = login(admin_user).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    found = {c["name"]: c for c in body["components"]}
    assert found["database"]["status"] == "ok"
    assert found["redis"]["status"] == "down"
    assert found["channel_layer"]["status"] == "down"
    assert found["queue:ingest"]["status"] == "down"
    assert Client().get("/readyz").status_code == 503, "a probe sees it too"


@pytest.mark.slow
def test_it_names_the_workers_that_consume_the_ingest_queue(admin_user: Any, login: Any, tmp_path: Path) -> None:
    client = login(admin_user)
    log = tmp_path / "worker.log"
    with processes.celery_worker(processes.child_env(), "ingest", log) as worker:

        def ingest_ok() -> dict[str, Any] | None:
            component = components(client)["queue:ingest"]
            return component if component["status"] == "ok" else None

        component = processes.wait_for(
            ingest_ok, 60, "the ingest worker to answer the broadcast", on_fail=lambda: log.read_text()[-3000:]
        )
        assert worker.poll() is None
    assert "1 worker(s): ingest@" in component["detail"]


def test_production_exempts_the_probes_and_metrics_from_the_https_redirect(db: Any, settings: Any) -> None:
    exempt = ast.literal_eval(setting("SECURE_REDIRECT_EXEMPT"))
    assert ast.literal_eval(setting("SECURE_SSL_REDIRECT")) is True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = exempt
    client = Client()
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code != 301, path
    assert client.get("/accounts/login/").status_code == 301, "everything else still goes to HTTPS"
