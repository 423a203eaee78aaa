"""What a batch of inspection results decides about its parts, stored set-based inside the batch's transaction:
failure cases, part status moves, and the measurements (COPY on PostgreSQL). Used by inspection.actions.ingest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import connection, transaction

from edge_worker.contracts.inspection import InspectionResult
from inspection.models import Measurement
from traceability import actions as trace_actions
from traceability import audit
from traceability.choices import PartStatus
from traceability.models import DefectCode, FailureCase, Part
from traceability.selectors import part_ids_held_by_active_containment
from twinweb.events import LiveEvent, PartStatusChanged
from twinweb.live import publish_many

DIMENSION_DEFECT_CODE = "dimension_out_of_tolerance"
OK_CLASS = "ok"


_MEASUREMENT_COLUMNS = ("inspection_id", "name", "kind", "value", "nominal", "lower_tol", "upper_tol", "unit", "passed")


def insert_measurements(rows: list[tuple[Any, ...]]) -> None:
    """Insert measurement rows (the columns above, then the geometry). On PostgreSQL through COPY: a result has
    several measurements and their INSERT, built and quoted value by value, was the largest single cost of storing
    a batch."""
    if connection.vendor != "postgresql":
        Measurement.objects.bulk_create(
            [Measurement(**dict(zip(_MEASUREMENT_COLUMNS, row[:-1])), geometry=row[-1] or {}) for row in rows]
        )
        return
    from psycopg.types.json import Jsonb

    columns = ", ".join(connection.ops.quote_name(c) for c in (*_MEASUREMENT_COLUMNS, "geometry"))
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {Measurement._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row[:-1], Jsonb(row[-1] or {})))


class DefectCodes:
    """The defect code of each failed result, looked up (or first recorded) once per code in a batch."""

    def __init__(self) -> None:
        self._by_code: dict[str, DefectCode] = {}

    def get(self, result: InspectionResult) -> DefectCode:
        code = result.defect_class if result.defect_class and result.defect_class != OK_CLASS else DIMENSION_DEFECT_CODE
        if code not in self._by_code:
            self._by_code[code] = DefectCode.objects.filter(code=code).first() or _first_reported(code)
        return self._by_code[code]


def _first_reported(code: str) -> DefectCode:
    """A class the model learned after the master data was set up: record it rather than lose the failure."""
    return trace_actions.save_record(  # type: ignore[return-value]
        DefectCode(code=code, name=code.replace("_", " ").capitalize()),
        actor=None,
        reason=f"defect class {code!r} first reported by an edge device",
    )


@dataclass
class _StatusMove:
    part: Part
    before: str
    status: PartStatus
    reason: str
    at: dt.datetime


class MachinePartChanges:
    """The failure cases and part status moves a batch of results decides, stored set-based: one insert for the
    cases, one update for the statuses, their audit records chained with the batch's. The same records, events and
    outcome as `traceability.actions.open_failure_case` and `set_part_status` one by one; a part an active
    containment holds goes through `set_part_status` itself (its new status waits for the release)."""

    def __init__(self) -> None:
        self.cases: list[FailureCase] = []
        self.moves: list[_StatusMove] = []
        self._case_audits: list[tuple[audit.PendingRecord, FailureCase]] = []

    def open(self, case: FailureCase, part: Part, status: PartStatus, *, reason: str, at: dt.datetime) -> None:
        self.cases.append(case)
        self.move(part, status, reason=reason, at=at)

    def move(self, part: Part, status: PartStatus, *, reason: str, at: dt.datetime) -> None:
        self.moves.append(_StatusMove(part, part.status, status, reason, at))
        part.status = status  # the batch's later results see it (the row is locked by this transaction)

    def name_case_in(self, entry: audit.PendingRecord, case: FailureCase) -> None:
        self._case_audits.append((entry, case))

    def apply(self) -> list[audit.PendingRecord]:
        records: list[audit.PendingRecord] = []
        if self.cases:
            FailureCase.objects.bulk_create(self.cases)
            records += [
                audit.PendingRecord(
                    None,
                    "failure_case.open",
                    ("traceability.failurecase", str(case.pk)),
                    after=trace_actions.snapshot(case),
                    at=None,
                )
                for case in self.cases
            ]
            for entry, case in self._case_audits:
                assert entry.after is not None
                entry.after["failure_case"] = case.pk
        held = part_ids_held_by_active_containment([m.part.pk for m in self.moves]) if self.moves else set()
        moved: list[_StatusMove] = []
        for move in self.moves:
            if move.part.pk in held:
                move.part.status = move.before  # decided by the action, on the stored row
                trace_actions.set_part_status(move.part, status=move.status, actor=None, reason=move.reason, at=move.at)
                continue
            move.part.status_changed_at = move.at
            moved.append(move)
        if moved:
            Part.objects.bulk_update([m.part for m in moved], ["status", "status_changed_at"])
            records += [
                audit.PendingRecord(
                    None,
                    "part.status",
                    move.part,
                    before={"status": move.before},
                    after={"status": move.status},
                    reason=move.reason,
                )
                for move in moved
            ]
            events: dict[int, list[LiveEvent]] = {}
            for move in moved:
                if move.part.batch.cell_id:
                    events.setdefault(move.part.batch.cell_id, []).append(
                        PartStatusChanged(serial=move.part.serial, status=move.status)
                    )
            for cell_id, cell_events in events.items():
                transaction.on_commit(partial(publish_many, cell_id, cell_events))
        return records
