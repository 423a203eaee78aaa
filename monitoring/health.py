"""Readiness: every component TwinWeb depends on, each with a status and the time its probe took.

Each component is a django-health-check `HealthCheck` (its timeout, timing and exception hygiene: an unexpected
error is logged and reported as "unknown error", never with its message). The library's own view does not fit:
its list of checks is fixed in code, while ours follows the database (one check per edge device, per device queue
and per cell gateway); it knows pass or fail, while a plant needs "degraded" and "not configured" besides, and
needs to know which failures make this web server unready (database, Redis, channel layer) and which only
degrade the cell (a worker, a gateway, a device); and all of its queue checks would each broadcast to the workers,
where one broadcast answers them all. So the view and the report are ours (monitoring/views.py) and the checks
are the library's (Database, Redis) or written on its base class.

A check says "degraded" with ServiceWarning, "not configured" with NotConfigured, "down" with any other error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from channels.layers import channel_layers
from django.conf import settings
from django.utils import timezone
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Database
from health_check.contrib.redis import Redis
from health_check.exceptions import HealthCheckException, ServiceUnavailable, ServiceWarning
from redis.asyncio import Redis as AsyncRedis

from edge_worker.contracts.queues import INGEST_QUEUE, edge_queue
from inspection.choices import DeviceHealth
from inspection.selectors import device_health
from monitoring import selectors
from monitoring.choices import ComponentStatus, GatewayLinkState
from twinweb import embedded_redis

log = logging.getLogger(__name__)


class NotConfigured(HealthCheckException):
    message_type = "Not configured"


def _waiting(queue: str) -> str:
    try:
        return f"{selectors.queue_depths([queue])[queue]} waiting"
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"broker unreachable ({type(exc).__name__})") from exc


# --- Components -------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ChannelLayer(HealthCheck):
    """A message through the channel layer and back (a fresh layer instance, its pools closed after)."""

    timeout = dt.timedelta(seconds=3)

    async def run(self) -> None:
        layer = channel_layers.make_backend("default")
        try:
            channel = await layer.new_channel("health.")
            await layer.send(channel, {"type": "health.ping"})
            message = await asyncio.wait_for(layer.receive(channel), self.timeout.total_seconds())
        except (OSError, redis.RedisError, asyncio.TimeoutError) as exc:
            raise ServiceUnavailable(f"channel layer unreachable ({type(exc).__name__})") from exc
        finally:
            close_pools = getattr(layer, "close_pools", None)
            if close_pools is not None:
                await close_pools()
        if message.get("type") != "health.ping":
            raise ServiceUnavailable("channel layer returned another message")


class WorkerSurvey:
    """One broadcast to the Celery workers (the queues each consumes), shared by every queue check of a report."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._consumers: dict[str, list[str]] | None = None
        self._error: Exception | None = None

    def consumers(self) -> dict[str, list[str]]:
        """queue name -> names of the workers consuming it."""
        with self._lock:
            if self._consumers is None and self._error is None:
                try:
                    self._consumers = self._ask()
                except Exception as exc:  # noqa: BLE001  (reported by every queue check)
                    self._error = exc
        if self._error is not None:
            raise ServiceUnavailable(f"workers could not be asked ({type(self._error).__name__})")
        assert self._consumers is not None
        return self._consumers

    def _ask(self) -> dict[str, list[str]]:
        from twinweb.celery import app

        # Ask only when the broker answers: kombu retries a broadcast on a broker that is away for minutes.
        selectors.broker_client().ping()
        replies = app.control.inspect(timeout=self.timeout_s).active_queues() or {}
        consumers: dict[str, list[str]] = {}
        for worker, queues in sorted(replies.items()):
            for queue in queues or []:
                consumers.setdefault(str(queue.get("name")), []).append(worker)
        return consumers


@dataclasses.dataclass
class ServerQueue(HealthCheck):
    """A server queue (ingest, training) and the workers that consume it, as they answer a broadcast."""

    queue: str
    survey: WorkerSurvey = dataclasses.field(repr=False)
    required: bool = dataclasses.field(default=True, repr=False)
    detail: str = dataclasses.field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        self.timeout = dt.timedelta(seconds=self.survey.timeout_s + 3)

    def run(self) -> None:
        workers = self.survey.consumers().get(self.queue, [])
        waiting = _waiting(self.queue)
        if not workers:
            if not self.required:
                raise NotConfigured(f"no worker consumes it; {waiting}")
            raise ServiceUnavailable(f"no worker consumes it; {waiting}")
        self.detail = f"{len(workers)} worker(s): {', '.join(workers)}; {waiting}"


@dataclasses.dataclass
class EdgeQueue(HealthCheck):
    """An edge device's queue. Edge workers run without Celery's remote control (their broker user may not use
    pub/sub), so they never answer a broadcast: the worker consuming edge.<device> is the one sending the device's
    telemetry, and its heartbeat is the evidence that it consumes."""

    device_id: str
    health: DeviceHealth = dataclasses.field(repr=False)
    detail: str = dataclasses.field(default="", init=False, repr=False)

    def run(self) -> None:
        waiting = _waiting(edge_queue(self.device_id))
        if self.health == DeviceHealth.ONLINE:
            self.detail = f"worker alive (fresh telemetry); {waiting}"
        elif self.health == DeviceHealth.STALE:
            raise ServiceWarning(f"worker's telemetry is late; {waiting}")
        else:
            raise ServiceUnavailable(f"no worker heard from ({self.health.label.lower()}); {waiting}")


@dataclasses.dataclass
class EdgeHeartbeat(HealthCheck):
    """An edge device's heartbeat (its telemetry, inspection/): online, stale or offline by its age."""

    device_id: str
    health: DeviceHealth = dataclasses.field(repr=False)
    age_s: float | None = dataclasses.field(repr=False)
    detail: str = dataclasses.field(default="", init=False, repr=False)

    def run(self) -> None:
        age = "never" if self.age_s is None else f"{self.age_s:.0f} s ago"
        if self.health == DeviceHealth.ONLINE:
            self.detail = f"last heartbeat {age}"
        elif self.health in (DeviceHealth.STALE, DeviceHealth.NEVER_SEEN):
            raise ServiceWarning(f"last heartbeat {age}")
        else:
            raise ServiceUnavailable(f"last heartbeat {age}")


@dataclasses.dataclass
class CellGateway(HealthCheck):
    """A cell gateway's heartbeat (the contract: monitoring/selectors.py) and the link state it reports."""

    cell: str
    expected: bool = dataclasses.field(default=False, repr=False)
    detail: str = dataclasses.field(default="", init=False, repr=False)

    def run(self) -> None:
        try:
            beat = selectors.gateway_heartbeat(self.cell)
        except selectors.MalformedHeartbeat as exc:
            raise ServiceUnavailable(str(exc)) from exc
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"Redis unreachable ({type(exc).__name__})") from exc
        if beat is None:
            if self.expected:
                raise ServiceUnavailable("no gateway heartbeat (expected: TWINWEB_GATEWAY_CELLS)")
            raise NotConfigured("no gateway heartbeat")
        age_s = beat.age_s(timezone.now())
        summary = f"link {beat.state.value}, {beat.reconnects} reconnect(s), heartbeat {age_s:.0f} s ago"
        if beat.error:
            summary += f": {beat.error}"
        if beat.state == GatewayLinkState.DOWN:
            raise ServiceUnavailable(summary)
        if beat.state == GatewayLinkState.STOPPED:
            if self.expected:
                raise ServiceUnavailable(summary)
            raise NotConfigured(summary)
        if age_s > settings.TWINWEB_HEARTBEAT_STALE_S:
            raise ServiceWarning(summary)
        self.detail = summary


# --- The report -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Component:
    name: str
    status: ComponentStatus
    critical: bool
    latency_ms: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "critical": self.critical,
            "latency_ms": round(self.latency_ms, 2),
            "detail": self.detail,
        }


@dataclasses.dataclass(frozen=True)
class Report:
    components: list[Component]

    @property
    def ready(self) -> bool:
        """This web server can serve: its database, Redis and channel layer answer."""
        return not any(c.critical and c.status == ComponentStatus.DOWN for c in self.components)

    @property
    def status(self) -> ComponentStatus:
        if not self.ready:
            return ComponentStatus.DOWN
        if any(c.status in (ComponentStatus.DOWN, ComponentStatus.DEGRADED) for c in self.components):
            return ComponentStatus.DEGRADED
        return ComponentStatus.OK


@dataclasses.dataclass(frozen=True)
class Planned:
    name: str
    check: HealthCheck
    critical: bool = False


def planned_checks() -> list[Planned]:
    """Every component, in report order. The database is read here (devices, cells); when it does not answer,
    the report has the database "down" and no per-device components."""
    embedded_redis.needed()
    survey = WorkerSurvey(settings.TWINWEB_HEALTH_WORKER_TIMEOUT_S)
    planned = [
        Planned("database", Database(), critical=True),
        Planned(
            "redis",
            Redis(
                client_factory=lambda: AsyncRedis.from_url(
                    settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
                )
            ),
            critical=True,
        ),
        Planned("channel_layer", ChannelLayer(), critical=True),
        Planned(f"queue:{INGEST_QUEUE}", ServerQueue(INGEST_QUEUE, survey)),
        Planned(
            f"queue:{settings.TWINWEB_TRAINING_QUEUE}",
            ServerQueue(settings.TWINWEB_TRAINING_QUEUE, survey, required=False),
        ),
    ]
    try:
        from traceability.models import Cell

        now = timezone.now()
        devices = selectors.edge_devices()
        cells = list(Cell.objects.order_by("code").values_list("code", flat=True))
    except Exception:  # noqa: BLE001  (the database check says why)
        log.warning("health: database unreadable, per-device checks left out", exc_info=True)
        return planned
    for device in devices:
        health = device_health(device, now)
        age = (now - device.last_heartbeat_at).total_seconds() if device.last_heartbeat_at else None
        planned.append(Planned(f"queue:{edge_queue(device.device_id)}", EdgeQueue(device.device_id, health)))
        planned.append(Planned(f"edge:{device.device_id}", EdgeHeartbeat(device.device_id, health, age)))
    expected = set(selectors.cells_expecting_a_gateway())
    for code in sorted(set(cells) | expected):
        planned.append(Planned(f"gateway:{code}", CellGateway(code, expected=code in expected)))
    return planned


def _status_of(result: HealthCheckResult) -> ComponentStatus:
    if result.error is None:
        return ComponentStatus.OK
    if isinstance(result.error, NotConfigured):
        return ComponentStatus.NOT_CONFIGURED
    if isinstance(result.error, ServiceWarning):
        return ComponentStatus.DEGRADED
    return ComponentStatus.DOWN


async def _gather(planned: Sequence[Planned], executor: ThreadPoolExecutor) -> list[HealthCheckResult]:
    return list(await asyncio.gather(*(p.check.get_result(executor) for p in planned)))


def run_checks(planned: Sequence[Planned]) -> Report:
    """Run every check at once (the synchronous ones on threads); a check past its timeout is "down"."""
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")
    try:
        results = asyncio.run(_gather(planned, executor))
    finally:
        # Never wait for a check that overran its timeout: the probe answers now.
        executor.shutdown(wait=False, cancel_futures=True)
    components = []
    for item, result in zip(planned, results, strict=True):
        if result.error is not None:
            detail = result.error.message
        else:
            detail = str(getattr(item.check, "detail", "") or "")
        components.append(
            Component(
                name=item.name,
                status=_status_of(result),
                critical=item.critical,
                latency_ms=result.time_taken * 1000.0,
                detail=str(detail),
            )
        )
    return Report(components)
