"""Debug Mode test data: real rendered parts, measured by the vision library, stored through the ingest action.

The surface-defect finding and its confidence are chosen by the test (no classifier is needed), so each test
knows exactly what the operator will see."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from demo.reviews import CaseData, rendered_case, store_case
from edge_worker.contracts.queues import COBOT_ACK_TASK, MOVE_PART_TASK, PRESENT_VIEW_TASK
from edge_worker.simulated_cobot import CommandGuard, perform_move_part, perform_present_view
from edge_worker.vision.parts import DEMO_PART_TYPES
from inspection.actions.edge_auth import sign_for_cell
from inspection.models import Inspection
from review.choices import CobotCommandKind
from review.models import CobotCommand
from tests.support import factories
from tests.support import ingest_builders as builders
from traceability import actions
from traceability.models import Cell, Part, PartType


def demo_part_type(code: str = "CF-80", *, four_eyes: bool = False) -> PartType:
    """The part type the renderer knows, with its drawing's features (created once per test database)."""
    existing = PartType.objects.filter(code=code).first()
    if existing is not None:
        if existing.four_eyes_override != four_eyes:
            existing.four_eyes_override = four_eyes
            actions.save_record(existing, actor=None, reason="test setup")
        return existing
    spec = DEMO_PART_TYPES[code]
    return actions.create_part_type(
        code=code,
        name=spec.name,
        family=spec.family,
        drawing_number=spec.drawing_number,
        revision=spec.revision,
        features=actions.feature_inputs(spec.features),
        actor=None,
        four_eyes_override=four_eyes,
    )


def make_review_case(
    cell: Cell,
    *,
    code: str = "CF-80",
    defect: str = "scratch",
    seed: int = 2,
    confidence: float = 0.93,
    four_eyes: bool = False,
    serial: str | None = None,
    dimensions_mm: dict[str, float] | None = None,
    part: Part | None = None,
    station: str = "visual",
    **store: Any,
) -> Inspection:
    """A part of `cell` whose inspection awaits review: failed for any defect, a low-confidence pass for "ok".
    With `part`, another inspection of that part (at `station`), as the next station would report it."""
    for name in ("scratch", "dent", "burr", "crack", "missing_hole", "oversized_hole", "dimension_out_of_tolerance"):
        factories.make_defect_code(name)
    if part is None:
        part_type = demo_part_type(code, four_eyes=four_eyes)
        batch = factories.make_batch(part_type, cell)
        part = factories.make_part(batch, serial=serial)
    else:
        code = part.part_type.code
    data: CaseData = rendered_case(
        code, seed=seed, defect=defect, confidence_without_model=confidence, dimensions_mm=dimensions_mm
    )
    return store_case(
        part,
        cell.stations.get(code=station),
        data,
        result_id=uuid.uuid4(),
        source="test",
        device_id=cell_device(cell),
        **store,
    )


def cell_device(cell: Cell) -> str:
    """The edge device a review case of `cell` comes from (it also drives the cell's cobot)."""
    return f"jetson-{cell.code}"


def cobot_answer(command: CobotCommand) -> dict[str, Any]:
    """What the cell's simulated cobot answers `command` with, as it travels: the server signs the command as it
    leaves, the cobot (the cell's edge device) verifies and performs it and signs its acknowledgement."""
    task = {CobotCommandKind.MOVE_PART: MOVE_PART_TASK, CobotCommandKind.PRESENT_VIEW: PRESENT_VIEW_TASK}[
        CobotCommandKind(command.kind)
    ]
    sent = sign_for_cell(command.payload, task=task, cell=command.cell)
    device = builders.credentials(cell_device(command.cell))
    perform = perform_move_part if command.kind == CobotCommandKind.MOVE_PART else perform_present_view
    ack = perform(sent, credentials=device, guard=CommandGuard())
    return device.sign(ack.to_dict(), COBOT_ACK_TASK)


def make_two_station_part(cell: Cell, **store: Any) -> tuple[Inspection, Inspection]:
    """One part, two inspections awaiting review: a scratch found at the visual station, then an undersized bore
    at the dimensional station (which, the part having failed already, opens no second failure case)."""
    visual = make_review_case(cell, defect="scratch", seed=2, **store)
    dimensional = make_review_case(
        cell,
        part=visual.part,
        station="dimensional",
        defect="ok",
        seed=5,
        dimensions_mm={"bore_diameter": 29.9},
        captured_at=visual.captured_at + dt.timedelta(seconds=15),
    )
    assert (visual.verdict, dimensional.verdict) == ("fail", "fail")
    return visual, dimensional
