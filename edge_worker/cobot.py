"""The cell's cobot (simulated): Celery tasks on queue ``cobot.<cell code>``.

The server tells the cobot which finding to hold up to the operator (``present_view``) and, once a verdict is
signed, where the part goes (``move_part``: scrap bin, rework rack, back to the line, or hold). The cobot
answers every command with an acknowledgement, sent by task name to the server's ``ingest`` queue
(``inspection.tasks_cobot.record_cobot_ack``).

The message shapes are defined here once; the server imports them. Pure Python + Celery: no Django.

Run a simulated cobot for a cell on its own (no Django settings needed):

    python -m edge_worker.cobot --broker redis://127.0.0.1:6379/0 --cell ac-cell-1
"""
from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import Celery, current_app, shared_task

PRESENT_VIEW_TASK = "edge_worker.cobot.present_view"
MOVE_PART_TASK = "edge_worker.cobot.move_part"
ACK_TASK = "inspection.tasks_cobot.record_cobot_ack"
ACK_QUEUE = "ingest"
DESTINATIONS = ("scrap", "rework", "line", "hold")
VIEW_KINDS = ("dimension", "defect", "overview")
# How long the simulated arm takes (s): turning the part to a view, and carrying it to a destination.
SIMULATED_VIEW_S = 0.05
SIMULATED_MOVE_S = 0.1


def cobot_queue(cell_code: str) -> str:
    return f"cobot.{cell_code}"


class CobotMessageError(ValueError):
    pass


def _require(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in data:
        raise CobotMessageError(f"{name}: missing")
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise CobotMessageError(f"{name}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class PresentView:
    """Hold the part so the camera/operator sees one finding: its kind, name and box in image pixels."""

    command_id: str
    cell: str
    serial: str
    result_id: str
    finding_index: int
    finding_kind: str
    finding_name: str
    bbox: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PresentView":
        kind = _require(data, "finding_kind", str)
        if kind not in VIEW_KINDS:
            raise CobotMessageError(f"finding_kind: {kind!r} not in {VIEW_KINDS}")
        return cls(
            command_id=str(uuid.UUID(_require(data, "command_id", str))), cell=_require(data, "cell", str),
            serial=_require(data, "serial", str), result_id=_require(data, "result_id", str),
            finding_index=_require(data, "finding_index", int), finding_kind=kind,
            finding_name=_require(data, "finding_name", str), bbox=list(data.get("bbox") or []),
        )


@dataclass(frozen=True)
class MovePart:
    """Carry the part to a destination after the operator's signed verdict."""

    command_id: str
    cell: str
    serial: str
    result_id: str
    destination: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MovePart":
        destination = _require(data, "destination", str)
        if destination not in DESTINATIONS:
            raise CobotMessageError(f"destination: {destination!r} not in {DESTINATIONS}")
        return cls(
            command_id=str(uuid.UUID(_require(data, "command_id", str))), cell=_require(data, "cell", str),
            serial=_require(data, "serial", str), result_id=_require(data, "result_id", str),
            destination=destination, reason=str(data.get("reason", "")),
        )


@dataclass(frozen=True)
class CobotAck:
    command_id: str
    cell: str
    kind: str  # "present_view" | "move_part"
    status: str  # "done" | "refused"
    detail: str
    done_at: str  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CobotAck":
        status = _require(data, "status", str)
        if status not in ("done", "refused"):
            raise CobotMessageError(f"status: {status!r} not in ('done', 'refused')")
        kind = _require(data, "kind", str)
        if kind not in ("present_view", "move_part"):
            raise CobotMessageError(f"kind: {kind!r} is not a cobot command")
        done_at = _require(data, "done_at", str)
        dt.datetime.fromisoformat(done_at)
        return cls(
            command_id=str(uuid.UUID(_require(data, "command_id", str))), cell=_require(data, "cell", str),
            kind=kind, status=status, detail=str(data.get("detail", "")), done_at=done_at,
        )


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def perform_present_view(data: dict[str, Any]) -> CobotAck:
    """What the simulated arm does for a view command; the acknowledgement it answers with."""
    try:
        view = PresentView.from_dict(data)
    except (CobotMessageError, ValueError) as exc:
        return CobotAck(str(data.get("command_id", "")), str(data.get("cell", "")), "present_view", "refused", str(exc), _now())
    time.sleep(SIMULATED_VIEW_S)
    detail = f"presenting {view.finding_kind} {view.finding_name} of {view.serial} (finding {view.finding_index + 1})"
    return CobotAck(view.command_id, view.cell, "present_view", "done", detail, _now())


def perform_move_part(data: dict[str, Any]) -> CobotAck:
    try:
        move = MovePart.from_dict(data)
    except (CobotMessageError, ValueError) as exc:
        return CobotAck(str(data.get("command_id", "")), str(data.get("cell", "")), "move_part", "refused", str(exc), _now())
    time.sleep(SIMULATED_MOVE_S)
    return CobotAck(move.command_id, move.cell, "move_part", "done", f"{move.serial} placed: {move.destination}", _now())


def _acknowledge(ack: CobotAck) -> None:
    current_app.send_task(ACK_TASK, args=[ack.to_dict()], queue=ACK_QUEUE)


@shared_task(name=PRESENT_VIEW_TASK, acks_late=True)
def present_view(data: dict[str, Any]) -> dict[str, Any]:
    ack = perform_present_view(data)
    _acknowledge(ack)
    return ack.to_dict()


@shared_task(name=MOVE_PART_TASK, acks_late=True)
def move_part(data: dict[str, Any]) -> dict[str, Any]:
    ack = perform_move_part(data)
    _acknowledge(ack)
    return ack.to_dict()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the simulated cobot of one cell (a Celery worker).")
    parser.add_argument("--broker", required=True, help="Celery broker URL, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--cell", required=True, help="cell code; the worker consumes queue cobot.<cell>")
    args = parser.parse_args(argv)
    app = Celery("cobot", broker=args.broker)
    app.conf.task_default_queue = cobot_queue(args.cell)
    app.set_current()
    app.set_default()
    app.worker_main(["worker", "--pool=solo", "--loglevel=INFO", "-Q", cobot_queue(args.cell), "-n", f"cobot-{args.cell}@%h"])


if __name__ == "__main__":
    main()
