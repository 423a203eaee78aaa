"""The cell's cobot, simulated: Celery tasks on queue `cobot.<cell code>` (the edge worker consumes it with
`--queues cobot.<cell code>`). It performs each command (edge_worker.contracts.cobot) and answers with an
acknowledgement, signed and sent by task name to the server's `ingest` queue.

Nothing moves before the command is verified: the server signs every command with the secrets of the cell's
devices (edge_worker.contracts.signing), and the cobot checks the MAC made with its own device's secret, the
command's age (TWINWEB_COBOT_COMMAND_MAX_AGE_S) and that its nonce was not used before. A command that fails any
of these is refused, and the refusal acknowledged, like a command it cannot read.

Run a simulated cobot for a cell on its own, as one of the cell's edge devices (its secret from
TWINWEB_EDGE_SECRET or TWINWEB_EDGE_SECRET_FILE):

    python -m edge_worker.simulated_cobot --broker redis://127.0.0.1:6379/0 --cell ac-cell-1 --device jetson-demo-01
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

from celery import Celery, shared_task

from edge_worker.contracts.cobot import CobotAck, MovePart, PresentView
from edge_worker.contracts.fields import MessageError
from edge_worker.contracts.inspection import utc_now
from edge_worker.contracts.queues import COBOT_ACK_TASK, MOVE_PART_TASK, PRESENT_VIEW_TASK, cobot_queue
from edge_worker.contracts.signing import AuthError, verify_command
from edge_worker.credentials import Credentials, clock_skew_s, command_max_age_s, credentials_from_env
from edge_worker.messaging import send_to_server

# How long the simulated arm takes (s): turning the part to a view, and carrying it to a destination.
SIMULATED_VIEW_S = 0.05
SIMULATED_MOVE_S = 0.1


def actuate(motion: str, seconds: float) -> None:
    """The arm moving (simulated: it takes time). Reached only by a verified, fresh, first-seen command."""
    time.sleep(seconds)


def _now() -> str:
    return utc_now().isoformat()


class CommandGuard:
    """The nonces of the commands this cobot accepted, kept as long as a command may be accepted at all: the same
    signed command delivered again (replayed, or redelivered while the first was still running) moves nothing.
    A cobot restarted after a crash has forgotten them and performs a redelivered command again, as it must."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, nonce: str, keep_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            for old in [n for n, until in self._seen.items() if until < now]:
                del self._seen[old]
            if nonce in self._seen:
                return False
            self._seen[nonce] = now + keep_s
            return True


GUARD = CommandGuard()


def _refused(data: Any, kind: str, problem: Exception) -> CobotAck:
    """The acknowledgement of a command the cobot will not perform: whatever ids it carried, and why."""
    fields = data if isinstance(data, dict) else {}
    return CobotAck(
        str(fields.get("command_id", ""))[:45],
        str(fields.get("cell", ""))[:40],
        kind,
        "refused",
        str(problem)[:2000],
        _now(),
    )


def _verified(data: Any, task: str, credentials: Credentials | None, guard: CommandGuard | None) -> dict[str, Any]:
    """The command's fields once it is shown to come from the server, fresh and not used before; AuthError if not."""
    credentials = credentials or credentials_from_env()
    max_age_s, skew_s = command_max_age_s(), clock_skew_s()
    try:
        body, auth = verify_command(
            data, task=task, secret=credentials.secret, now=utc_now(), max_age_s=max_age_s, max_skew_s=skew_s
        )
    except AuthError as exc:
        raise AuthError(f"unauthenticated command: {exc.problem}") from None
    if not (guard or GUARD).first_use(auth.nonce, max_age_s + skew_s):
        raise AuthError("unauthenticated command: replayed (its nonce was used before)")
    return body


def perform_present_view(
    data: Any, *, credentials: Credentials | None = None, guard: CommandGuard | None = None
) -> CobotAck:
    """What the simulated arm does for a view command; the acknowledgement it answers with."""
    try:
        view = PresentView.from_dict(_verified(data, PRESENT_VIEW_TASK, credentials, guard))
    except (AuthError, MessageError) as exc:
        return _refused(data, "present_view", exc)
    actuate(f"present {view.serial} finding {view.finding_index}", SIMULATED_VIEW_S)
    detail = f"presenting {view.finding_kind} {view.finding_name} of {view.serial} (finding {view.finding_index + 1})"
    return CobotAck(view.command_id, view.cell, "present_view", "done", detail, _now())


def perform_move_part(
    data: Any, *, credentials: Credentials | None = None, guard: CommandGuard | None = None
) -> CobotAck:
    try:
        move = MovePart.from_dict(_verified(data, MOVE_PART_TASK, credentials, guard))
    except (AuthError, MessageError) as exc:
        return _refused(data, "move_part", exc)
    actuate(f"move {move.serial} to {move.destination}", SIMULATED_MOVE_S)
    detail = f"{move.serial} placed: {move.destination}"
    return CobotAck(move.command_id, move.cell, "move_part", "done", detail, _now())


def _acknowledge(app: Celery, ack: CobotAck) -> None:
    send_to_server(app, COBOT_ACK_TASK, ack.to_dict())


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
    parser.add_argument(
        "--broker", default=None, help="Celery broker URL (default: TWINWEB_BROKER_URL, CELERY_BROKER_URL or REDIS_URL)"
    )
    parser.add_argument("--cell", required=True, help="cell code; the worker consumes queue cobot.<cell>")
    parser.add_argument(
        "--device",
        default=os.environ.get("TWINWEB_EDGE_DEVICE", ""),
        help="the edge device (of this cell) whose secret verifies commands and signs acknowledgements "
        "(default: TWINWEB_EDGE_DEVICE)",
    )
    args = parser.parse_args(argv)
    if args.device:
        os.environ["TWINWEB_EDGE_DEVICE"] = args.device
    from edge_worker.celery_app import EdgeConfigError

    try:
        credentials_from_env()
        app = create_app(broker_url=args.broker, name="cobot")
    except EdgeConfigError as exc:
        parser.exit(2, f"simulated cobot: {exc}\n")
    app.worker_main(
        ["worker", "--pool=solo", "--loglevel=INFO", "-Q", cobot_queue(args.cell), "-n", f"cobot-{args.cell}@%h"]
    )


if __name__ == "__main__":
    main()
