"""/metrics, scraped as Prometheus scrapes it (bearer token, text format), after real work went through the real
paths: results through the ingest task, telemetry through its task, a refused message kept as a dead letter, a
gateway heartbeat in Redis, a message waiting in a device's queue, requests and a live WebSocket client."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from edge_worker.contracts.queues import INSPECT_CAPTURE_TASK, edge_queue
from inspection import tasks
from monitoring import actions, selectors
from monitoring.choices import GatewayLinkState
from tests.support import factories
from tests.support import ingest_builders as builders
from traceability import roles
from twinweb.asgi import application
from twinweb.celery import app as celery_app

TOKEN = "scrape-token-0123456789"


def scrape(client: Client | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.fixture(autouse=True)
def scrape_token(settings: Any) -> None:
    settings.TWINWEB_METRICS_TOKEN = TOKEN


def test_it_refuses_a_scraper_without_the_token_and_lets_an_admin_read(
    db: Any, admin_user: Any, supervisor: Any, login: Any
) -> None:
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert login(supervisor).get("/metrics").status_code == 401
    assert login(admin_user).get("/metrics").status_code == 200


def test_it_counts_ingest_results_by_outcome_with_their_latency(cell: Any) -> None:
    device = builders.make_device(cell)
    part = builders.make_edge_part(cell)
    before = scrape()
    result = builders.payload(serial=part.serial, captured_at=timezone.now() - dt.timedelta(seconds=2))

    assert tasks.ingest_result(result)["created"] is True
    assert tasks.ingest_result(result)["created"] is False  # redelivered: stored once
    assert "refused" in tasks.ingest_result(builders.unsigned(builders.body(serial=part.serial)))
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("twinweb_ingest_results_total", outcome="stored") == 1
    assert delta("twinweb_ingest_results_total", outcome="duplicate") == 1
    assert delta("twinweb_ingest_results_total", outcome="refused") == 1
    assert delta("twinweb_ingest_duration_seconds_count") == 3
    assert delta("twinweb_ingest_duration_seconds_bucket", le="+Inf") == 3
    assert delta("twinweb_ingest_duration_seconds_sum") > 0
    # Stored two seconds after its capture: in the age histogram's (1, 2.5] bucket, not below.
    assert delta("twinweb_ingest_age_seconds_count") == 1
    assert delta("twinweb_ingest_age_seconds_bucket", le="1.0") == 0
    assert delta("twinweb_ingest_age_seconds_bucket", le="2.5") == 1
    assert value(after, "twinweb_dead_letters", reason="unauthenticated", resolved="false") == 1
    assert value(after, "twinweb_dead_letters", reason="malformed", resolved="false") == 0
    assert device.device_id


def test_it_reports_each_edge_device_from_its_telemetry(cell: Any) -> None:
    device = builders.make_device(cell, "jetson-metrics-01")
    telemetry = builders.telemetry(
        device.device_id,
        at=timezone.now(),
        fps=6.5,
        power_mw=7250.0,
        gpu_load=55.0,
        temperature={"gpu": 48.5, "cpu": 44.0},
    )
    tasks.ingest_telemetry(telemetry)
    samples = scrape()
    assert value(samples, "twinweb_edge_up", device="jetson-metrics-01") == 1
    assert value(samples, "twinweb_edge_fps", device="jetson-metrics-01") == 6.5
    assert value(samples, "twinweb_edge_power_watts", device="jetson-metrics-01") == 7.25
    assert value(samples, "twinweb_edge_gpu_load_percent", device="jetson-metrics-01") == 55.0
    assert value(samples, "twinweb_edge_temperature_celsius", device="jetson-metrics-01", sensor="gpu") == 48.5
    assert value(samples, "twinweb_edge_heartbeat_age_seconds", device="jetson-metrics-01") < 30
    assert value(samples, "twinweb_metrics_source_up", source="edge") == 1


def test_it_reports_queue_depths_from_the_broker(cell: Any) -> None:
    device = builders.make_device(cell, "jetson-queue-01")
    queue = edge_queue(device.device_id)
    try:
        assert value(scrape(), "twinweb_queue_depth", queue=queue) == 0
        celery_app.send_task(INSPECT_CAPTURE_TASK, args=[{}], queue=queue)  # nobody consumes it in this test
        samples = scrape()
        assert value(samples, "twinweb_queue_depth", queue=queue) == 1
        assert ("twinweb_queue_depth", (("queue", "ingest"),)) in samples
        assert value(samples, "twinweb_queue_depth", queue=f"cobot.{cell.code}") == 0
    finally:
        selectors.broker_client().delete(queue)


def test_it_reports_the_gateway_link_from_its_heartbeat(cell: Any) -> None:
    samples = scrape()
    assert value(samples, "twinweb_gateway_heartbeat_present", cell=cell.code) == 0
    assert ("twinweb_gateway_link_up", (("cell", cell.code),)) not in samples, "no figure without a heartbeat"

    actions.record_gateway_heartbeat(cell.code, state=GatewayLinkState.DOWN, reconnects=7)
    samples = scrape()
    assert value(samples, "twinweb_gateway_heartbeat_present", cell=cell.code) == 1
    assert value(samples, "twinweb_gateway_link_up", cell=cell.code) == 0
    assert value(samples, "twinweb_gateway_link_state", cell=cell.code, state="down") == 1
    assert value(samples, "twinweb_gateway_link_state", cell=cell.code, state="up") == 0
    assert value(samples, "twinweb_gateway_reconnects_total", cell=cell.code) == 7


def test_it_times_requests_per_view(admin_user: Any, login: Any) -> None:
    def count(samples: dict[Any, float]) -> float:
        return samples.get(
            (
                "twinweb_http_request_duration_seconds_count",
                (("method", "GET"), ("status", "200"), ("view", "healthz")),
            ),
            0.0,
        )

    before = count(scrape())
    for _ in range(3):
        assert Client().get("/healthz").status_code == 200
    assert count(scrape()) - before == 3


def test_it_says_which_source_did_not_answer_and_makes_up_no_figure(cell: Any, settings: Any, tmp_path: Any) -> None:
    settings.REDIS_URL = f"unix://{tmp_path / 'no-redis.sock'}"
    settings.CELERY_BROKER_URL = f"redis+socket://{tmp_path / 'no-redis.sock'}"
    samples = scrape()
    assert value(samples, "twinweb_metrics_source_up", source="ingest") == 0
    assert value(samples, "twinweb_metrics_source_up", source="queues") == 0
    assert value(samples, "twinweb_metrics_source_up", source="dead_letters") == 1  # the database answers
    assert not any(name.startswith("twinweb_ingest_results") for name, _ in samples)


@pytest.mark.django_db(transaction=True)
async def test_it_counts_live_websocket_clients_and_the_frames_sent_to_them() -> None:
    cell = await sync_to_async(factories.make_cell)()
    watcher = await sync_to_async(factories.make_user)("sam", roles.SUPERVISOR)
    client = Client()
    await sync_to_async(client.force_login)(watcher)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    before = await sync_to_async(scrape)()
    communicator = WebsocketCommunicator(
        application, f"/ws/cells/{cell.pk}/", headers=[(b"origin", b"http://testserver"), cookie]
    )
    try:
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        assert json.loads(await communicator.receive_from(timeout=5))["type"] == "snapshot"
        during = await sync_to_async(scrape)()
        assert value(during, "twinweb_websocket_clients") - value(before, "twinweb_websocket_clients") == 1
        sent = ("twinweb_websocket_frames_sent_total", (("kind", "snapshot"),))
        assert during[sent] - before.get(sent, 0.0) == 1
    finally:
        await communicator.disconnect()
        await database_sync_to_async(connections.close_all)()
    after = await sync_to_async(scrape)()
    assert value(after, "twinweb_websocket_clients") == value(before, "twinweb_websocket_clients")
