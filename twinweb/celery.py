"""The Celery app: a queue per edge device (`edge.<device_id>`), one per cell's cobot (`cobot.<cell code>`) and
the server's `ingest` queue.

Delivery is at-least-once end to end: tasks acknowledge late (after their work committed) and are redelivered
when a worker dies (`reject_on_worker_lost`); the broker hands an unacknowledged message to another consumer
after CELERY_VISIBILITY_TIMEOUT_S; every task is idempotent on its message's unique id, so redelivery is safe.
Publishing retries while Redis is away, so a Redis restart delays messages instead of losing them.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

from edge_worker.contracts.delivery import delivery_settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "twinweb.settings")


class TwinWebCelery(Celery):
    def _connection(self, url: str, *args: Any, **kwargs: Any) -> Any:
        """Every broker connection (a worker's, a publisher's, `celery inspect`) is made here: with no REDIS_URL,
        the process holds the embedded Redis first (twinweb/embedded_redis.py)."""
        from twinweb import embedded_redis

        embedded_redis.needed()
        return super()._connection(url, *args, **kwargs)


app = TwinWebCelery("twinweb")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _defaults() -> dict[str, Any]:
    """Evaluated lazily, when the configuration is first read (settings are not importable at module import:
    this module is imported by the `twinweb` package itself)."""
    from django.conf import settings

    return {**delivery_settings(int(settings.CELERY_VISIBILITY_TIMEOUT_S)), "worker_hijack_root_logger": False}


app.add_defaults(_defaults)
# The server's tasks (the edge's own are registered on edge_worker.celery_app): ingest (inspection), the cobot's acknowledgements (review), profiling reports (profiling).
app.autodiscover_tasks(["inspection", "review", "profiling", "modelops"])


@signals.worker_init.connect
def _keep_database_connections(sender: Any = None, **_: Any) -> None:
    """Keep database connections across tasks, as Django keeps them across requests (CONN_MAX_AGE).

    Celery's Django fixup closes every connection before and after every task unless CELERY_DB_REUSE_MAX is set,
    and it looks that setting up under its old name, which the CELERY settings namespace never provides: every
    message opened a new PostgreSQL connection (bench/ingest.py --pool solo --batch 1: 29.5 -> 23.4 worker
    CPU-ms per result without it). Broken or expired connections are dropped before each task (below).
    """
    worker_app = getattr(sender, "app", None)
    for fixup in getattr(worker_app, "_fixups", None) or []:
        if hasattr(fixup, "worker_fixup"):
            fixup.worker_fixup.db_reuse_max = 1 << 62


@signals.task_prerun.connect
def _drop_stale_database_connections(**_: Any) -> None:
    """Before each task, as before each request: close connections that broke or outlived CONN_MAX_AGE."""
    from django.db import close_old_connections, connection

    if not connection.in_atomic_block:
        close_old_connections()
