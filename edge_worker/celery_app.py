"""The edge device's own Celery app, configured from the environment only (the device has no Django settings):

    TWINWEB_BROKER_URL          the broker, e.g. redis://server.plant:6379/0     (first of these three that is set)
    CELERY_BROKER_URL           the same, under the name the server uses
    REDIS_URL                   redis://host:port/db or unix:///path/to/redis.sock
    CELERY_VISIBILITY_TIMEOUT_S seconds before an unacknowledged message is handed out again   default 60

Delivery settings are the ones the server's app uses (edge_worker.contracts.delivery). The edge's tasks are shared
tasks in the modules listed in TASK_MODULES, imported by the worker when it starts.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

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


def broker_url_from_env(environ: Mapping[str, str]) -> str:
    for name in BROKER_VARIABLES:
        value = environ.get(name, "").strip()
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


def create_app(environ: Mapping[str, str] | None = None, *, broker_url: str | None = None,
               name: str = "edge_worker", make_current: bool = True) -> Celery:
    """The edge's app (the process's current and default app unless `make_current` is false). `broker_url`
    overrides the environment (the simulated cobot's --broker option)."""
    env = os.environ if environ is None else environ
    broker = celery_broker_url(broker_url) if broker_url else broker_url_from_env(env)
    # No fix-ups: Celery's Django fix-up would set Django up whenever DJANGO_SETTINGS_MODULE is in the environment.
    app = Celery(name, broker=broker, include=list(TASK_MODULES), fixups=[], set_as_current=make_current)
    app.conf.update(delivery_settings(visibility_timeout_from_env(env)))
    if make_current:
        app.set_default()
    return app
