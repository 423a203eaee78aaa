"""The cluster-wide metrics, computed at scrape time from the database and Redis.

Why at scrape time rather than counters in each process: ingest workers, edge devices and the gateway are other
processes, often on other machines; what they did is already recorded where every web process can read it (the
database, Redis), so any web instance answers the same figures, and a restarted process loses nothing. Figures
that exist only inside a web process (request latency, WebSocket clients) are in twinweb/metrics.py.

A source that does not answer (the database, Redis) leaves its metrics out and says so in
`twinweb_metrics_source_up{source}`: no figure is made up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from inspection.choices import DeviceHealth
from inspection.selectors import device_health
from monitoring import selectors
from monitoring.choices import GatewayLinkState
from twinweb import metrics

log = logging.getLogger(__name__)


def _ingest() -> Iterator[Metric]:
    results = CounterMetricFamily(
        "twinweb_ingest_results",
        "Results handled by the ingest workers, by outcome (stored, duplicate, refused, failed).",
        labels=["outcome"],
    )
    counts = selectors.ingest_results()
    for outcome in sorted({"stored", "duplicate", "refused", "failed", *counts}):
        results.add_metric([outcome], counts.get(outcome, 0))
    yield results
    for name, key, bounds, text in (
        (
            "twinweb_ingest_duration_seconds",
            metrics.INGEST_DURATION_KEY,
            metrics.INGEST_DURATION_BUCKETS,
            "Time an ingest worker took to authenticate, check and store one result.",
        ),
        (
            "twinweb_ingest_age_seconds",
            metrics.INGEST_AGE_KEY,
            metrics.INGEST_AGE_BUCKETS,
            "From capture (edge clock) to stored (server clock), per stored result.",
        ),
    ):
        reading = selectors.ingest_histogram(key, bounds)
        histogram = HistogramMetricFamily(name, text)
        histogram.add_metric([], buckets=reading.buckets, sum_value=reading.sum)
        yield histogram


def _queues() -> Iterator[Metric]:
    depth = GaugeMetricFamily("twinweb_queue_depth", "Messages waiting in a broker queue.", labels=["queue"])
    for queue, n in selectors.queue_depths(selectors.expected_queues()).items():
        depth.add_metric([queue], n)
    yield depth
    yield GaugeMetricFamily(
        "twinweb_queue_unacknowledged",
        "Messages taken by a worker, not yet acknowledged (all queues).",
        value=selectors.unacknowledged_messages(),
    )


def _dead_letters() -> Iterator[Metric]:
    letters = GaugeMetricFamily(
        "twinweb_dead_letters",
        "Dead letters kept, by reason and whether a person resolved them.",
        labels=["reason", "resolved"],
    )
    for (reason, resolved), n in sorted(selectors.dead_letters_by_reason().items()):
        letters.add_metric([reason, "true" if resolved else "false"], n)
    yield letters


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _edge() -> Iterator[Metric]:
    now = timezone.now()
    up = GaugeMetricFamily("twinweb_edge_up", "1 while the device's heartbeat is fresh (online).", labels=["device"])
    age = GaugeMetricFamily(
        "twinweb_edge_heartbeat_age_seconds", "Seconds since the device's last heartbeat.", labels=["device"]
    )
    fps = GaugeMetricFamily(
        "twinweb_edge_fps", "Inspections per second, as the device last reported.", labels=["device"]
    )
    power = GaugeMetricFamily(
        "twinweb_edge_power_watts",
        "Device power, as it last reported (absent where it cannot measure power).",
        labels=["device"],
    )
    gpu = GaugeMetricFamily(
        "twinweb_edge_gpu_load_percent", "GPU load, as the device last reported.", labels=["device"]
    )
    temperature = GaugeMetricFamily(
        "twinweb_edge_temperature_celsius",
        "Temperatures, per sensor, as the device last reported.",
        labels=["device", "sensor"],
    )
    for device in selectors.edge_devices():
        up.add_metric([device.device_id], 1.0 if device_health(device, now) == DeviceHealth.ONLINE else 0.0)
        if device.last_heartbeat_at is not None:
            age.add_metric([device.device_id], (now - device.last_heartbeat_at).total_seconds())
        latest = device.last_telemetry or {}
        if (value := _number(latest.get("fps"))) is not None:
            fps.add_metric([device.device_id], value)
        if (value := _number(latest.get("power_mw"))) is not None:
            power.add_metric([device.device_id], value / 1000.0)
        if (value := _number(latest.get("gpu_load"))) is not None:
            gpu.add_metric([device.device_id], value)
        for sensor, reading in sorted((latest.get("temperature") or {}).items()):
            if (value := _number(reading)) is not None:
                temperature.add_metric([device.device_id, str(sensor)], value)
    yield from (up, age, fps, power, gpu, temperature)
    profiled_fps = GaugeMetricFamily(
        "twinweb_edge_profiled_fps",
        "FPS per backend and precision in the device's latest profiling run.",
        labels=["device", "backend", "precision"],
    )
    profiled_fpw = GaugeMetricFamily(
        "twinweb_edge_profiled_fps_per_watt",
        "FPS per watt (inference rounds) in the device's latest profiling run, where power was measured.",
        labels=["device", "backend", "precision"],
    )
    for device_id, variant in selectors.latest_profiling_variants():
        labels = [device_id, variant.backend, variant.precision]
        if variant.fps is not None:
            profiled_fps.add_metric(labels, variant.fps)
        if variant.fps_per_w_inference is not None:
            profiled_fpw.add_metric(labels, variant.fps_per_w_inference)
    yield from (profiled_fps, profiled_fpw)


def _gateways() -> Iterator[Metric]:
    from traceability.models import Cell

    now = timezone.now()
    present = GaugeMetricFamily(
        "twinweb_gateway_heartbeat_present",
        "1 while the cell gateway's heartbeat key exists (not expired).",
        labels=["cell"],
    )
    state = GaugeMetricFamily(
        "twinweb_gateway_link_state",
        "The gateway's link to the cell's PLC: 1 for the state it reports.",
        labels=["cell", "state"],
    )
    up = GaugeMetricFamily("twinweb_gateway_link_up", "1 while the gateway reports its link up.", labels=["cell"])
    reconnects = CounterMetricFamily(
        "twinweb_gateway_reconnects",
        "Reconnects of the gateway's link since the gateway process started.",
        labels=["cell"],
    )
    age = GaugeMetricFamily(
        "twinweb_gateway_heartbeat_age_seconds", "Seconds since the gateway wrote its heartbeat.", labels=["cell"]
    )
    cells = set(Cell.objects.values_list("code", flat=True)) | set(selectors.cells_expecting_a_gateway())
    for cell in sorted(cells):
        try:
            beat = selectors.gateway_heartbeat(cell)
        except selectors.MalformedHeartbeat:
            log.warning("malformed gateway heartbeat for cell %s", cell)
            beat = None
        present.add_metric([cell], 0.0 if beat is None else 1.0)
        if beat is None:
            continue
        for link_state in GatewayLinkState:
            state.add_metric([cell, link_state.value], 1.0 if beat.state == link_state else 0.0)
        up.add_metric([cell], 1.0 if beat.state == GatewayLinkState.UP else 0.0)
        reconnects.add_metric([cell], beat.reconnects)
        age.add_metric([cell], beat.age_s(now))
    yield from (present, state, up, reconnects, age)


SOURCES: dict[str, Callable[[], Iterable[Metric]]] = {
    "ingest": _ingest,
    "queues": _queues,
    "dead_letters": _dead_letters,
    "edge": _edge,
    "gateways": _gateways,
}


class ClusterCollector(Collector):
    """Reads every source at each scrape; a source that fails is reported down, the others still answer."""

    def collect(self) -> Iterator[Metric]:
        source_up = GaugeMetricFamily(
            "twinweb_metrics_source_up",
            "1 when the source of a group of metrics answered this scrape.",
            labels=["source"],
        )
        for name, source in SOURCES.items():
            try:
                collected = list(source())
            except Exception:  # noqa: BLE001  (the metric says so; the log says why)
                log.warning("metrics source %s failed", name, exc_info=True)
                source_up.add_metric([name], 0.0)
                continue
            source_up.add_metric([name], 1.0)
            yield from collected
        yield source_up
