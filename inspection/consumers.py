"""The live cell stream: `/ws/cells/<id>/`.

The consumer checks permission, joins the cell's group, sends a snapshot, then forwards events with their
sequence numbers and an application heartbeat. It writes nothing.

Frames sent to the browser (JSON):
- {"type": "snapshot", "seq": n, "state": {...}}         on connect (same body as GET /api/cells/<id>/state/)
- {"type": "event", "seq": n, "published_at": ms, "event": {...}, "coalesced": k}   one per event; `coalesced`
  (> 0) says k older events with the same (type, station) were replaced by this one: re-fetch the snapshot
- {"type": "heartbeat", "seq": n, "server_time": iso, "degraded": reason | null}   every HEARTBEAT_S
- {"type": "resync", "reason": ...}                       the outbox overflowed: re-fetch the snapshot
The client answers {"type": "ping"} with nothing required; the server replies {"type": "pong"}.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from inspection import live_state
from traceability.access import can_view_cell
from traceability.models import Cell
from twinweb.live import cell_group, sequence_key

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
OUTBOX_LIMIT = 256  # distinct coalescing keys queued for one client before it is told to resync instead
CLOSE_FORBIDDEN = 4403

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


def _load_cell(cell_id: int) -> Cell | None:
    return Cell.objects.filter(pk=cell_id).first()


def _may_view(user: Any, cell: Cell) -> bool:
    return can_view_cell(user, cell)


class CellConsumer(AsyncWebsocketConsumer):
    cell: Cell | None = None
    group: str | None = None

    async def connect(self) -> None:
        self.outbox: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.wake = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        user = self.scope.get("user")
        cell_id = int(self.scope["url_route"]["kwargs"]["cell_id"])
        cell = await database_sync_to_async(_load_cell)(cell_id)
        if cell is None or not await database_sync_to_async(_may_view)(user, cell):
            await self.close(code=CLOSE_FORBIDDEN)  # before accept: the handshake is refused (HTTP 403)
            return
        self.cell = cell
        self.group = cell_group(cell.pk)
        # Join before reading the snapshot so nothing published in between is missed; events already in the
        # snapshot carry a seq <= its seq and the client drops them.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        snapshot = await database_sync_to_async(live_state.cell_snapshot)(cell)
        await self.send(text_data=json.dumps({"type": "snapshot", "seq": snapshot["seq"], "state": snapshot}))
        self.tasks = [asyncio.create_task(self._sender()), asyncio.create_task(self._heartbeat())]

    async def disconnect(self, code: int) -> None:
        for task in self.tasks:
            task.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json.loads(text_data or "{}")
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "ping":
            await self.send(text_data=json.dumps({"type": "pong", "server_time": timezone.now().isoformat()}))

    async def cell_event(self, message: dict[str, Any]) -> None:
        """A group message: queue it for the sender, replacing an older queued one with the same key."""
        seq = int(message["seq"])
        event = message.get("event", {})
        key = coalesce_key(seq, event)
        frame = {"type": "event", "seq": seq, "published_at": message.get("published_at"), "event": event,
                 "coalesced": 0}
        older = self.outbox.pop(key, None)
        if older is not None:
            frame["coalesced"] = older["coalesced"] + 1
        if len(self.outbox) >= OUTBOX_LIMIT:
            # This client is far behind: drop the backlog, tell it to take a fresh snapshot.
            self.outbox.clear()
            self.outbox["resync"] = {"type": "resync", "reason": "client behind", "seq": seq}
        else:
            self.outbox[key] = frame
        self.wake.set()

    async def _sender(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.outbox:
                _, frame = self.outbox.popitem(last=False)
                await self.send(text_data=json.dumps(frame))

    async def _heartbeat(self) -> None:
        assert self.cell is not None
        key = sequence_key(self.cell.pk)
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            degraded: str | None = None
            seq: int | None = None
            try:
                value = await _async_redis().get(key)
                seq = int(value) if value else 0
            except Exception as exc:  # Redis down: the channel layer is down too; say so, keep the socket
                degraded = f"event bus unreachable: {type(exc).__name__}"
            # Through the outbox, so it follows the events queued before it.
            self.outbox.pop("heartbeat", None)
            self.outbox["heartbeat"] = {
                "type": "heartbeat", "seq": seq, "server_time": timezone.now().isoformat(), "degraded": degraded,
            }
            self.wake.set()
