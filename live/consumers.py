"""The live cell stream: `/ws/cells/<id>/`.

The consumer checks permission, subscribes to the cell's stream (CellHub), sends a snapshot, then forwards events with their
sequence numbers and an application heartbeat. It writes nothing.

Frames sent to the browser (JSON):
- {"type": "snapshot", "seq": n, "state": {...}}         on connect (same body as GET /api/cells/<id>/state/)
- {"type": "event", "seq": n, "published_at": ms, "event": {...}, "coalesced": k}   one per event. Only when
  a client falls behind (COALESCE_AFTER frames queued) does a new event replace a queued older one with the
  same (type, station); `coalesced` > 0 says how many it replaced: re-fetch the snapshot
- {"type": "heartbeat", "seq": n, "server_time": iso, "degraded": reason | null}   every
  TWINWEB_LIVE_HEARTBEAT_S (5 s)
- {"type": "resync", "reason": ...}                       the outbox overflowed: re-fetch the snapshot
The client answers {"type": "ping"} with nothing required; the server replies {"type": "pong"}.
Each frame is a dataclass of twinweb/events.py (SnapshotFrame, EventFrame, HeartbeatFrame, ResyncFrame, PongFrame).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import import_module
import logging
import time
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import SESSION_KEY as SESSION_USER_KEY
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone, translation
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

from accounts.sessions import SESSION_KEY as LANGUAGE_SESSION_KEY
from live import selectors as live_state
from live.models import display_text
from traceability.access import can_view_cell
from traceability.models import Cell
from twinweb.events import EventFrame, HeartbeatFrame, PongFrame, ResyncFrame, SnapshotFrame
from twinweb.live import cell_group, current_sequence, sequence_key
from twinweb.metrics import WEBSOCKET_CLIENTS, WEBSOCKET_FRAMES_SENT

log = logging.getLogger(__name__)

HEARTBEAT_S: float | None = None  # None: settings.TWINWEB_LIVE_HEARTBEAT_S (tests set it shorter)
COALESCE_AFTER = 64  # frames queued for one client before new events replace older ones of the same key
OUTBOX_LIMIT = 512  # frames queued for one client before it is told to resync instead
CLOSE_FORBIDDEN = 4403
CLOSE_SIGNED_OUT = 4401  # the session that opened the socket ended (signed out, expired)

_redis: aioredis.Redis | None = None
_redis_loop: asyncio.AbstractEventLoop | None = None


def _async_redis() -> aioredis.Redis:
    global _redis, _redis_loop
    loop = asyncio.get_running_loop()
    if _redis is None or _redis_loop is not loop:
        _redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _redis_loop = loop
    return _redis


def coalesce_key(seq: int, event: dict[str, Any]) -> str:
    """Events that describe the same thing's latest state share a key; others (alarms, ...) never coalesce."""
    kind = str(event.get("type", ""))
    if kind.startswith(("station.", "inspection.")) and event.get("station"):
        return f"{kind}:{event['station']}"
    if kind == "device.telemetry" and event.get("device_id"):
        return f"{kind}:{event['device_id']}"
    return f"seq:{seq}"


SNAPSHOT_REUSE_S = 1.0
_snapshot_cache: dict[tuple[int, str], tuple[float, int | None, str]] = {}


def _snapshot_frame(cell: Cell, language: str) -> str:
    """The snapshot frame, shared for up to a second by clients connecting at the same sequence number: after a
    server restart every browser reconnects at once, and each would otherwise rebuild the same snapshot. Its texts
    (alarm rules, statuses) are in `language`, the one the page was rendered in."""
    now = time.monotonic()
    cached = _snapshot_cache.get((cell.pk, language))
    if cached is not None and now - cached[0] < SNAPSHOT_REUSE_S:
        try:
            if cached[1] == current_sequence(cell.pk):
                return cached[2]
        except Exception:  # Redis away: build a fresh snapshot (it says so)
            pass
    with translation.override(language):
        snapshot = live_state.cell_snapshot(cell)
        frame = json.dumps(SnapshotFrame(seq=snapshot["seq"], state=snapshot).to_payload(), cls=DjangoJSONEncoder)
    _snapshot_cache[(cell.pk, language)] = (now, snapshot["seq"], frame)
    return frame


def _language(scope: dict[str, Any]) -> str:
    """The page's language, as the HTTP middleware chose it: the user's own (in the session), else the browser's."""
    session = scope.get("session")
    chosen = session.get(LANGUAGE_SESSION_KEY) if session is not None else None
    if chosen in dict(settings.LANGUAGES):
        return str(chosen)
    header = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
    for tag, _quality in parse_accept_lang_header(header):
        if tag != "*":
            with contextlib.suppress(LookupError):
                return get_supported_language_variant(tag)
    return settings.LANGUAGE_CODE


def in_language(event: dict[str, Any], language: str) -> dict[str, Any]:
    """The event as this connection shows it: an alarm's `text` rendered in the connection's language (events are
    published outside requests, so in English). Other events go as they are: the page names their codes."""
    alarm = event.get("alarm")
    if not isinstance(alarm, dict) or not alarm.get("message_code"):
        return event
    with translation.override(language):
        text = display_text(alarm["message_code"], alarm.get("message_params") or {}, str(alarm.get("message", "")))
    return {**event, "alarm": {**alarm, "text": text}}


def _load_cell(cell_id: int) -> Cell | None:
    return Cell.objects.filter(pk=cell_id).first()


def _still_signed_in(scope: dict[str, Any]) -> bool:
    """Whether the session the socket opened with still signs its user in (not signed out, not expired)."""
    session, user = scope.get("session"), scope.get("user")
    if session is None or user is None or not user.is_authenticated:
        return False
    current = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session.session_key)
    return str(current.get(SESSION_USER_KEY, "")) == str(user.pk)  # a deleted or expired session reads empty


def _may_view(user: Any, cell: Cell) -> bool:
    return can_view_cell(user, cell)


class CellHub:
    """One channel-layer subscription per (server process, cell), fanned out in memory to that process's consumers.

    With one group member per browser, every event costs one Redis message and one blocking pop per browser
    (the group_send cost in the notes); with the hub it costs one per server process, whatever the audience.
    """

    REJOIN_S = 600.0  # re-join the group well before channels_redis' group_expiry drops the membership

    def __init__(self, cell_id: int) -> None:
        self.cell_id = cell_id
        self.members: set[CellConsumer] = set()
        self.channel_name = ""
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def _join(self) -> None:
        layer = get_channel_layer()
        if not self.channel_name:
            self.channel_name = await layer.new_channel()
        await layer.group_add(cell_group(self.cell_id), self.channel_name)

    async def run(self) -> None:
        layer = get_channel_layer()
        # None, not 0.0: loop.time() is the monotonic clock, which on a machine up for under REJOIN_S seconds is
        # itself below REJOIN_S, so "now - 0.0 > REJOIN_S" would never join.
        joined_at: float | None = None
        loop = asyncio.get_running_loop()
        while self.members:
            try:
                if joined_at is None or loop.time() - joined_at > self.REJOIN_S:
                    await self._join()
                    joined_at = loop.time()
                    self.ready.set()
                message = await asyncio.wait_for(layer.receive(self.channel_name), timeout=self.REJOIN_S)
            except asyncio.TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: clients see it in the heartbeat and re-fetch the snapshot later
                log.warning("cell %s: live subscription interrupted; retrying", self.cell_id, exc_info=True)
                joined_at = None
                await asyncio.sleep(1.0)
                continue
            if message.get("type") == "cell.event":
                for member in list(self.members):
                    member.enqueue(message)
        with contextlib.suppress(Exception):
            await layer.group_discard(cell_group(self.cell_id), self.channel_name)

    @classmethod
    async def subscribe(cls, cell_id: int, consumer: CellConsumer) -> None:
        key = (asyncio.get_running_loop(), cell_id)
        hub = _hubs.get(key)
        if hub is None or hub.task is None or hub.task.done():
            hub = _hubs[key] = cls(cell_id)
            hub.members.add(consumer)
            hub.task = asyncio.create_task(hub.run())
        else:
            hub.members.add(consumer)
        with contextlib.suppress(asyncio.TimeoutError):  # Redis away: go on; the heartbeat says "degraded"
            await asyncio.wait_for(hub.ready.wait(), timeout=5)

    @classmethod
    def unsubscribe(cls, cell_id: int, consumer: CellConsumer) -> None:
        key = (asyncio.get_running_loop(), cell_id)
        hub = _hubs.get(key)
        if hub is None:
            return
        hub.members.discard(consumer)
        if not hub.members and hub.task is not None:
            hub.task.cancel()
            _hubs.pop(key, None)
            if hub.channel_name:
                asyncio.create_task(_discard(cell_id, hub.channel_name))


async def _discard(cell_id: int, channel_name: str) -> None:
    with contextlib.suppress(Exception):
        await get_channel_layer().group_discard(cell_group(cell_id), channel_name)


_hubs: dict[tuple[asyncio.AbstractEventLoop, int], CellHub] = {}


class CellConsumer(AsyncWebsocketConsumer):
    # No channel of its own: events come from the process's CellHub. So a Redis outage does not kill the socket
    # (the heartbeat says "degraded" and the page polls the snapshot) and idle sockets cost Redis nothing.
    channel_layer_alias = None  # type: ignore[assignment]
    cell: Cell | None = None
    language: str = settings.LANGUAGE_CODE

    async def connect(self) -> None:
        # Queued frames in order: outbox key -> (coalescing key, frame); latest_by_key: coalescing key -> newest
        # outbox key with it.
        self.outbox: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self.latest_by_key: dict[str, str] = {}
        self.wake = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        user = self.scope.get("user")
        cell_id = int(self.scope["url_route"]["kwargs"]["cell_id"])
        cell = await database_sync_to_async(_load_cell)(cell_id)
        if cell is None or not await database_sync_to_async(_may_view)(user, cell):
            await self.close(code=CLOSE_FORBIDDEN)  # before accept: the handshake is refused (HTTP 403)
            return
        self.cell = cell
        self.language = _language(self.scope)
        # Subscribe before reading the snapshot so nothing published in between is missed; events already in
        # the snapshot carry a seq <= its seq and the client drops them.
        await self.accept()
        await CellHub.subscribe(cell.pk, self)
        WEBSOCKET_CLIENTS.inc()
        await self.send(text_data=await database_sync_to_async(_snapshot_frame)(cell, self.language))
        WEBSOCKET_FRAMES_SENT.labels(kind="snapshot").inc()
        self.tasks = [asyncio.create_task(self._sender()), asyncio.create_task(self._heartbeat())]

    async def disconnect(self, code: int) -> None:
        for task in self.tasks:
            task.cancel()
        if self.cell is not None:
            WEBSOCKET_CLIENTS.dec()
            CellHub.unsubscribe(self.cell.pk, self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "{}")
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "ping":
            await self.send(text_data=json.dumps(PongFrame(server_time=timezone.now().isoformat()).to_payload()))

    async def cell_event(self, message: dict[str, Any]) -> None:
        self.enqueue(message)

    def enqueue(self, message: dict[str, Any]) -> None:
        """An event from the hub: queue it for the sender. Normally every event goes out; once this client is
        COALESCE_AFTER frames behind, an event replaces the queued older one with the same (type, station)."""
        seq = int(message["seq"])
        event = in_language(message.get("event", {}), self.language)
        ckey = coalesce_key(seq, event)
        coalesced = 0
        if len(self.outbox) >= COALESCE_AFTER:
            older_key = self.latest_by_key.get(ckey)
            older = self.outbox.pop(older_key, None) if older_key else None
            if older is not None:
                coalesced = older[1]["coalesced"] + 1
        if len(self.outbox) >= OUTBOX_LIMIT:
            # Far behind even so: drop the backlog, tell the client to take a fresh snapshot.
            self.outbox.clear()
            self.latest_by_key.clear()
            self.outbox["resync"] = ("resync", ResyncFrame(reason="client behind", seq=seq).to_payload())
        else:
            frame = EventFrame(seq=seq, published_at=message.get("published_at"), event=event, coalesced=coalesced)
            self.outbox[f"seq:{seq}"] = (ckey, frame.to_payload())
            self.latest_by_key[ckey] = f"seq:{seq}"
        self.wake.set()

    async def _sender(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.outbox:
                key, (ckey, frame) = self.outbox.popitem(last=False)
                if self.latest_by_key.get(ckey) == key:
                    del self.latest_by_key[ckey]
                await self.send(text_data=json.dumps(frame))
                WEBSOCKET_FRAMES_SENT.labels(kind=str(frame.get("type", "unknown"))).inc()

    async def _heartbeat(self) -> None:
        assert self.cell is not None
        key = sequence_key(self.cell.pk)
        while True:
            await asyncio.sleep(HEARTBEAT_S or settings.TWINWEB_LIVE_HEARTBEAT_S)
            if not await database_sync_to_async(_still_signed_in)(self.scope):
                # Signed out (or the session expired) since the socket opened: stop delivering, say why.
                await self.close(code=CLOSE_SIGNED_OUT)
                return
            degraded: str | None = None
            seq: int | None = None
            try:
                value = await _async_redis().get(key)
                seq = int(value) if value else 0
            except Exception as exc:  # Redis down: the channel layer is down too; say so, keep the socket
                degraded = f"event bus unreachable: {type(exc).__name__}"
            # Through the outbox, so it follows the events queued before it.
            self.outbox.pop("heartbeat", None)
            self.outbox["heartbeat"] = (
                "heartbeat",
                HeartbeatFrame(
                    seq=seq,
                    server_time=timezone.now().isoformat(),
                    degraded=degraded,
                ).to_payload(),
            )
            self.wake.set()
