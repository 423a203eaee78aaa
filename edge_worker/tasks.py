"""The edge device's Celery task: inspect one capture and send the result to the server's ingest queue.

Runs on the device with `--pool=solo` (or threads): the classifier and the power monitor are created in the
worker process on first use (or on `worker_process_init` under prefork), never before a fork. The result goes
back by task name (edge_worker.contracts.queues), signed as this device (edge_worker.messaging), so this module
imports nothing of the server (no Django, no ORM):

    send_to_server(app, INGEST_RESULT_TASK, result.to_dict())   # -> ingest queue, with its `auth` object
    (results that queue up behind a send in flight go together, as INGEST_RESULTS_TASK: messaging.ResultSender)

Late acknowledgement + a result id derived from the capture id: if the worker dies mid-task the capture is
redelivered and re-inspected, and the server stores its result once.

A capture that does not follow the schema cannot be inspected, but is not lost either: it goes back to the ingest
queue as a `Refusal` (the payload, its image left out when huge, and the reason), which the server keeps in a
dead-letter record, once per refusal id.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from celery import current_app, shared_task
from celery.signals import worker_process_init, worker_process_shutdown

from edge_worker.contracts.delivery import STORE_AND_FORWARD_RETRY_POLICY, TELEMETRY_RETRY_POLICY
from edge_worker.contracts.fields import MessageError
from edge_worker.contracts.inspection import Capture, InspectionResult, Telemetry, utc_now
from edge_worker.contracts.queues import (
    INGEST_REFUSAL_TASK,
    INGEST_TELEMETRY_TASK,
    INSPECT_CAPTURE_TASK,
)
from edge_worker.contracts.refusal import Refusal
from edge_worker.messaging import ResultSender, send_to_server
from edge_worker.runtime import device_id_from_env, get_runtime, reset_runtime

log = logging.getLogger(__name__)


def _fault_pause(point: str) -> None:
    """Fault injection for the kill-and-restart tests: EDGE_WORKER_FAULT_PAUSE=<point>:<seconds> sleeps there."""
    spec = os.environ.get("EDGE_WORKER_FAULT_PAUSE", "")
    if spec.startswith(point + ":"):
        seconds = float(spec.split(":", 1)[1])
        log.warning("fault injection: pausing %.1f s at %s", seconds, point)
        time.sleep(seconds)


_senders: dict[int, ResultSender] = {}
_senders_lock = threading.Lock()


def result_sender(app: Any) -> ResultSender:
    """One sender per Celery app in this process: results that queue up behind a send go together in the next."""
    with _senders_lock:
        sender = _senders.get(id(app))
        if sender is None:
            sender = _senders[id(app)] = ResultSender(
                app, max_batch=int(os.environ.get("TWINWEB_EDGE_SEND_BATCH", "32"))
            )
        return sender


def send_result(result: InspectionResult, app: Any = None) -> dict[str, Any]:
    """Send a result (stamped with its sending time, signed); the message as sent. Results waiting behind a send in
    flight go in one message (edge_worker.messaging.ResultSender)."""
    return result_sender(app or current_app).send(
        result.with_sent_at(utc_now()).to_dict(),
        retry=True,
        retry_policy=STORE_AND_FORWARD_RETRY_POLICY,
    )


def send_refusal(refusal: Refusal, app: Any = None) -> None:
    # Held and re-sent like a result: the refused message exists nowhere else once this task is acknowledged.
    send_to_server(
        app or current_app,
        INGEST_REFUSAL_TASK,
        refusal.to_dict(),
        retry=True,
        retry_policy=STORE_AND_FORWARD_RETRY_POLICY,
    )


def send_telemetry(telemetry: Telemetry, app: Any = None, *, expires_s: float = 60.0) -> None:
    # Telemetry is periodic: a message that could not be sent is replaced by the next one, and an old one expires.
    send_to_server(
        app or current_app,
        INGEST_TELEMETRY_TASK,
        telemetry.to_dict(),
        retry=True,
        retry_policy=TELEMETRY_RETRY_POLICY,
        expires=expires_s,
    )


@shared_task(name=INSPECT_CAPTURE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def inspect_capture(self: Any, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        capture = Capture.from_dict(payload)
    except MessageError as exc:
        # Nothing to inspect and no ids to report a result under: the server keeps it in a dead letter.
        refusal = Refusal.of(
            payload, device_id=device_id_from_env(), task=INSPECT_CAPTURE_TASK, reason=f"malformed capture: {exc}"
        )
        log.error("refused capture (refusal %s, sent to the server's dead letters): %s", refusal.refusal_id, exc)
        send_refusal(refusal, self.app)
        return {"refused": str(exc), "refusal_id": str(refusal.refusal_id)}
    runtime = get_runtime()
    result = runtime.inspect(capture)
    log.info(
        "capture %s serial %s at %s: %s (%.1f ms, %s)",
        capture.capture_id,
        capture.serial,
        capture.station,
        result.verdict,
        result.latency_ms,
        result.model.backend,
    )
    _fault_pause("before_send")
    send_result(result, self.app)
    _fault_pause("after_send")
    return {"result_id": str(result.result_id), "verdict": result.verdict}


@worker_process_init.connect
def _load_in_child(**_: Any) -> None:
    """Prefork: load the model in each child, after the fork."""
    if os.environ.get("TWINWEB_EDGE_PRELOAD", "1") == "1" and os.environ.get("TWINWEB_EDGE_WORKER") == "1":
        get_runtime()


@worker_process_shutdown.connect
def _close_in_child(**_: Any) -> None:
    reset_runtime()
