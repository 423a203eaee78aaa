"""Queue names and Celery task names, written once for both sides: each side sends the other's tasks by name and
never imports the other's task modules.

    edge.<device id>    the edge device's worker: captures to inspect, profiling runs
    cobot.<cell code>   the cell's (simulated) cobot: views to present, parts to move
    ingest              the server's ingest worker: results, telemetry, refusals, cobot acks, profiling reports
"""

from __future__ import annotations

INGEST_QUEUE = "ingest"


def edge_queue(device_id: str) -> str:
    return f"edge.{device_id}"


def cobot_queue(cell_code: str) -> str:
    return f"cobot.{cell_code}"


# Server tasks, on the ingest queue.
INGEST_RESULT_TASK = "inspection.tasks.ingest_result"
# Several results in one message (a device with a backlog): a list of result messages, each signed on its own as
# INGEST_RESULT_TASK; the list itself is only an envelope and carries nothing the server trusts.
INGEST_RESULTS_TASK = "inspection.tasks.ingest_results"
INGEST_TELEMETRY_TASK = "inspection.tasks.ingest_telemetry"
INGEST_REFUSAL_TASK = "inspection.tasks.ingest_refusal"
COBOT_ACK_TASK = "review.tasks.record_cobot_ack"
STORE_PROFILING_RUN_TASK = "profiling.tasks.store_profiling_run"
INGEST_TASKS = (
    INGEST_RESULT_TASK,
    INGEST_RESULTS_TASK,
    INGEST_TELEMETRY_TASK,
    INGEST_REFUSAL_TASK,
    COBOT_ACK_TASK,
    STORE_PROFILING_RUN_TASK,
)

# Edge tasks. The names are the wire's, kept stable when their modules move.
INSPECT_CAPTURE_TASK = "edge_worker.tasks.inspect_capture"  # on edge.<device id>
PROFILE_EDGE_TASK = "edge_worker.profiling_tasks.profile_edge"  # on edge.<device id>
PRESENT_VIEW_TASK = "edge_worker.cobot.present_view"  # on cobot.<cell code>
MOVE_PART_TASK = "edge_worker.cobot.move_part"  # on cobot.<cell code>


def ingest_routes() -> dict[str, dict[str, str]]:
    """Celery `task_routes`: every server task goes to the ingest queue, whoever sends it."""
    return {name: {"queue": INGEST_QUEUE} for name in INGEST_TASKS}
