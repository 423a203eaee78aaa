"""The cell's cobot, simulated: Celery tasks on queue `cobot.<cell code>` (the edge worker consumes it with
`--queues cobot.<cell code>`). It performs each command (edge_worker.contracts.cobot) and answers with an
acknowledgement, sent by task name to the server's `ingest` queue.

Run a simulated cobot for a cell on its own:

    python -m edge_worker.simulated_cobot --broker redis://127.0.0.1:6379/0 --cell ac-cell-1
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from celery import Celery, shared_task

from edge_worker.contracts.cobot import CobotAck, MovePart, PresentView
from edge_worker.contracts.fields import MessageError
from edge_worker.contracts.inspection import utc_now
from edge_worker.contracts.queues import COBOT_ACK_TASK, INGEST_QUEUE, MOVE_PART_TASK, PRESENT_VIEW_TASK, cobot_queue

# How long the simulated arm takes (s): turning the part to a view, and carrying it to a destination.
SIMULATED_VIEW_S = 0.05
SIMULATED_MOVE_S = 0.1


def _now() -> str:
    return utc_now().isoformat()


def _refused(data: Any, kind: str, problem: MessageError) -> CobotAck:
    """The acknowledgement of a command the cobot cannot read: whatever ids it carried, and why."""
    fields = data if isinstance(data, dict) else {}
    return CobotAck(str(fields.get("command_id", ""))[:45], str(fields.get("cell", ""))[:40], kind, "refused",
                    str(problem)[:2000], _now())


def perform_present_view(data: Any) -> CobotAck:
    """What the simulated arm does for a view command; the acknowledgement it answers with."""
    try:
        view = PresentView.from_dict(data)
    except MessageError as exc:
        return _refused(data, "present_view", exc)
    time.sleep(SIMULATED_VIEW_S)
    detail = f"presenting {view.finding_kind} {view.finding_name} of {view.serial} (finding {view.finding_index + 1})"
    return CobotAck(view.command_id, view.cell, "present_view", "done", detail, _now())


def perform_move_part(data: Any) -> CobotAck:
    try:
        move = MovePart.from_dict(data)
    except MessageError as exc:
        return _refused(data, "move_part", exc)
    time.sleep(SIMULATED_MOVE_S)
    detail = f"{move.serial} placed: {move.destination}"
    return CobotAck(move.command_id, move.cell, "move_part", "done", detail, _now())


def _acknowledge(app: Celery, ack: CobotAck) -> None:
    app.send_task(COBOT_ACK_TASK, args=[ack.to_dict()], queue=INGEST_QUEUE)


@shared_task(name=PRESENT_VIEW_TASK, bind=True, acks_late=True)
def present_view(self: Any, data: dict[str, Any]) -> dict[str, Any]:
    ack = perform_present_view(data)
    _acknowledge(self.app, ack)
    return ack.to_dict()


@shared_task(name=MOVE_PART_TASK, bind=True, acks_late=True)
def move_part(self: Any, data: dict[str, Any]) -> dict[str, Any]:
    ack = perform_move_part(data)
    _acknowledge(self.app, ack)
    return ack.to_dict()


def main(argv: list[str] | None = None) -> None:
    from edge_worker.celery_app import create_app

    parser = argparse.ArgumentParser(description="Run the simulated cobot of one cell (a Celery worker).")
    parser.add_argument("--broker", default=None,
                        help="Celery broker URL (default: TWINWEB_BROKER_URL, CELERY_BROKER_URL or REDIS_URL)")
    parser.add_argument("--cell", required=True, help="cell code; the worker consumes queue cobot.<cell>")
    args = parser.parse_args(argv)
    app = create_app(broker_url=args.broker, name="cobot")
    app.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "-Q", cobot_queue(args.cell), "-n",
                     f"cobot-{args.cell}@%h"])


if __name__ == "__main__":
    main()
