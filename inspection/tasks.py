"""Server-side Celery tasks on the `ingest` queue. Thin: validate-and-store happens in inspection.actions.ingest.

Late acknowledgement: a message is acknowledged only after its transaction committed, so a worker that dies
mid-task leaves it to be redelivered; the actions are idempotent on the result id, so redelivery stores nothing
twice. A refused payload is not an error to retry: it is kept in a DeadLetter and the task completes.
"""
from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from edge_worker.messages import INGEST_RESULT_TASK, INGEST_TELEMETRY_TASK
from inspection.actions.ingest import PayloadRefused, record_inspection_result, record_telemetry

log = logging.getLogger(__name__)


@shared_task(name=INGEST_RESULT_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def ingest_result(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        inspection, created = record_inspection_result(payload)
    except PayloadRefused as refused:
        return {"refused": refused.dead_letter.reason, "dead_letter": refused.dead_letter.pk}
    return {"inspection": inspection.pk, "created": created}


@shared_task(name=INGEST_TELEMETRY_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def ingest_telemetry(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        sample = record_telemetry(payload)
    except PayloadRefused as refused:
        return {"refused": refused.dead_letter.reason, "dead_letter": refused.dead_letter.pk}
    return {"telemetry": sample.pk}
