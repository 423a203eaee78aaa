"""Cobot messages. The server tells the cell's cobot which finding to hold up to the operator (`PresentView`) and,
once a verdict is signed, where the part goes (`MovePart`), on queue `cobot.<cell code>`. The cobot answers every
command with a `CobotAck` on the server's `ingest` queue (task COBOT_ACK_TASK)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, ClassVar

from edge_worker.contracts.fields import Integer, ListOf, Message, Text, Timestamp, UUIDValue
from edge_worker.contracts.inspection import CELL, PIXELS, SERIAL

DESTINATIONS = ("scrap", "rework", "line", "hold")
VIEW_KINDS = ("dimension", "defect", "overview")
COMMAND_KINDS = ("present_view", "move_part")
ACK_STATUSES = ("done", "refused", "failed")  # failed: the cobot did not complete it (a timeout)

COMMAND_ID = UUIDValue(as_text=True)
RESULT_ID = Text(max_len=40, blank=False)  # the inspection result's UUID, as the server holds it
BBOX_OR_NONE = ListOf(PIXELS, max_items=4, lengths=(0, 4), lengths_help="expected [x, y, w, h] numbers or []")


@dataclass(frozen=True)
class PresentView(Message):
    """Hold the part so the camera/operator sees one finding: its kind, name and box in image pixels."""

    KIND: ClassVar[str] = "present view"

    command_id: Annotated[str, COMMAND_ID]
    cell: Annotated[str, CELL]
    serial: Annotated[str, SERIAL]
    result_id: Annotated[str, RESULT_ID]
    finding_index: Annotated[int, Integer(0, 63)]
    finding_kind: Annotated[str, Text(max_len=20, choices=VIEW_KINDS)]
    finding_name: Annotated[str, Text(max_len=80)]
    bbox: Annotated[list[float], BBOX_OR_NONE] = field(default_factory=list)


@dataclass(frozen=True)
class MovePart(Message):
    """Carry the part to a destination after the operator's signed verdict."""

    KIND: ClassVar[str] = "move part"

    command_id: Annotated[str, COMMAND_ID]
    cell: Annotated[str, CELL]
    serial: Annotated[str, SERIAL]
    result_id: Annotated[str, RESULT_ID]
    destination: Annotated[str, Text(max_len=10, choices=DESTINATIONS)]
    reason: Annotated[str, Text(max_len=2000)] = ""


@dataclass(frozen=True)
class CobotAck(Message):
    """The cobot's answer to one command: done, or refused with why."""

    KIND: ClassVar[str] = "cobot acknowledgement"

    command_id: Annotated[str, COMMAND_ID]
    cell: Annotated[str, Text(max_len=40)]
    kind: Annotated[str, Text(max_len=20, choices=COMMAND_KINDS)]
    status: Annotated[str, Text(max_len=10, choices=ACK_STATUSES)]
    detail: Annotated[str, Text(max_len=2000)]
    done_at: Annotated[str, Timestamp(as_text=True)]  # ISO 8601, UTC
