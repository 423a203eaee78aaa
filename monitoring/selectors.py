"""Reads for the health report and the metrics: the gateway heartbeats, the broker's queues, dead letters, the
edge devices' latest telemetry and profiling, and the ingest counters the workers keep in Redis.

The cell gateway's heartbeat (the contract the gateway writes to; docs/operations.md):

    key    twinweb:gateway:<cell code>:heartbeat
    value  {"at": "2026-12-06T09:50:15.123456+00:00", "state": "up", "reconnects": 3, "error": "", "stations": {}}
    TTL    TWINWEB_GATEWAY_HEARTBEAT_TTL_S (15 s); written at least every third of it

`at` is when the gateway wrote it (ISO 8601 with its offset), `state` its link to the cell's PLC (a
`GatewayLinkState`: up, down, stopped), `reconnects` how many times it re-established that link since the process
started (a counter: it only goes up, and starts again at 0 with the process); `error` (why the link is down) and
`stations` (each station's state as the PLC reports it) are optional. The key expires when the gateway stops
writing: no key is "not configured" for a cell outside TWINWEB_GATEWAY_CELLS and "down" for a cell listed there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import redis
from django.conf import settings
from django.db.models import Count

from inspection.models import DeadLetter, EdgeDevice
from monitoring.choices import GatewayLinkState
from profiling.choices import ProfilingRunStatus
from profiling.models import ProfilingRun, ProfilingVariant
from twinweb import embedded_redis, metrics

_clients: dict[str, redis.Redis] = {}


def redis_client(url: str | None = None) -> redis.Redis:
    """A shared client per URL (the server's REDIS_URL unless another is given), short timeouts: a probe must
    answer even while Redis does not."""
    url = url or settings.REDIS_URL
    embedded_redis.needed()
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _clients[url]


def broker_client() -> redis.Redis:
    """The Celery broker's Redis (CELERY_BROKER_URL; kombu's `redis+socket://` is redis-py's `unix://`)."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith("redis+socket://"):
        url = "unix://" + url.removeprefix("redis+socket://")
    return redis_client(url)


def key_prefix() -> str:
    return str(settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {}).get("prefix", "twinweb"))


# --- The cell gateway's heartbeat -------------------------------------------------------------------------------


def gateway_heartbeat_key(cell_code: str) -> str:
    # Fixed, not under the channel layer's prefix: the gateway (gateway/store.py) writes exactly this key.
    return f"twinweb:gateway:{cell_code}:heartbeat"


class MalformedHeartbeat(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class GatewayHeartbeat:
    cell: str
    at: dt.datetime
    state: GatewayLinkState
    reconnects: int
    error: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {"at": self.at.isoformat(), "state": str(self.state), "reconnects": self.reconnects, "error": self.error}
        )

    @classmethod
    def from_json(cls, cell: str, raw: bytes | str) -> GatewayHeartbeat:
        try:
            value = json.loads(raw)
            at = dt.datetime.fromisoformat(value["at"])
            if at.tzinfo is None:
                raise ValueError("'at' has no UTC offset")
            reconnects = value["reconnects"]
            if not isinstance(reconnects, int) or isinstance(reconnects, bool) or reconnects < 0:
                raise ValueError("'reconnects' is not a count")
            error = value.get("error") or ""
            if not isinstance(error, str):
                raise ValueError("'error' is not text")
            return cls(cell=cell, at=at, state=GatewayLinkState(value["state"]), reconnects=reconnects, error=error)
        except (ValueError, TypeError, KeyError) as exc:
            raise MalformedHeartbeat(f"malformed gateway heartbeat for {cell}: {exc}") from None

    def age_s(self, now: dt.datetime) -> float:
        return (now - self.at).total_seconds()


def gateway_heartbeat(cell_code: str) -> GatewayHeartbeat | None:
    """The cell gateway's latest heartbeat, None when there is none (never written, or expired).

    Raises MalformedHeartbeat when the key holds something else than the contract's JSON, and redis.RedisError
    when Redis does not answer."""
    raw = redis_client().get(gateway_heartbeat_key(cell_code))
    if raw is None:
        return None
    return GatewayHeartbeat.from_json(cell_code, raw)


def cells_expecting_a_gateway() -> list[str]:
    return list(settings.TWINWEB_GATEWAY_CELLS)


# --- The broker's queues ----------------------------------------------------------------------------------------

# kombu's Redis transport keeps a queue's messages of priority 0 in a list named as the queue, and the others in
# lists named queue + "\x06\x16" + priority step (its default steps: 0, 3, 6, 9).
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def queue_depths(queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue (not counting those a worker took and has not acknowledged)."""
    names = list(queues)
    pipe = broker_client().pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
        for step in _PRIORITY_STEPS:
            pipe.llen(f"{name}{_PRIORITY_SEP}{step}")
    lengths = pipe.execute()
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {name: int(sum(lengths[i * per_queue : (i + 1) * per_queue])) for i, name in enumerate(names)}


def unacknowledged_messages() -> int:
    """Messages a worker took off a queue and has not acknowledged yet (kombu's `unacked` hash, all queues)."""
    return int(broker_client().hlen("unacked"))


def expected_queues() -> list[str]:
    """ingest, the training queue, one per registered edge device and one per cell's cobot."""
    from edge_worker.contracts.queues import INGEST_QUEUE, cobot_queue, edge_queue
    from traceability.models import Cell

    devices = EdgeDevice.objects.order_by("device_id").values_list("device_id", flat=True)
    cells = Cell.objects.order_by("code").values_list("code", flat=True)
    return [
        INGEST_QUEUE,
        settings.TWINWEB_TRAINING_QUEUE,
        *(edge_queue(d) for d in devices),
        *(cobot_queue(c) for c in cells),
    ]


# --- Dead letters, edge devices, profiling ----------------------------------------------------------------------


def dead_letters_by_reason() -> dict[tuple[str, bool], int]:
    """(reason, resolved) -> count, every reason present (0 where there is none) so a rate never has gaps."""
    from inspection.choices import DeadLetterReason

    counts = {(str(reason), resolved): 0 for reason in DeadLetterReason for resolved in (False, True)}
    for row in DeadLetter.objects.values("reason", "resolved").annotate(n=Count("id")).order_by():
        counts[(row["reason"], row["resolved"])] = row["n"]
    return counts


def edge_devices() -> list[EdgeDevice]:
    return list(
        EdgeDevice.objects.order_by("device_id").only(
            "device_id", "cell_id", "last_heartbeat_at", "last_telemetry", "backend", "precision"
        )
    )


def latest_profiling_variants() -> list[tuple[str, ProfilingVariant]]:
    """(device id, variant) for each variant of each device's latest finished profiling run."""
    runs = (
        ProfilingRun.objects.filter(status=ProfilingRunStatus.DONE)
        .order_by("device_id", "-received_at", "-id")
        .select_related("device")
    )
    latest: dict[int, ProfilingRun] = {}
    for run in runs.only("id", "device__device_id", "device_id", "received_at"):
        latest.setdefault(run.device_id, run)
    variants = ProfilingVariant.objects.filter(run__in=latest.values(), available=True).order_by("run", "position")
    device_of = {run.pk: run.device.device_id for run in latest.values()}
    return [(device_of[v.run_id], v) for v in variants]


# --- Ingest counters (written by the workers: twinweb.metrics.record_ingest) ------------------------------------


def ingest_results() -> dict[str, int]:
    metrics.flush_pending()  # this process's own sums first (another process's arrive within a second)
    raw: dict[bytes, bytes] = redis_client().hgetall(metrics.metrics_key(*metrics.INGEST_RESULTS_KEY))  # type: ignore[assignment]
    return {k.decode(): int(v) for k, v in raw.items()}


@dataclasses.dataclass(frozen=True)
class HistogramReading:
    buckets: list[tuple[str, float]]  # cumulative, in bound order, ending with +Inf
    sum: float
    count: float


def ingest_histogram(which: tuple[str, ...], bounds: Iterable[float]) -> HistogramReading:
    metrics.flush_pending()
    raw: dict[Any, Any] = redis_client().hgetall(metrics.metrics_key(*which))
    values = {k.decode(): float(v) for k, v in raw.items()}
    cumulative, running = [], 0.0
    for bound in [*bounds, float("inf")]:
        label = metrics.bucket_label(bound)
        running += values.get(label, 0.0)
        cumulative.append((label, running))
    return HistogramReading(buckets=cumulative, sum=values.get("sum", 0.0), count=values.get("count", 0.0))
