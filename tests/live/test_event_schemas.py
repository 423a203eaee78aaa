"""Every message of a cell's live stream has one schema (twinweb/events.py), and what the server really sends
matches it.

Each event test drives the real action that sends the event (through HTTP where a person would), listens to
the cell's group on the real channel layer as the consumers' hub does, and checks the message that arrived,
envelope and event, after its trip through JSON. The publish helpers' own check is off in these tests, so a
payload off its schema reaches the wire and is caught here, not earlier. Frames are checked as the real
consumer sends them over the WebSocket.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from edge_worker.contracts.cobot import CobotAck
from edge_worker.contracts.queues import COBOT_ACK_TASK
from inspection.actions.ingest import record_inspection_result, record_telemetry
from live import actions as alarm_actions
from live import consumers
from review.actions.cobot import record_cobot_ack
from review.models import CobotCommand
from tests.support import factories
from tests.support import ingest_builders
from tests.support import live_builders
from tests.support.review_cases import cell_device, make_review_case
from traceability import actions, roles
from traceability.choices import PartStatus, StationOutcome
from twinweb import events, live
from twinweb.asgi import application

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
SERVER_CODE = ("traceability", "inspection", "live", "review", "profiling", "demo", "twinweb")


class CellStream:
    """The cell's group on the real channel layer, listened to as the consumers' hub does."""

    def __init__(self, cell_id: int) -> None:
        self.cell_id = cell_id
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(live.cell_group(cell_id), self.channel)
        self.seen = live.current_sequence(cell_id)

    def messages(self) -> list[dict[str, Any]]:
        """Every message published since the last call: as many as the cell's sequence counter moved."""
        published = live.current_sequence(self.cell_id)
        count, self.seen = published - self.seen, published

        async def receive() -> list[dict[str, Any]]:
            return [await asyncio.wait_for(self.layer.receive(self.channel), timeout=5) for _ in range(count)]

        return async_to_sync(receive)()

    def events(self, kind: str) -> list[dict[str, Any]]:
        """The events of type `kind` published since the last call, each checked against its schema, envelope
        included."""
        found = []
        for message in self.messages():
            events.validate_group_message(message)
            if message["event"]["type"] == kind:
                found.append(message["event"])
        assert found, f"no {kind} event was published"
        return found


@pytest.fixture
def stream(cell: Any, settings: Any) -> CellStream:
    settings.TWINWEB_CHECK_LIVE_EVENTS = False  # let a payload off its schema reach the wire: checked there
    return CellStream(cell.pk)


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


# --- Events, each from the action that sends it -----------------------------------------------------------


def test_it_sends_part_status_as_its_schema_says(
    cell: Any, stream: CellStream, supervisor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    part = factories.make_part(factories.make_batch(cell=cell))
    stream.messages()
    with django_capture_on_commit_callbacks(execute=True):
        actions.set_part_status(part, status=PartStatus.PASSED, actor=supervisor, reason="checked by hand")
    assert stream.events("part.status") == [{"type": "part.status", "serial": part.serial, "status": "passed"}]


def test_it_sends_part_status_as_its_schema_says_when_a_containment_holds_and_releases_a_part(
    cell: Any, stream: CellStream, quality_engineer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    lot = factories.make_lot()
    part = factories.make_part(factories.make_batch(cell=cell), lots=[(lot, "1")])
    stream.messages()
    with django_capture_on_commit_callbacks(execute=True):
        actions.contain_lot(lot, actor=quality_engineer, reason="porosity at the supplier")
    assert [e["status"] for e in stream.events("part.status")] == ["on_hold"]
    with django_capture_on_commit_callbacks(execute=True):
        actions.release_containment(
            lot, actor=quality_engineer, reason="supplier cleared the lot", credential=factories.PASSWORD
        )
    assert [(e["serial"], e["status"]) for e in stream.events("part.status")] == [(part.serial, "in_process")]


def test_it_sends_station_entered_and_left_as_their_schemas_say(
    cell: Any, stream: CellStream, django_capture_on_commit_callbacks: Any
) -> None:
    part = factories.make_part(factories.make_batch(cell=cell))
    load = live_builders.stations(cell)[0]
    with django_capture_on_commit_callbacks(execute=True):
        visit = actions.record_station_entry(part, station=load, actor=None)
    [entered] = stream.events("station.entered")
    assert (entered["station"], entered["serial"]) == (load.code, part.serial)
    with django_capture_on_commit_callbacks(execute=True):
        actions.record_station_exit(
            visit, outcome=StationOutcome.OK, actor=None, at=visit.entered_at + dt.timedelta(seconds=14.5)
        )
    [left] = stream.events("station.left")
    assert (left["outcome"], left["duration_s"]) == ("ok", 14.5)


def test_it_sends_inspection_recorded_as_its_schema_says(
    cell: Any, stream: CellStream, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    ingest_builders.make_device(cell)
    part = ingest_builders.make_edge_part(cell)
    stream.messages()
    with django_capture_on_commit_callbacks(execute=True):
        record_inspection_result(
            ingest_builders.payload(serial=part.serial, verdict="fail", defect_class="dent", defect_confidence=0.93)
        )
    [recorded] = stream.events("inspection.recorded")
    assert (recorded["serial"], recorded["verdict"], recorded["defect_class"]) == (part.serial, "fail", "dent")
    assert recorded["committed_at"], "stamped after commit"


def test_it_sends_device_telemetry_as_its_schema_says(
    cell: Any, stream: CellStream, django_capture_on_commit_callbacks: Any
) -> None:
    ingest_builders.make_device(cell)
    with django_capture_on_commit_callbacks(execute=True):
        record_telemetry(ingest_builders.telemetry())
    [telemetry] = stream.events("device.telemetry")
    assert telemetry["device_id"] == ingest_builders.DEVICE_ID and telemetry["memory"]["total_mb"] == 3956.0


@pytest.fixture
def reviewer(cell: Any, operator: Any) -> Iterator[Client]:
    client = Client()
    client.force_login(operator)
    yield client
    _clear_cobot_queue(cell)  # nothing of this test stays queued for the cobot in the shared broker


def _clear_cobot_queue(cell: Any) -> None:
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).delete(f"cobot.{cell.code}")


def test_it_sends_review_claimed_and_released_as_their_schemas_say(
    cell: Any, stream: CellStream, reviewer: Client, django_capture_on_commit_callbacks: Any
) -> None:
    case = make_review_case(cell, defect="scratch")
    stream.messages()
    with django_capture_on_commit_callbacks(execute=True):
        assert reviewer.post(reverse("review-claim", args=[case.result_id])).status_code == 302
    [claimed] = stream.events("review.claimed")
    assert (claimed["result_id"], claimed["holder"]) == (str(case.result_id), "olivia")
    with django_capture_on_commit_callbacks(execute=True):
        assert reviewer.post(reverse("review-release", args=[case.result_id])).status_code == 302
    [released] = stream.events("review.released")
    assert released == {"type": "review.released", "result_id": str(case.result_id), "serial": case.part.serial}


def test_it_sends_review_signed_and_cobot_ack_as_their_schemas_say(
    cell: Any, stream: CellStream, reviewer: Client, django_capture_on_commit_callbacks: Any
) -> None:
    case = make_review_case(cell, defect="scratch")
    reviewer.post(reverse("review-claim", args=[case.result_id]))
    stream.messages()
    body = {
        "credential": factories.PASSWORD,
        "idempotency_key": str(uuid.uuid4()),
        "verdict": "confirm_nok",
        "disposition": "scrap",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer.post(
            reverse("review-sign", args=[case.result_id]), json.dumps(body), content_type="application/json"
        )
    assert response.status_code == 201, response.content
    [signed] = stream.events("review.signed")
    assert (signed["verdict"], signed["disposition"], signed["meaning"]) == ("confirm_nok", "scrap", "author")

    command = CobotCommand.objects.get(inspection=case, kind="move_part")
    ack = CobotAck(
        command_id=str(command.command_id),
        cell=cell.code,
        kind="move_part",
        status="done",
        detail="placed in the scrap bin",
        done_at=timezone.now().isoformat(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        record_cobot_ack(ingest_builders.signed(ack.to_dict(), COBOT_ACK_TASK, device_id=cell_device(cell)))
    [acked] = stream.events("cobot.ack")
    assert (acked["command"], acked["status"], acked["serial"]) == ("move_part", "done", case.part.serial)


def _nok_in_a_row(cell: Any, verdicts: list[str]) -> None:
    batch = live_builders.batch_for(cell)
    visual = next(s for s in live_builders.stations(cell) if s.code == "visual")
    start = timezone.now() - dt.timedelta(minutes=5)
    for i, verdict in enumerate(verdicts):
        live_builders.inspect(
            factories.make_part(batch),
            visual,
            at=start + dt.timedelta(seconds=15 * i),
            verdict=verdict,
            defect_class="dent" if verdict == "fail" else "",
        )


def test_it_sends_alarm_raised_acknowledged_and_cleared_as_their_schemas_say(
    cell: Any, stream: CellStream, operator: Any, login: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _nok_in_a_row(cell, ["fail", "fail", "fail"])
    stream.messages()
    with django_capture_on_commit_callbacks(execute=True):
        [alarm] = alarm_actions.evaluate_cell_alarms(cell)
    [raised] = stream.events("alarm.raised")
    assert raised["alarm"]["id"] == alarm.pk and raised["alarm"]["rule"] == "nok_streak"

    with django_capture_on_commit_callbacks(execute=True):
        response = login(operator).post(
            reverse("alarm-acknowledge", args=[cell.pk, alarm.pk]),
            data=json.dumps({"reason": "lens cleaned"}),
            content_type="application/json",
        )
    assert response.status_code == 200
    [acknowledged] = stream.events("alarm.acknowledged")
    assert acknowledged["alarm"] == response.json(), "the event carries the alarm as the API returns it"

    _nok_in_a_row(cell, ["pass"])
    with django_capture_on_commit_callbacks(execute=True):
        alarm_actions.evaluate_cell_alarms(cell)
    [cleared] = stream.events("alarm.cleared")
    assert cleared["alarm"]["cleared_at"] is not None


# --- Frames, as the real consumer sends them ------------------------------------------------------------


async def _open_stream(cell_id: int, user: Any) -> WebsocketCommunicator:
    def cookie() -> tuple[bytes, bytes]:
        client = Client()
        client.force_login(user)
        return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    headers = [(b"origin", b"http://testserver"), await sync_to_async(cookie)()]
    communicator = WebsocketCommunicator(application, f"/ws/cells/{cell_id}/", headers=headers)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_it_sends_snapshot_event_pong_and_heartbeat_frames_as_their_schemas_say(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.TWINWEB_CHECK_LIVE_EVENTS = False
    monkeypatch.setattr(consumers, "HEARTBEAT_S", 0.2)
    cell = await sync_to_async(factories.make_cell)()
    watcher = await sync_to_async(factories.make_user)("sam", roles.SUPERVISOR)
    communicator = await _open_stream(cell.pk, watcher)
    try:
        frames: dict[str, dict[str, Any]] = {}
        snapshot = json.loads(await communicator.receive_from(timeout=5))
        frames[snapshot["type"]] = snapshot
        part = await sync_to_async(factories.make_part)(await sync_to_async(live_builders.batch_for)(cell))
        load = (await sync_to_async(live_builders.stations)(cell))[0]
        await sync_to_async(actions.record_station_entry)(part, station=load, actor=None)
        await communicator.send_to(text_data=json.dumps({"type": "ping"}))
        while set(frames) != {"snapshot", "event", "pong", "heartbeat"}:
            frame = json.loads(await communicator.receive_from(timeout=5))
            frames[frame["type"]] = frame
    finally:
        await communicator.disconnect()
        await database_sync_to_async(connections.close_all)()
    for frame in frames.values():
        events.validate_frame(frame)
    assert frames["event"]["event"]["type"] == "station.entered"


async def test_it_sends_a_resync_frame_as_its_schema_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumers, "OUTBOX_LIMIT", 2)
    consumer = consumers.CellConsumer()  # one whose sender has not run: a client far behind
    consumer.outbox, consumer.latest_by_key, consumer.wake = OrderedDict(), {}, asyncio.Event()
    event = events.PartStatusChanged(serial="SN-1", status="passed").to_payload()
    for seq in range(1, 5):
        await consumer.cell_event(events.CellEventMessage(seq=seq, published_at=0.0, event=event).to_payload())
    frames = [frame for _, frame in consumer.outbox.values()]
    [resync] = [f for f in frames if f["type"] == "resync"]
    events.validate_frame(resync)
    for frame in frames:
        events.validate_frame(frame)


# --- Every type has a schema, and the schemas refuse what they should -----------------------------------


def _case_labels(source: str, function: str, variable: str) -> dict[str, set[str]]:
    """The `case "..."` labels of the switch in `function` of a JS file, each with the keys of `variable` its
    branch reads (labels that fall through share the next branch)."""
    body = source[source.index(f"function {function}(") :]
    body = body[: body.index("\n  }\n")]
    labels: dict[str, set[str]] = {}
    pending: list[str] = []
    for piece in re.split(r'\n\s*case "', body)[1:]:
        label, _, branch = piece.partition('":')
        pending.append(label)
        branch = branch.split("default:")[0]
        if branch.strip():
            reads = set(re.findall(rf"\b{variable}\.([a-z_]+)", branch))
            for name in pending:
                labels[name] = reads
            pending = []
    return labels


LIVE_JS = (ROOT / "static" / "live" / "live.js").read_text()
# Keys the page reads that the server does not send: it falls back (`ev.device_id || ""`). Kept as it is: the
# wire format does not change here.
READ_BUT_NOT_SENT = {("inspection.recorded", "device_id")}


def test_it_has_a_schema_for_every_event_the_live_page_handles_with_the_keys_it_reads() -> None:
    handled = _case_labels(LIVE_JS, "applyEvent", "ev")
    assert handled, "the live page's event switch was not found"
    assert set(handled) <= set(events.EVENT_TYPES), set(handled) - set(events.EVENT_TYPES)
    for kind, reads in handled.items():
        keys = {f for f in get_type_hints(events.EVENT_TYPES[kind]) if f != "type"}
        unknown = {key for key in reads - keys - {"type"} if (kind, key) not in READ_BUT_NOT_SENT}
        assert not unknown, f"live.js reads {sorted(unknown)} of {kind}, which its schema does not have"


def test_it_has_a_schema_for_every_frame_the_live_page_handles() -> None:
    handled = _case_labels(LIVE_JS, "onFrame", "frame")
    assert set(handled) == set(events.FRAME_TYPES) - {"pong"}, "pong is the answer to a ping, which the page ignores"


def test_it_registers_every_schema_it_defines_under_its_own_type() -> None:
    defined = {
        cls
        for cls in vars(events).values()
        if isinstance(cls, type)
        and issubclass(cls, events.Message)
        and cls not in (events.Message, events.LiveEvent, events.Frame)
    }
    registered = {*events.EVENT_TYPES.values(), *events.FRAME_TYPES.values(), *events.GROUP_MESSAGE_TYPES.values()}
    assert defined == registered
    for registry in (events.EVENT_TYPES, events.FRAME_TYPES, events.GROUP_MESSAGE_TYPES):
        assert all(cls.type == kind for kind, cls in registry.items())
    assert len(events.EVENT_TYPES) + len(events.FRAME_TYPES) + len(events.GROUP_MESSAGE_TYPES) == len(defined)


def _inline_payloads() -> list[str]:
    """Dict literals in server code whose "type" names a stream message (registered, or dotted like one)."""
    import ast

    registered = {*events.EVENT_TYPES, *events.FRAME_TYPES, *events.GROUP_MESSAGE_TYPES}
    found = []
    for package in SERVER_CODE:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "twinweb" / "events.py" or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Dict):
                    continue
                for key, value in zip(node.keys, node.values):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "type"
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                        and (value.value in registered or re.fullmatch(r"[a-z_]+\.[a-z_]+", value.value))
                    ):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} {value.value}")
    return found


def test_it_builds_every_published_message_through_its_schema_never_inline() -> None:
    assert _inline_payloads() == [], "build these through twinweb/events.py"


def _sample(hint: Any) -> Any:
    """A valid value of a schema field's type."""
    origin = get_origin(hint)
    if origin is Literal:
        return get_args(hint)[0]
    if origin is not None and type(None) in get_args(hint):
        return _sample(next(arm for arm in get_args(hint) if arm is not type(None)))
    if origin is dict:
        return {"k": 1}
    if isinstance(hint, type) and issubclass(hint, events.Row):
        return {name: _sample(h) for name, h in get_type_hints(hint).items()}
    return {str: "x", int: 7, float: 1.5, bool: True}[hint]


def _valid(kind: str) -> dict[str, Any]:
    schema = events.EVENT_TYPES[kind]
    return {"type": kind, **{name: _sample(hint) for name, hint in get_type_hints(schema).items() if name != "type"}}


def _wrong(value: Any) -> Any:
    return 1 if isinstance(value, (str, dict)) else "x"


@pytest.mark.parametrize("kind", sorted(events.EVENT_TYPES))
def test_it_refuses_an_event_with_a_missing_key_an_extra_key_or_a_wrong_type(kind: str) -> None:
    payload = _valid(kind)
    events.validate_event(payload)
    for key in set(payload) - {"type"}:
        with pytest.raises(events.EventRefused, match="missing"):
            events.validate_event({k: v for k, v in payload.items() if k != key})
        with pytest.raises(events.EventRefused, match="expected"):
            events.validate_event({**payload, key: _wrong(payload[key])})
    with pytest.raises(events.EventRefused, match="unexpected"):
        events.validate_event({**payload, "colour": "red"})


def test_it_refuses_an_unknown_type_a_non_object_and_a_bad_nested_row() -> None:
    with pytest.raises(events.EventRefused, match="unknown type"):
        events.validate_event({"type": "part.teleported", "serial": "SN-1"})
    with pytest.raises(events.EventRefused, match="expected an object"):
        events.validate_event(["part.status"])
    alarm = _valid("alarm.raised")
    with pytest.raises(events.EventRefused, match=r"alarm\.raised\.alarm\.id"):
        events.validate_event({**alarm, "alarm": {**alarm["alarm"], "id": True}})  # a bool is no JSON integer
    with pytest.raises(events.EventRefused, match="unexpected"):
        events.validate_event({**alarm, "alarm": {**alarm["alarm"], "colour": "red"}})
    with pytest.raises(events.EventRefused, match="unknown type"):
        events.validate_frame(
            {"type": "event", "seq": 1, "published_at": 0.0, "coalesced": 0, "event": {"type": "part.teleported"}}
        )


def test_it_refuses_to_publish_an_event_off_its_schema_while_checking_and_skips_the_check_in_production(
    cell: Any, settings: Any
) -> None:
    off_schema = events.PartStatusChanged(serial=42, status="passed")  # type: ignore[arg-type]
    settings.TWINWEB_CHECK_LIVE_EVENTS = True
    with pytest.raises(events.EventRefused, match=r"part\.status\.serial"):
        live.publish_on_commit(cell.pk, off_schema)
    settings.TWINWEB_CHECK_LIVE_EVENTS = False
    live.publish_on_commit(cell.pk, off_schema)  # scheduled unchecked: production pays only to_payload()
