"""Sending to the server: every message signed as this device (edge_worker.credentials), by task name, onto the
server's `ingest` queue, and nothing declared on the way.

Celery declares a queue (and binds it in kombu's `_kombu.binding.<exchange>` set) each time it publishes to it.
The ingest queue's binding set is shared by every device, and the edge's Redis user may not write it
(docs/deploy/redis-users.acl): a device that could would be able to route other devices' messages to a queue of
its choosing. The server's ingest worker declares the queue; a device only pushes onto it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from edge_worker.contracts.queues import INGEST_QUEUE, INGEST_RESULT_TASK, INGEST_RESULTS_TASK
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


class ResultSender:
    """Sends results as they come, and several in one message when they queue up.

    A result is sent at once when no send is in flight (no waiting, so no added latency). While one is in flight
    (the broker slow or away, or a threads pool inspecting faster than one send), the results that arrive wait,
    and the next send carries them all as one INGEST_RESULTS_TASK message: up to `max_batch` results or
    `max_bytes` of images, each result signed on its own. Every caller returns once its own result was handed to
    the broker, so a task that acknowledges late still loses nothing if the device dies.
    """

    def __init__(
        self,
        app: Any,
        *,
        credentials: Credentials | None = None,
        max_batch: int = 32,
        max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.app = app
        self.credentials = credentials
        self.max_batch = max(1, max_batch)
        self.max_bytes = max_bytes
        self._waiting: list[tuple[Mapping[str, Any], Future[dict[str, Any]]]] = []
        self._waiting_lock = threading.Lock()
        self._sending = threading.Lock()

    def send(self, body: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        """Sign and send one result (`options` as Celery's send_task takes them); the message as sent."""
        sent: Future[dict[str, Any]] = Future()
        with self._waiting_lock:
            self._waiting.append((body, sent))
        while not sent.done():
            with self._sending:  # whoever holds it sends everything waiting, its own result among them
                if not sent.done():
                    self._send_waiting(options)
        return sent.result()

    def _take(self) -> list[tuple[Mapping[str, Any], Future[dict[str, Any]]]]:
        with self._waiting_lock:
            taken, size = 0, 0
            for body, _ in self._waiting:
                size += len(body.get("image_png_b64") or "") + 2048
                if taken and (taken == self.max_batch or size > self.max_bytes):
                    break
                taken += 1
            batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
            return batch

    def _send_waiting(self, options: dict[str, Any]) -> None:
        batch = self._take()
        if not batch:
            return
        credentials = self.credentials or credentials_from_env()
        try:
            messages = [credentials.sign(body, INGEST_RESULT_TASK) for body, _ in batch]
            if len(messages) == 1:
                self.app.send_task(INGEST_RESULT_TASK, args=[messages[0]], queue=INGEST_QUEUE, declare=[], **options)
            else:
                self.app.send_task(INGEST_RESULTS_TASK, args=[messages], queue=INGEST_QUEUE, declare=[], **options)
        except Exception as exc:  # each waiting caller hears of it (and its task retries); the sender goes on
            for _, sent in batch:
                sent.set_exception(exc)
            return
        for (_, sent), message in zip(batch, messages):
            sent.set_result(message)
