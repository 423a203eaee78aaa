"""Server-side Celery tasks on the `ingest` queue. Thin: validate-and-store happens in inspection.actions.ingest.

Late acknowledgement: a message is acknowledged only after its transaction committed, so a worker that dies
mid-task leaves it to be redelivered; the actions are idempotent on the result id, so redelivery stores nothing
twice. A refused payload is not an error to retry: it is kept in a DeadLetter and the task completes. A database
that is away is an error to retry (with backoff, indefinitely): the message is re-queued, never dropped.

Group commit: with TWINWEB_INGEST_BATCH=N (N > 1) and a threads pool (`--pool threads --concurrency 32`), each
task hands its payload to one committer thread per process, which stores up to N waiting results in one
transaction and wakes every task once its result committed; each message is still acknowledged only after its
own commit. With the solo pool (the default) every result is its own transaction.

Every message is authenticated by the action before anything else (inspection.actions.edge_auth); Redis being
away while its nonce is checked is retried like the database being away.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError, close_old_connections, connection, connections
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from edge_worker.contracts.queues import (
    INGEST_REFUSAL_TASK,
    INGEST_RESULT_TASK,
    INGEST_TELEMETRY_TASK,
)
from inspection.actions.ingest import (
    RESULT_SOURCE,
    IngestOutcome,
    PayloadRefused,
    dead_letter,
    record_edge_refusal,
    record_inspection_results,
    record_telemetry,
)
from inspection.choices import DeadLetterReason
from twinweb import metrics

log = logging.getLogger(__name__)
# The database or Redis (the nonce store) away: retried with backoff, the message stays queued meanwhile.
TRANSIENT = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "max_retries": None,
    "retry_jitter": True,
}


class GroupCommitter:
    """Collects results from concurrent tasks and stores them in batches (one transaction per batch)."""

    def __init__(self, max_batch: int, max_wait_s: float = 0.005) -> None:
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[tuple[Any, Future[IngestOutcome]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, payload: Any) -> IngestOutcome:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ingest-group-commit", daemon=True)
                self._thread.start()
        future: Future[IngestOutcome] = Future()
        self._queue.put((payload, future))
        return future.result()

    def close(self) -> None:
        """Stop the committer thread once the queued results are stored; it closes its database connections."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)  # type: ignore[arg-type]
            self._thread.join(timeout=30)

    def _take(self) -> list[tuple[Any, Future[IngestOutcome]]]:
        batch = [self._queue.get()]
        while len(batch) < self.max_batch and batch[-1] is not _STOP:
            try:
                batch.append(self._queue.get(timeout=self.max_wait_s))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch[-1] is _STOP:
                batch.pop()
                if batch:
                    self._commit(batch)
                connections.close_all()
                return
            self._commit(batch)

    def _commit(self, batch: list[tuple[Any, Future[IngestOutcome]]]) -> None:
        try:
            close_old_connections()
            outcomes = record_inspection_results([payload for payload, _ in batch])
        except TRANSIENT as exc:  # the database (or Redis) is away: every task retries
            for _, future in batch:
                future.set_exception(exc)
            return
        except Exception:
            # One payload broke the batch: store the others one by one, so only that one fails.
            log.exception("group commit of %d results failed; storing them one by one", len(batch))
            for payload, future in batch:
                try:
                    future.set_result(record_inspection_results([payload])[0])
                except Exception as exc:
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes):
            future.set_result(outcome)


_STOP = object()
_committer: GroupCommitter | None = None


def _drop_stale_connections() -> None:
    """Connections persist across tasks (twinweb.celery); drop broken or expired ones first, as Django does at the
    start of a request (never inside a transaction, e.g. a test calling the task directly)."""
    if not connection.in_atomic_block:
        close_old_connections()


def _store(payload: Any) -> IngestOutcome:
    global _committer
    batch = int(os.environ.get("TWINWEB_INGEST_BATCH", "1"))
    if batch <= 1:
        _drop_stale_connections()
        return record_inspection_results([payload])[0]
    if _committer is None:
        _committer = GroupCommitter(batch)
    return _committer.submit(payload)


@shared_task(name=INGEST_RESULT_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True, **RETRY)
def ingest_result(payload: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        outcome = _store(payload)
    except TRANSIENT:
        raise  # retried with backoff: the message stays until the database takes it
    except Exception as exc:  # a bug or an unforeseen payload: keep it for a person rather than lose it
        log.exception("result could not be stored")
        letter = dead_letter(
            payload,
            reason=DeadLetterReason.MALFORMED,
            source=RESULT_SOURCE,
            detail=f"could not be stored ({type(exc).__name__}: {exc})",
        )
        metrics.record_ingest("failed", duration_s=time.perf_counter() - started)
        return {"refused": letter.reason, "dead_letter": letter.pk}
    if outcome.refused is not None:
        metrics.record_ingest("refused", duration_s=time.perf_counter() - started)
        return {"refused": outcome.refused.reason, "dead_letter": outcome.refused.pk}
    assert outcome.inspection is not None
    inspection = outcome.inspection
    metrics.record_ingest(
        "stored" if outcome.created else "duplicate",
        duration_s=time.perf_counter() - started,
        age_s=(inspection.received_at - inspection.captured_at).total_seconds() if outcome.created else None,
    )
    return {"inspection": inspection.pk, "created": outcome.created}


@shared_task(name=INGEST_TELEMETRY_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True, **RETRY)
def ingest_telemetry(payload: dict[str, Any]) -> dict[str, Any]:
    _drop_stale_connections()
    try:
        sample = record_telemetry(payload)
    except PayloadRefused as refused:
        return {"refused": refused.dead_letter.reason, "dead_letter": refused.dead_letter.pk}
    return {"telemetry": sample.pk}


@shared_task(name=INGEST_REFUSAL_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True, **RETRY)
def ingest_refusal(payload: dict[str, Any]) -> dict[str, Any]:
    """A message an edge device refused: kept in a dead letter (once per refusal id)."""
    _drop_stale_connections()
    letter, created = record_edge_refusal(payload)
    return {"dead_letter": letter.pk, "created": created}
