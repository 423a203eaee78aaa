"""Publishing live events to a cell's WebSocket group.

The database is the truth; these messages are notifications. Each cell stream carries a monotonic sequence
number (a Redis counter) so a client can tell it missed something and re-fetch the snapshot.
Events are sent only after the transaction that caused them commits.

Message on the group: {"type": "cell.event", "seq": n, "published_at": epoch ms, "event": {...}}. The cell
consumer (live/consumers.py) forwards each message as one WebSocket frame; when a client falls behind it
coalesces queued events per (event type, station) and flags the frame, so the client re-fetches the snapshot
instead of the server queueing without bound.

Events are the dataclasses of `twinweb/events.py`, one per event type. While `settings.TWINWEB_CHECK_LIVE_EVENTS`
is on (its default is DEBUG; the tests turn it on) each payload is checked against its schema before it is
scheduled or sent, and a mismatch raises in the action that built it. In production the check is off: the
helpers then only call `to_payload()`, the price of the inline dict it replaces.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import redis
from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from twinweb import embedded_redis
from twinweb.events import CellEventMessage, LiveEvent, validate_event

log = logging.getLogger(__name__)

_redis_client: redis.Redis | None = None


def cell_group(cell_id: int) -> str:
    return f"cell.{cell_id}"


def _redis() -> redis.Redis:
    global _redis_client
    embedded_redis.needed()
    if _redis_client is None:
        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _redis_client


def sequence_key(cell_id: int) -> str:
    """The Redis counter of a cell's stream, under the channel layer's prefix (so test runs never share it)."""
    prefix = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {}).get("prefix", "twinweb")
    return f"{prefix}:cell:{cell_id}:seq"


def next_sequence(cell_id: int) -> int:
    return int(_redis().incr(sequence_key(cell_id)))


def current_sequence(cell_id: int) -> int:
    value = _redis().get(sequence_key(cell_id))
    return int(value) if value else 0


def _inside_asgi_server() -> bool:
    """True in a sync view's thread under Daphne: async_to_sync then runs on the server's own event loop."""
    return getattr(SyncToAsync.threadlocal, "main_event_loop", None) is not None


async def _send(group: str, message: dict[str, Any]) -> None:
    await get_channel_layer().group_send(group, message)


async def _send_and_close(group: str, message: dict[str, Any]) -> None:
    embedded_redis.needed()
    layer = get_channel_layer()
    try:
        await layer.group_send(group, message)
    finally:
        # Outside an ASGI server each async_to_sync call runs its own event loop; pools bound to a closed loop
        # fail with "Event loop is closed" on the next call (channels_redis#332), so close them here.
        close_pools = getattr(layer, "close_pools", None)
        if close_pools is not None:
            await close_pools()


def event_payload(event: LiveEvent) -> dict[str, Any]:
    """The event as it goes on the wire; checked against its schema while TWINWEB_CHECK_LIVE_EVENTS is on."""
    payload = event.to_payload()
    if settings.TWINWEB_CHECK_LIVE_EVENTS:
        validate_event(payload)
    return payload


def _message(seq: int, published_at: float, payload: dict[str, Any]) -> dict[str, Any]:
    return CellEventMessage(
        seq=seq,
        published_at=published_at,
        event=json.loads(json.dumps(payload, default=str)),
    ).to_payload()


def publish(cell_id: int, event: LiveEvent) -> None:
    """Send one event to the cell's group now, stamped with the next sequence number."""
    payload = event_payload(event)  # outside the try: a payload off its schema is a bug, not a lost notification
    try:
        seq = next_sequence(cell_id)
        message = _message(seq, time.time() * 1000.0, payload)
        # Never close the pools on a server's loop: that would cut every consumer's receive on it.
        sender = _send if _inside_asgi_server() else _send_and_close
        async_to_sync(sender)(cell_group(cell_id), message)
    except Exception:  # a lost notification is recovered by the client's snapshot; never fail the write
        log.exception("live event for cell %s not published", cell_id)


async def _send_many_and_close(group: str, messages: list[dict[str, Any]]) -> None:
    embedded_redis.needed()
    layer = get_channel_layer()
    try:
        for message in messages:
            await layer.group_send(group, message)
    finally:
        close_pools = getattr(layer, "close_pools", None)
        if close_pools is not None:
            await close_pools()


def publish_many(cell_id: int, events: Sequence[LiveEvent]) -> None:
    """Send several events to the cell's group in order, with consecutive sequence numbers and one connection
    round (the ingest worker commits results in batches)."""
    if not events:
        return
    payloads = [event_payload(event) for event in events]
    try:
        last = int(_redis().incrby(sequence_key(cell_id), len(payloads)))
        now = time.time() * 1000.0
        messages = [_message(last - len(payloads) + 1 + n, now, payload) for n, payload in enumerate(payloads)]
        if _inside_asgi_server():  # never close the pools on a server's loop
            for message in messages:
                async_to_sync(_send)(cell_group(cell_id), message)
        else:
            async_to_sync(_send_many_and_close)(cell_group(cell_id), messages)
    except Exception:  # a lost notification is recovered by the client's snapshot; never fail the write
        log.exception("live events for cell %s not published", cell_id)


def publish_on_commit(cell_id: int | None, event: LiveEvent) -> None:
    """Publish `event` once the current transaction commits (checked now, so a bad payload fails its action)."""
    if cell_id is None:
        return
    event_payload(event)
    transaction.on_commit(partial(publish, cell_id, event))
