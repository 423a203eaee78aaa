"""The cobot: the view of a finding it presents, the move of a decided part, and its acknowledgements (a
redelivered acknowledgement is a no-op: the command id is unique). The command leaves after commit, signed
then with the secrets of the cell's edge devices (the cobot moves nothing it cannot verify); an acknowledgement
counts only when an edge device of the command's cell signed it."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from edge_worker.contracts.cobot import CobotAck, MovePart, PresentView
from edge_worker.contracts.queues import (
    COBOT_ACK_TASK,
    MOVE_PART_TASK,
    PRESENT_VIEW_TASK,
    cobot_queue,
)
from inspection.actions.edge_auth import authenticate, refuse_unauthenticated, sign_for_cell
from inspection.choices import DeadLetterReason
from inspection.models import DeadLetter, Inspection
from review.choices import (
    CobotCommandKind,
)
from review.models import CobotCommand
from review.selectors import open_claim_of
from traceability import audit
from traceability.errors import NotFound, RefusedByRule
from traceability.models import Cell
from twinweb.events import CobotAcknowledged
from twinweb.live import publish_on_commit

log = logging.getLogger(__name__)


def send_after_commit(task: str, payload: dict[str, Any], queue: str, *, cell: Cell) -> None:
    if settings.TWINWEB_COBOT_LINK == "opcua":  # the cell gateway calls the cobot's method for the stored command
        return

    def send() -> None:
        from twinweb.celery import app

        try:  # signed as it leaves: its age is counted from now
            app.send_task(task, args=[sign_for_cell(payload, task=task, cell=cell)], queue=queue)
        except Exception:  # the command row stays unacknowledged: visible, and resendable
            log.exception("cobot command %s to %s not sent", payload.get("command_id"), queue)

    transaction.on_commit(send)


@transaction.atomic
def present_finding_view(
    inspection: Inspection, *, finding_index: int, finding_kind: str, finding_name: str, bbox: list[float], actor: Any
) -> CobotCommand:
    """Tell the cell's cobot to hold the part so the operator sees this finding."""
    inspection = Inspection.objects.select_related("part", "station__cell").get(pk=inspection.pk)
    if open_claim_of(inspection, actor) is None:
        raise RefusedByRule(gettext("Claim the case before moving the cobot."))
    cell = inspection.station.cell
    command = PresentView(
        command_id=str(uuid.uuid4()),
        cell=cell.code,
        serial=inspection.part.serial,
        result_id=str(inspection.result_id),
        finding_index=finding_index,
        finding_kind=finding_kind,
        finding_name=finding_name,
        bbox=[float(v) for v in bbox or []],
    )
    row = CobotCommand.objects.create(
        command_id=command.command_id,
        cell=cell,
        inspection=inspection,
        kind=CobotCommandKind.PRESENT_VIEW,
        payload=command.to_dict(),
        sent_at=timezone.now(),
    )
    send_after_commit(PRESENT_VIEW_TASK, command.to_dict(), cobot_queue(cell.code), cell=cell)
    return row


def move_part(inspection: Inspection, *, destination: str, reason: str) -> CobotCommand:
    cell = inspection.station.cell
    command = MovePart(
        command_id=str(uuid.uuid4()),
        cell=cell.code,
        serial=inspection.part.serial,
        result_id=str(inspection.result_id),
        destination=destination,
        reason=reason,
    )
    row = CobotCommand.objects.create(
        command_id=command.command_id,
        cell=cell,
        inspection=inspection,
        kind=CobotCommandKind.MOVE_PART,
        payload=command.to_dict(),
        sent_at=timezone.now(),
    )
    send_after_commit(MOVE_PART_TASK, command.to_dict(), cobot_queue(cell.code), cell=cell)
    return row


def record_cobot_ack(data: Any) -> tuple[CobotCommand, bool]:
    """Store the cobot's acknowledgement once (a redelivered ack is a no-op). Returns (command, recorded now).

    Authenticated first: signed by an edge device of the command's cell, or kept as an unauthenticated dead letter
    (PayloadRefused). MessageError when it does not follow its schema, NotFound when no such command was sent."""
    message = authenticate(data, task=COBOT_ACK_TASK, source=COBOT_ACK_TASK, device_field=None)
    ack = CobotAck.from_dict(message.body)
    device = message.device
    command_cell = CobotCommand.objects.filter(command_id=ack.command_id).values_list("cell_id", flat=True).first()
    if command_cell is not None and device.cell_id != command_cell:
        raise refuse_unauthenticated(
            data,
            source=COBOT_ACK_TASK,
            problem=(
                f"wrong cell: device {device.device_id!r} ({device.cell.code if device.cell else 'in no cell'}) "
                f"acknowledged command {ack.command_id} of another cell"
            ),
        )
    return _record_ack(ack)


@transaction.atomic
def _record_ack(ack: CobotAck) -> tuple[CobotCommand, bool]:
    command = (
        CobotCommand.objects.select_for_update(of=("self",))
        .select_related("inspection__part")
        .filter(command_id=ack.command_id)
        .first()
    )
    if command is None:
        raise NotFound(f"No cobot command {ack.command_id}.")
    if command.acked_at is not None:
        return command, False
    command.acked_at = dt.datetime.fromisoformat(ack.done_at)
    command.ack = ack.to_dict()
    command.save(update_fields=["acked_at", "ack"])
    if command.kind == CobotCommandKind.MOVE_PART and command.inspection is not None:
        audit.append(
            actor=None,
            action="cobot.move_part",
            subject=command.inspection.part,
            after={
                "destination": command.payload.get("destination"),
                "status": ack.status,
                "detail": ack.detail,
                "command_id": ack.command_id,
                "at": ack.done_at,
            },
        )
    publish_on_commit(
        command.cell_id,
        CobotAcknowledged(
            command=command.kind,
            command_id=ack.command_id,
            status=ack.status,
            detail=ack.detail,
            serial=command.payload.get("serial"),
        ),
    )
    return command, True


def record_cobot_completion(command_id: str, *, status: str, detail: str) -> tuple[CobotCommand, bool]:
    """The cobot's answer over the cell link (the return of its OPC UA method, or the gateway's timeout): `done`,
    or `failed` with why. Stored once, like an acknowledgement from the queue."""
    command = CobotCommand.objects.select_related("cell").get(command_id=command_id)
    ack = CobotAck(
        command_id=str(command.command_id),
        cell=command.cell.code,
        kind=command.kind,
        status=status,
        detail=detail[:2000],
        done_at=timezone.now().isoformat(),
    )
    return _record_ack(ack)


def dead_letter_cobot_ack(data: Any, *, problem: Exception) -> DeadLetter:
    """Keep an acknowledgement the server could not match or read, with why, for someone to look at."""
    payload = data if isinstance(data, dict) else {"raw": repr(data)[:2000]}
    return DeadLetter.objects.create(
        received_at=timezone.now(),
        source=COBOT_ACK_TASK,
        detail=str(problem)[:2000],
        reason=DeadLetterReason.CONFLICT if isinstance(problem, NotFound) else DeadLetterReason.MALFORMED,
        payload=payload,
        payload_bytes=len(json.dumps(payload, default=str)),
    )


# --- Signing ---------------------------------------------------------------------------------------------
