"""Server-side Celery tasks on the `ingest` queue. Thin: validate-and-store happens in inspection.actions.ingest.

Late acknowledgement: a message is acknowledged only after its transaction committed, so a worker that dies
mid-task leaves it to be redelivered; the actions are idempotent on the result id, so redelivery stores nothing
twice. A refused payload is not an error to retry: it is kept in a DeadLetter and the task completes. A database
that is away is an error to retry (with backoff, indefinitely): the message is re-queued, never dropped.

Group commit: with TWINWEB_INGEST_BATCH=N (N > 1) and a threads pool (`--pool threads --concurrency 32`), each
task hands its payload to one committer thread per process, which stores up to N waiting results in one
transaction and wakes every task once its result committed; each message is still acknowledged only after its
own commit. With the solo pool (the default) every result is its own transaction.

Batches on the wire: a device with a backlog sends `ingest_results`, one message holding many results, each
signed on its own. They are stored in transactions of up to RESULTS_PER_TRANSACTION, with one broker delivery and
one acknowledgement for the lot: the worker's per-message cost (Celery's delivery, the unacked-message bookkeeping
in Redis, the ack) is paid once per batch instead of once per result.

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
    INGEST_RESULTS_TASK,
    INGEST_TELEMETRY_TASK,
)
from inspection.actions.ingest import (
    RESULT_SOURCE,
    RESULTS_SOURCE,
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
        return self._enqueue([payload])[0].result()

    def submit_many(self, payloads: list[Any]) -> list[IngestOutcome | Exception]:
        """Each payload's outcome, or the exception that kept it from being stored; the database or Redis being
        away raises (retry them all)."""
        outcomes: list[IngestOutcome | Exception] = []
        for future in self._enqueue(payloads):
            try:
                outcomes.append(future.result())
            except TRANSIENT:
                raise
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _enqueue(self, payloads: list[Any]) -> list[Future[IngestOutcome]]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ingest-group-commit", daemon=True)
                self._thread.start()
        futures: list[Future[IngestOutcome]] = []
        for payload in payloads:
            futures.append(Future())
            self._queue.put((payload, futures[-1]))
        return futures

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
            outcomes = store_batch([payload for payload, _ in batch])
        except TRANSIENT as exc:  # the database (or Redis) is away: every task retries
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


def store_batch(payloads: list[Any]) -> list[IngestOutcome | Exception]:
    """Store results in one transaction; if one payload breaks the batch, store the others one by one so that only
    that one fails (its exception takes its place). The database or Redis being away raises: retry them all."""
    try:
        return list(record_inspection_results(payloads))
    except TRANSIENT:
        raise
    except Exception:
        log.exception("group commit of %d results failed; storing them one by one", len(payloads))
    outcomes: list[IngestOutcome | Exception] = []
    for payload in payloads:
        try:
            outcomes.append(record_inspection_results([payload])[0])
        except TRANSIENT:
            raise
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


# A message with more results than this is stored in several transactions (bounded lock time per transaction).
RESULTS_PER_TRANSACTION = 128
_STOP = object()
_committer: GroupCommitter | None = None
_committer_lock = threading.Lock()


def _drop_stale_connections() -> None:
    """Connections persist across tasks (twinweb.celery); drop broken or expired ones first, as Django does at the
    start of a request (never inside a transaction, e.g. a test calling the task directly)."""
    if not connection.in_atomic_block:
        close_old_connections()


def _group_committer() -> GroupCommitter | None:
    """This process's committer thread when group commit is on (TWINWEB_INGEST_BATCH > 1), else None."""
    global _committer
    batch = int(os.environ.get("TWINWEB_INGEST_BATCH", "1"))
    if batch <= 1:
        return None
    with _committer_lock:  # the first tasks of a threads pool arrive together
        if _committer is None:
            _committer = GroupCommitter(batch)
        return _committer


def _store(payload: Any) -> IngestOutcome:
    committer = _group_committer()
    if committer is None:
        _drop_stale_connections()
        return record_inspection_results([payload])[0]
    return committer.submit(payload)


@shared_task(name=INGEST_RESULT_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True, **RETRY)
def ingest_result(payload: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        outcome: IngestOutcome | Exception = _store(payload)
    except TRANSIENT:
        raise  # retried with backoff: the message stays until the database takes it
    except Exception as exc:
        outcome = exc
    return _settle(payload, outcome, started)


@shared_task(name=INGEST_RESULTS_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True, **RETRY)
def ingest_results(payloads: Any) -> dict[str, Any]:
    """Several results in one message, from a device with a backlog. Each is authenticated and stored exactly as
    if it came alone, in transactions of up to RESULTS_PER_TRANSACTION results; the message is acknowledged after the
    last one committed. A retry (database away, worker killed) stores again only what had not committed."""
    started = time.perf_counter()
    if not isinstance(payloads, list) or not payloads:
        return _malformed(
            payloads,
            RESULTS_SOURCE,
            f"{INGEST_RESULTS_TASK} takes a non-empty list of result messages, not {type(payloads).__name__}",
            "refused",
            started,
        )
    committer = _group_committer()
    outcomes: list[IngestOutcome | Exception] = []
    if committer is not None:  # one writer per process, as for single results
        outcomes = committer.submit_many(payloads)
    else:
        _drop_stale_connections()
        for start in range(0, len(payloads), RESULTS_PER_TRANSACTION):
            outcomes += store_batch(payloads[start : start + RESULTS_PER_TRANSACTION])
    settled = [_settle(payload, outcome, started) for payload, outcome in zip(payloads, outcomes)]
    return {
        "stored": sum(1 for s in settled if s.get("created") is True),
        "duplicates": sum(1 for s in settled if s.get("created") is False),
        "refused": sum(1 for s in settled if "refused" in s),
    }


def _malformed(payload: Any, source: str, detail: str, outcome: str, started: float) -> dict[str, Any]:
    letter = dead_letter(payload, reason=DeadLetterReason.MALFORMED, source=source, detail=detail)
    metrics.record_ingest(outcome, duration_s=time.perf_counter() - started)
    return {"refused": letter.reason, "dead_letter": letter.pk}


def _settle(payload: Any, outcome: IngestOutcome | Exception, started: float) -> dict[str, Any]:
    """What became of one result: counted in the metrics; a payload that broke its storing kept as a dead letter
    (a bug or an unforeseen payload: kept for a person rather than lost)."""
    if isinstance(outcome, Exception):
        log.error("result could not be stored", exc_info=outcome)
        detail = f"could not be stored ({type(outcome).__name__}: {outcome})"
        return _malformed(payload, RESULT_SOURCE, detail, "failed", started)
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
