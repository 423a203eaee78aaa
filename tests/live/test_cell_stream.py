"""The cell WebSocket `/ws/cells/<id>/`, driven through the real ASGI application (session auth, origin check)
and the real Redis channel layer, as a browser would."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from live import consumers
from tests.support import factories
from tests.support import live_builders as builders
from traceability import actions, roles
from traceability.models import AuditRecord
from twinweb import live
from twinweb.asgi import application
from twinweb.events import PartStatusChanged, StationEntered

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://testserver")


def session_cookie(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def open_stream(cell_id: int, user: Any | None) -> tuple[WebsocketCommunicator, bool, Any]:
    headers = [ORIGIN]
    if user is not None:
        headers.append(await sync_to_async(session_cookie)(user))
    communicator = WebsocketCommunicator(application, f"/ws/cells/{cell_id}/", headers=headers)
    connected, detail = await communicator.connect(timeout=10)
    return communicator, connected, detail


async def next_frame(communicator: WebsocketCommunicator, timeout: float = 5) -> dict[str, Any]:
    return json.loads(await communicator.receive_from(timeout=timeout))


async def next_event(communicator: WebsocketCommunicator, timeout: float = 5) -> dict[str, Any]:
    while True:
        frame = await next_frame(communicator, timeout)
        if frame["type"] == "event":
            return frame


@pytest.fixture(autouse=True)
async def close_worker_thread_connections() -> Any:
    """The consumers' database calls run in a worker thread whose connection outlives the test (CONN_MAX_AGE);
    close it so the test database can be dropped at the end of the run."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def live_cell() -> Any:
    return factories.make_cell()


@pytest.fixture
def watcher() -> Any:
    return factories.make_user("sam", roles.SUPERVISOR)


async def test_it_refuses_anonymous_connections(live_cell: Any) -> None:
    communicator, connected, _ = await open_stream(live_cell.pk, None)
    assert connected is False
    await communicator.disconnect()


async def test_it_refuses_users_whose_role_may_not_watch_the_cell(live_cell: Any) -> None:
    outsider = await sync_to_async(factories.make_user)("charlie", None)
    communicator, connected, _ = await open_stream(live_cell.pk, outsider)
    assert connected is False
    await communicator.disconnect()


async def test_it_refuses_an_unknown_cell(watcher: Any) -> None:
    communicator, connected, _ = await open_stream(999_999, watcher)
    assert connected is False
    await communicator.disconnect()


async def test_it_sends_a_snapshot_on_connect(live_cell: Any, watcher: Any) -> None:
    batch = await sync_to_async(builders.batch_for)(live_cell)
    part = await sync_to_async(factories.make_part)(batch, serial="SN-SNAP-1")
    [load, *_] = await sync_to_async(builders.stations)(live_cell)
    await sync_to_async(builders.visit)(part, load, entered=builders.now(), dwell_s=None)

    communicator, connected, _ = await open_stream(live_cell.pk, watcher)
    assert connected
    frame = await next_frame(communicator)
    assert frame["type"] == "snapshot"
    state = frame["state"]
    assert frame["seq"] == state["seq"] == await sync_to_async(live.current_sequence)(live_cell.pk)
    assert [s["code"] for s in state["stations"]] == ["load", "visual", "dimensional", "cobot", "unload"]
    assert state["stations"][0]["part"]["serial"] == "SN-SNAP-1"
    assert state["stations"][0]["state"] == "running"
    assert {"kpis", "charts", "devices", "alarms", "recent", "thresholds"} <= set(state)
    await communicator.disconnect()


async def test_it_forwards_events_in_order_with_consecutive_sequence_numbers(live_cell: Any, watcher: Any) -> None:
    communicator, connected, _ = await open_stream(live_cell.pk, watcher)
    assert connected
    snapshot = await next_frame(communicator)
    for n in range(3):
        await sync_to_async(live.publish)(live_cell.pk, builders.recorded_event(result_id=f"r{n}"))
        frame = await next_event(communicator)  # one at a time: none is coalesced
        assert frame["seq"] == snapshot["seq"] + n + 1
        assert frame["event"]["result_id"] == f"r{n}"
        assert frame["coalesced"] == 0
        assert frame["published_at"] > 0
    await communicator.disconnect()


async def test_it_delivers_events_on_a_machine_that_booted_moments_ago(live_cell: Any, watcher: Any) -> None:
    """The event loop's clock is the monotonic clock, which starts near zero at boot: the subscription must not
    depend on it being large (a fresh CI machine once received no events at all)."""
    loop = asyncio.get_running_loop()
    clock_at_boot = loop.time()
    loop.time = lambda: asyncio.BaseEventLoop.time(loop) - clock_at_boot + 1.0  # type: ignore[method-assign]
    communicator, connected, _ = await open_stream(live_cell.pk, watcher)
    try:
        assert connected
        snapshot = await next_frame(communicator)
        await sync_to_async(live.publish)(live_cell.pk, builders.recorded_event(result_id="just-booted"))
        frame = await next_event(communicator)
        assert frame["seq"] == snapshot["seq"] + 1
        assert frame["event"]["result_id"] == "just-booted"
    finally:
        await communicator.disconnect()
        del loop.time  # type: ignore[method-assign]


async def test_it_lets_a_client_recover_from_a_gap_with_the_snapshot(live_cell: Any, watcher: Any) -> None:
    communicator, connected, _ = await open_stream(live_cell.pk, watcher)
    assert connected
    snapshot = await next_frame(communicator)
    batch = await sync_to_async(builders.batch_for)(live_cell)
    part = await sync_to_async(factories.make_part)(batch, serial="SN-GAP-1")
    load, visual, *_ = await sync_to_async(builders.stations)(live_cell)

    # A notification lost on the way (at-most-once delivery): the counter moved, nothing arrived.
    await sync_to_async(live.next_sequence)(live_cell.pk)
    # The real action commits and publishes the next one.
    await sync_to_async(actions.record_station_entry)(part, station=visual, actor=None)

    frame = await next_event(communicator)
    assert frame["event"] == {**frame["event"], "type": "station.entered", "station": "visual", "serial": "SN-GAP-1"}
    assert frame["seq"] == snapshot["seq"] + 2, "the client sees seq jump by two: a gap"

    # What the client does on a gap: GET the snapshot; it holds the database's truth and a seq past the gap.
    client = Client()
    await sync_to_async(client.force_login)(watcher)
    response = await sync_to_async(client.get)(f"/api/cells/{live_cell.pk}/state/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    state = response.json()
    assert state["seq"] >= frame["seq"]
    assert state["stations"][1]["part"]["serial"] == "SN-GAP-1"
    await communicator.disconnect()


async def test_it_sends_an_application_heartbeat_with_the_current_sequence(
    live_cell: Any, watcher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "HEARTBEAT_S", 0.2)
    communicator, connected, _ = await open_stream(live_cell.pk, watcher)
    assert connected
    await next_frame(communicator)
    await sync_to_async(live.next_sequence)(live_cell.pk)  # an event the client never got
    while (frame := await next_frame(communicator))["type"] != "heartbeat":
        pass
    assert frame["degraded"] is None
    assert frame["seq"] == await sync_to_async(live.current_sequence)(live_cell.pk)
    assert frame["server_time"]
    await communicator.disconnect()


async def test_it_answers_pings_and_writes_nothing(live_cell: Any, watcher: Any) -> None:
    audit_before = await sync_to_async(AuditRecord.objects.count)()
    communicator, connected, _ = await open_stream(live_cell.pk, watcher)
    assert connected
    await next_frame(communicator)
    await communicator.send_to(text_data=json.dumps({"type": "ping"}))
    assert (await next_frame(communicator))["type"] == "pong"
    await communicator.disconnect()
    assert await sync_to_async(AuditRecord.objects.count)() == audit_before


def idle_consumer() -> consumers.CellConsumer:
    """A consumer whose sender has not run yet: what a client that fell behind looks like from the server."""
    consumer = consumers.CellConsumer()
    consumer.outbox = OrderedDict()
    consumer.latest_by_key = {}
    consumer.wake = asyncio.Event()
    return consumer


def queued(consumer: consumers.CellConsumer) -> list[dict[str, Any]]:
    return [frame for _, frame in consumer.outbox.values()]


async def test_it_queues_every_event_of_a_burst_for_a_client_that_keeps_up() -> None:
    consumer = idle_consumer()
    for seq in range(1, 21):  # a batch from the ingest worker: 20 results at one station
        await consumer.cell_event(
            {
                "type": "cell.event",
                "seq": seq,
                "published_at": 0,
                "event": {"type": "inspection.recorded", "station": "visual"},
            }
        )
    assert [f["seq"] for f in queued(consumer)] == list(range(1, 21))
    assert all(f["coalesced"] == 0 for f in queued(consumer))


async def test_it_coalesces_queued_events_per_station_when_a_client_falls_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumers, "COALESCE_AFTER", 0)  # behind from the first frame
    consumer = idle_consumer()
    messages = [
        {"seq": 11, "event": {"type": "inspection.recorded", "station": "visual", "result_id": "a"}},
        {"seq": 12, "event": {"type": "inspection.recorded", "station": "dimensional", "result_id": "b"}},
        {"seq": 13, "event": {"type": "inspection.recorded", "station": "visual", "result_id": "c"}},
        {"seq": 14, "event": {"type": "alarm.raised", "alarm": {"id": 1}}},
        {"seq": 15, "event": {"type": "inspection.recorded", "station": "visual", "result_id": "d"}},
    ]
    for message in messages:
        await consumer.cell_event({"type": "cell.event", "published_at": 0, **message})
    frames = queued(consumer)
    assert [f["seq"] for f in frames] == [12, 14, 15], "latest per (type, station), in sequence order"
    assert [f["coalesced"] for f in frames] == [0, 0, 2], "the visual frame says it replaced two older events"
    assert frames[-1]["event"]["result_id"] == "d"


async def test_it_bounds_the_outbox_and_asks_a_far_behind_client_to_resync(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers, "OUTBOX_LIMIT", 4)
    consumer = idle_consumer()
    for seq in range(1, 10):  # alarms never coalesce: each is its own key
        await consumer.cell_event({"type": "cell.event", "seq": seq, "event": {"type": "alarm.raised"}})
    assert len(consumer.outbox) <= 4
    assert any(frame["type"] == "resync" for frame in queued(consumer))


@pytest.mark.slow
async def test_it_keeps_delivering_to_a_consumer_that_sat_idle_past_the_redis_blocking_pop(
    live_cell: Any, watcher: Any
) -> None:
    # channels_redis blocks 5 s per BZPOPMIN; with redis-py's 5 s default socket timeout an idle consumer's
    # receive used to time out and die silently (settings: the layer's socket_timeout is 30 s).
    communicator, connected, _ = await open_stream(live_cell.pk, watcher)
    assert connected
    snapshot = await next_frame(communicator)
    await asyncio.sleep(6.5)
    await sync_to_async(live.publish)(
        live_cell.pk, StationEntered(station="load", serial="X", at=builders.now().isoformat())
    )
    frame = await next_event(communicator)
    assert frame["seq"] == snapshot["seq"] + 1
    await communicator.disconnect()


async def test_it_fans_one_subscription_out_to_every_client_of_the_cell(live_cell: Any, watcher: Any) -> None:
    first, ok1, _ = await open_stream(live_cell.pk, watcher)
    second, ok2, _ = await open_stream(live_cell.pk, watcher)
    assert ok1 and ok2
    s1, s2 = await next_frame(first), await next_frame(second)
    await sync_to_async(live.publish)(live_cell.pk, PartStatusChanged(serial="A", status="passed"))
    assert (await next_event(first))["seq"] == s1["seq"] + 1
    assert (await next_event(second))["seq"] == s2["seq"] + 1
    await first.disconnect()
    await sync_to_async(live.publish)(live_cell.pk, PartStatusChanged(serial="B", status="passed"))
    frame = await next_event(second)
    assert frame["event"]["serial"] == "B", "the remaining client still receives after another one left"
    assert await second.receive_nothing(timeout=0.3), "each event arrives once"
    await second.disconnect()


async def test_it_reports_a_degraded_event_bus_in_the_heartbeat(
    live_cell: Any, watcher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> Any:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(consumers, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(consumers, "_async_redis", unreachable)
    communicator, connected, _ = await open_stream(live_cell.pk, watcher)
    assert connected
    await next_frame(communicator)
    while (frame := await next_frame(communicator))["type"] != "heartbeat":
        pass
    assert frame["degraded"] and "ConnectionError" in frame["degraded"]
    await communicator.disconnect()


async def test_it_stops_delivering_once_its_user_signs_out(
    live_cell: Any, watcher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumers, "HEARTBEAT_S", 0.2)
    cookie = await sync_to_async(session_cookie)(watcher)
    communicator = WebsocketCommunicator(application, f"/ws/cells/{live_cell.pk}/", headers=[ORIGIN, cookie])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    await next_frame(communicator)  # the snapshot
    session_key = cookie[1].decode().split("=", 1)[1]

    def sign_out() -> None:
        from django.contrib.sessions.models import Session

        Session.objects.filter(session_key=session_key).delete()  # what signing out (or expiry) leaves behind

    await sync_to_async(sign_out)()
    while True:
        output = await communicator.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            break
    assert output["code"] == consumers.CLOSE_SIGNED_OUT
