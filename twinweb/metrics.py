"""Instruments the apps call; `/metrics` (monitoring/) reads them.

Two kinds, chosen by who produces the figure:

* **Cluster-wide, kept in Redis** (ingest results by outcome and the ingest latency histograms). They are
  produced by the ingest workers: separate processes, often on other machines, restarted at will. Each worker adds
  its results to counters in Redis (under the channel layer's prefix), summed in memory and written in one
  pipelined round trip at most once a second (a round trip per result cost the ingest path more than the metric
  was worth), so any web process reading them at scrape time sees the whole cluster's totals, a second late. Prometheus' multiprocess mode would only add up the processes
  of one host sharing one directory, which scaling out to other machines breaks.
* **Per web process, in memory** (request latency per view, live WebSocket clients and frames sent). They belong
  to the daphne process that served them; Prometheus scrapes each web instance as its own target
  (docs/deploy.md).

Recording never fails the caller: a metric that cannot be written is lost, the work it measures is not.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Sequence

import redis
from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from twinweb import embedded_redis

log = logging.getLogger(__name__)

# Seconds. Ingest of one result is a few ms (docs/benchmarks.md); capture-to-stored spans the edge's inference
# and the queue, up to minutes while a worker is down.
INGEST_DURATION_BUCKETS: Sequence[float] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INGEST_AGE_BUCKETS: Sequence[float] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

disable_created_metrics()  # no *_created series: Prometheus does not need them, and they double the output

# The web process's own registry (not prometheus_client's global one, so importing this module twice, or a test
# building a second registry, never collides).
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUEST_DURATION = Histogram(
    "twinweb_http_request_duration_seconds",
    "Time to answer an HTTP request, per view (URL name).",
    ["view", "method", "status"],
    registry=PROCESS_REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBSOCKET_CLIENTS = Gauge(
    "twinweb_websocket_clients",
    "Live-view WebSocket clients connected to this web process.",
    registry=PROCESS_REGISTRY,
)
WEBSOCKET_FRAMES_SENT = Counter(
    "twinweb_websocket_frames_sent",
    "Frames (snapshots, events, heartbeats) sent to live-view clients.",
    ["kind"],
    registry=PROCESS_REGISTRY,
)


def metrics_key(*parts: str) -> str:
    """A Redis key under the channel layer's prefix (so concurrent test runs never share a counter)."""
    prefix = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {}).get("prefix", "twinweb")
    return ":".join((prefix, "metrics", *parts))


INGEST_RESULTS_KEY = ("ingest", "results")  # hash: outcome -> count
INGEST_DURATION_KEY = ("ingest", "duration")  # hash: bucket upper bound (or "+Inf", "sum", "count") -> value
INGEST_AGE_KEY = ("ingest", "age")

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    embedded_redis.needed()
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    return _client


def bucket_label(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


FLUSH_EVERY_S = 1.0
_pending: dict[tuple[str, str], float] = {}  # (hash key, field) -> increment not yet in Redis
_pending_lock = threading.Lock()
_flusher: threading.Thread | None = None


def _add(key: str, field: str, amount: float) -> None:
    _pending[(key, field)] = _pending.get((key, field), 0) + amount


def _add_observation(key: str, buckets: Sequence[float], value: float) -> None:
    # Non-cumulative in Redis (one count per bucket); made cumulative when read.
    bound = next((b for b in buckets if value <= b), float("inf"))
    _add(key, bucket_label(bound), 1)
    _add(key, "sum", value)
    _add(key, "count", 1)


def record_ingest(outcome: str, *, duration_s: float, age_s: float | None = None) -> None:
    """One result handled by an ingest worker: its outcome (stored, duplicate, refused, failed), how long the
    worker took, and (stored results) how long after its capture it was stored. Summed in memory; a background
    thread writes the sums to Redis every FLUSH_EVERY_S (and `flush_pending` at once)."""
    global _flusher
    with _pending_lock:
        _add(metrics_key(*INGEST_RESULTS_KEY), outcome, 1)
        _add_observation(metrics_key(*INGEST_DURATION_KEY), INGEST_DURATION_BUCKETS, duration_s)
        if age_s is not None and age_s >= 0:
            _add_observation(metrics_key(*INGEST_AGE_KEY), INGEST_AGE_BUCKETS, age_s)
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
            _flusher.start()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_EVERY_S)
        flush_pending()


def flush_pending() -> None:
    """Write this process's pending sums to Redis (one pipelined round trip); a failed write keeps nothing twice
    and loses only those sums: the work they measure is done either way."""
    with _pending_lock:
        pending = dict(_pending)
        _pending.clear()
    if not pending:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for (key, field), amount in pending.items():
            if field != "sum":  # counts are whole numbers; only a histogram's sum is fractional
                pipe.hincrby(key, field, int(amount))
            else:
                pipe.hincrbyfloat(key, field, float(amount))
        pipe.execute()
    except redis.RedisError as exc:
        log.debug("ingest metrics not recorded: %s", exc)


atexit.register(flush_pending)
