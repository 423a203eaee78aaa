"""Delivery settings shared by the edge's Celery app and the server's: at-least-once, end to end.

Tasks acknowledge late (after their work is done) and are redelivered when their worker dies; the broker hands
an unacknowledged message to another consumer after the visibility timeout; every task is idempotent on its
message's unique id, so redelivery is safe. Publishing retries while Redis is away, so a restart delays messages
instead of losing them. Messages are JSON only (no pickle from the plant network).
"""

from __future__ import annotations

from typing import Any

from edge_worker.contracts.queues import ingest_routes

# Publishing a task (app default): retry for about two minutes, then the caller hears of the failure.
PUBLISH_RETRY_POLICY: dict[str, Any] = {"max_retries": 60, "interval_start": 0, "interval_step": 0.5, "interval_max": 2}
# Store and forward: a result, refusal or report exists nowhere else, so it is held and re-sent until the broker
# takes it. An outage delays it, never loses it.
STORE_AND_FORWARD_RETRY_POLICY: dict[str, Any] = {
    "max_retries": None,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 2.0,
}
# Telemetry is periodic: one that could not be sent is replaced by the next.
TELEMETRY_RETRY_POLICY: dict[str, Any] = {
    "max_retries": 2,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 1.0,
}


def delivery_settings(visibility_timeout_s: int) -> dict[str, Any]:
    """Celery settings (lower-case names) for either side's app."""
    return {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "task_routes": ingest_routes(),
        "task_publish_retry": True,
        "task_publish_retry_policy": dict(PUBLISH_RETRY_POLICY),
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": {
            "visibility_timeout": visibility_timeout_s,
            # Sweep for messages whose consumer died at least every few seconds (kombu's default is ~100 s).
            "unacked_restore_interval": max(1, min(10, visibility_timeout_s // 4)),
            "unacked_restore_throttle": 1,
        },
        "worker_prefetch_multiplier": 1,
    }
