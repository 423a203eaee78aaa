"""The edge device's own Celery app, configured from the environment only (the device has no Django settings):

    TWINWEB_BROKER_URL          the broker, e.g. redis://server.plant:6379/0     (first of these three that is set)
    CELERY_BROKER_URL           the same, under the name the server uses
    REDIS_URL                   redis://host:port/db or unix:///path/to/redis.sock
    CELERY_VISIBILITY_TIMEOUT_S seconds before an unacknowledged message is handed out again   default 60
    TWINWEB_EDGE_DEVICE         the device id, which names the broker keys of its own        default jetson-demo-01

In production the URL names the device's own Redis user and TLS, e.g.
`rediss://edge-jetson-line3-01:PASSWORD@redis.plant:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/twinweb/ca.pem`
(docs/deploy/redis-users.acl: that user may push onto `ingest` and consume its own queues, nothing else).

Delivery settings are the ones the server's app uses (edge_worker.contracts.delivery). The edge's tasks are shared
tasks in the modules listed in TASK_MODULES, imported by the worker when it starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from celery import Celery

from edge_worker.contracts.delivery import delivery_settings

BROKER_VARIABLES = ("TWINWEB_BROKER_URL", "CELERY_BROKER_URL", "REDIS_URL")
DEFAULT_VISIBILITY_TIMEOUT_S = 60
TASK_MODULES = ("edge_worker.tasks", "edge_worker.simulated_cobot", "edge_worker.profiling.tasks")


class EdgeConfigError(RuntimeError):
    """The environment does not say how to reach the broker, or says it wrongly."""


def celery_broker_url(url: str) -> str:
    """kombu names a Redis unix socket `redis+socket://path`; REDIS_URL may name it `unix://path`."""
    if url.startswith("unix://"):
        return "redis+socket://" + url.removeprefix("unix://")
    return url


def unverified_tls(url: str) -> bool:
    """A `rediss://` URL that does not say how to check the server's certificate: kombu then accepts any
    certificate at all (it logs "defaulting to insecure SSL behaviour"), so anyone in between could read and
    write the queues. `ssl_cert_reqs=required` (with `ssl_ca_certs=` for a private CA) checks it;
    `ssl_cert_reqs=none` says not checking it is meant."""
    parts = urlsplit(url)
    return parts.scheme == "rediss" and "ssl_cert_reqs" not in parse_qs(parts.query)


def broker_url_from_env(environ: Mapping[str, str]) -> str:
    for name in BROKER_VARIABLES:
        value = environ.get(name, "").strip()
        if value and unverified_tls(value):
            raise EdgeConfigError(
                f"{name} uses rediss:// without ssl_cert_reqs: the broker's certificate would not be checked; add "
                "?ssl_cert_reqs=required&ssl_ca_certs=/etc/twinweb/redis-ca.pem (or ssl_cert_reqs=none if that is meant)"
            )
        if value:
            return celery_broker_url(value)
    raise EdgeConfigError(
        "no broker configured: set TWINWEB_BROKER_URL (or CELERY_BROKER_URL, or REDIS_URL), "
        "e.g. TWINWEB_BROKER_URL=redis://twinweb-server:6379/0"
    )


def visibility_timeout_from_env(environ: Mapping[str, str]) -> int:
    raw = environ.get("CELERY_VISIBILITY_TIMEOUT_S", "").strip()
    if not raw:
        return DEFAULT_VISIBILITY_TIMEOUT_S
    try:
        value = int(raw)
    except ValueError:
        raise EdgeConfigError(f"CELERY_VISIBILITY_TIMEOUT_S must be a whole number of seconds, got {raw!r}") from None
    if value < 1:
        raise EdgeConfigError(f"CELERY_VISIBILITY_TIMEOUT_S must be at least 1, got {value}")
    return value


def edge_broker_keys(device_id: str) -> dict[str, Any]:
    """kombu's Redis transport options that keep this device to broker keys of its own.

    kombu keeps the messages a consumer holds unacknowledged in one `unacked` hash (and an `unacked_index` sorted
    set) shared by every consumer, and puts them back on whatever queue they came from; a device's Redis user
    with access to those keys could read what other devices and the server hold in flight and push into any
    queue. Here they are the device's own. Priorities are off (no sender sets one): kombu would otherwise consume
    three more keys per queue with control characters in their names, which an ACL file cannot name exactly."""
    own = f"edge.{device_id}"
    return {
        "unacked_key": f"{own}.unacked",
        "unacked_index_key": f"{own}.unacked_index",
        "unacked_mutex_key": f"{own}.unacked_mutex",
        "priority_steps": [0],
    }


def device_id_from_env(environ: Mapping[str, str]) -> str:
    return environ.get("TWINWEB_EDGE_DEVICE", "").strip() or "jetson-demo-01"


def create_app(
    environ: Mapping[str, str] | None = None,
    *,
    broker_url: str | None = None,
    name: str = "edge_worker",
    make_current: bool = True,
) -> Celery:
    """The edge's app (the process's current and default app unless `make_current` is false). `broker_url`
    overrides the environment (the simulated cobot's --broker option)."""
    env = os.environ if environ is None else environ
    broker = celery_broker_url(broker_url) if broker_url else broker_url_from_env(env)
    # No fix-ups: Celery's Django fix-up would set Django up whenever DJANGO_SETTINGS_MODULE is in the environment.
    app = Celery(name, broker=broker, include=list(TASK_MODULES), fixups=[], set_as_current=make_current)
    settings = delivery_settings(visibility_timeout_from_env(env))
    settings["broker_transport_options"].update(edge_broker_keys(device_id_from_env(env)))
    # No remote control: it needs a fanout exchange (a pub/sub channel and a shared binding set) that the device's
    # Redis user may not use, and nobody steers an edge worker that way.
    settings["worker_enable_remote_control"] = False
    app.conf.update(settings)
    if make_current:
        app.set_default()
    return app
