"""The edge device's profiling task, on its queue `edge.<device id>`: run the protocol, send the report to the
server's `ingest` queue by task name (STORE_PROFILING_RUN_TASK). No Django here.

Acknowledged early, unlike inspections: a run lasts minutes, longer than the broker's visibility timeout, and
re-running a half-done profile after a crash would measure a device that is recovering. A lost run stays
"queued" on the server; start another. Runs in the worker process (solo pool), so CUDA/TensorRT state is
created after any fork; inspections on this device wait while it profiles.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app, shared_task

from edge_worker.contracts.delivery import STORE_AND_FORWARD_RETRY_POLICY
from edge_worker.contracts.profiling import ProfileConfig
from edge_worker.contracts.queues import INGEST_QUEUE, PROFILE_EDGE_TASK, STORE_PROFILING_RUN_TASK
from edge_worker.messaging import send_to_server
from edge_worker.profiling.protocol import failure_report, profile_device

log = logging.getLogger(__name__)


def send_report(report: dict[str, Any], app: Any = None, queue: str = INGEST_QUEUE) -> None:
    """Send the report, signed as this device (the server refuses an unsigned one)."""
    send_to_server(
        app or current_app,
        STORE_PROFILING_RUN_TASK,
        report,
        queue=queue,
        retry=True,
        retry_policy=STORE_AND_FORWARD_RETRY_POLICY,
    )


def run_profile(run_id: str, device_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """The protocol as a plain function: the report dict, or a failure report saying why it could not run."""
    try:
        cfg = ProfileConfig.from_dict(config)
        return profile_device(cfg, device_id=device_id, run_id=run_id).to_dict()
    except Exception as exc:  # no model on the device, a bad config: the server must hear why
        log.exception("profiling run %s failed", run_id)
        return failure_report(run_id, device_id, config, f"{type(exc).__name__}: {exc}")


@shared_task(name=PROFILE_EDGE_TASK, bind=True, acks_late=False, ignore_result=True)
def profile_edge(
    self: Any, run_id: str, device_id: str, config: dict[str, Any], reply_queue: str = INGEST_QUEUE
) -> dict[str, Any]:
    report = run_profile(run_id, device_id, config)
    send_report(report, self.app, queue=reply_queue or INGEST_QUEUE)
    return {"run_id": run_id, "variants": len(report["variants"]), "error": report["error"]}
