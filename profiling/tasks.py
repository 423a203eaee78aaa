"""Server-side Celery task on the `ingest` queue: store a device's profiling report (thin: the action decides).

A malformed report is logged and answered with the reason; retrying would not fix it. One that is not authentic
is kept as a dead letter by the action. Redelivery is safe: the action is idempotent on the run id.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from edge_worker.contracts.queues import STORE_PROFILING_RUN_TASK
from inspection.actions.ingest import PayloadRefused
from profiling.actions import ProfilingReportError, store_profiling_run

log = logging.getLogger(__name__)


@shared_task(name=STORE_PROFILING_RUN_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def store_profiling_run_task(payload: dict[str, Any]) -> dict[str, Any]:
    try:
        run, created = store_profiling_run(payload)
    except PayloadRefused as refused:
        log.error("profiling report refused: %s", refused)
        return {"refused": str(refused), "dead_letter": refused.dead_letter.pk}
    except ProfilingReportError as exc:
        log.error("profiling report refused: %s", exc)
        return {"refused": str(exc)}
    return {"run": str(run.run_id), "created": created, "status": run.status}
