"""Sending to the server: every message signed as this device (edge_worker.credentials), by task name, onto the
server's `ingest` queue, and nothing declared on the way.

Celery declares a queue (and binds it in kombu's `_kombu.binding.<exchange>` set) each time it publishes to it.
The ingest queue's binding set is shared by every device, and the edge's Redis user may not write it
(docs/deploy/redis-users.acl): a device that could would be able to route other devices' messages to a queue of
its choosing. The server's ingest worker declares the queue; a device only pushes onto it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_worker.contracts.queues import INGEST_QUEUE
from edge_worker.credentials import Credentials, credentials_from_env


def send_to_server(
    app: Any,
    task: str,
    body: Mapping[str, Any],
    *,
    queue: str = INGEST_QUEUE,
    credentials: Credentials | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Sign `body` as this device and send it as `task`; the message as sent."""
    message = (credentials or credentials_from_env()).sign(body, task)
    app.send_task(task, args=[message], queue=queue, declare=[], **options)
    return message
