"""Bulk history (demo seeding, imports from a previous system): parts already made, recorded in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from traceability import audit
from traceability.actions.common import Actor
from traceability.choices import PartStatus
from traceability.models import Batch, LotConsumption, MaterialLot, Part, StationEvent


@dataclass
class HistoricalPart:
    serial: str
    created_at: dt.datetime
    status: PartStatus
    lots: list[tuple[MaterialLot, Decimal]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # station, entered_at, left_at, outcome, parameters


@transaction.atomic
def import_production_history(
    batch: Batch, *, parts: Sequence[HistoricalPart], actor: Actor, source: str
) -> list[Part]:
    """Record parts already made (from another system, or the demo's history) in one transaction.

    Each part gets its own audit record naming the source, so the trail says where the history came from.
    """
    created = Part.objects.bulk_create(
        [
            Part(
                serial=h.serial,
                part_type_id=batch.part_type_id,
                batch=batch,
                status=h.status,
                created_at=h.created_at,
                status_changed_at=h.events[-1]["left_at"] if h.events else h.created_at,
            )
            for h in parts
        ]
    )
    by_serial = {p.serial: p for p in created}
    LotConsumption.objects.bulk_create(
        [
            LotConsumption(part=by_serial[h.serial], lot=lot, quantity=quantity, consumed_at=h.created_at)
            for h in parts
            for lot, quantity in h.lots
        ]
    )
    StationEvent.objects.bulk_create(
        [StationEvent(part=by_serial[h.serial], **event) for h in parts for event in h.events], batch_size=2000
    )
    audit.append_many(
        [
            audit.PendingRecord(
                actor,
                "part.import",
                by_serial[h.serial],
                after={
                    "status": h.status,
                    "batch": batch.batch_number,
                    "created_at": h.created_at,
                    "lots": [[lot.lot_key, quantity] for lot, quantity in h.lots],
                    "station_events": len(h.events),
                },
                reason=f"imported from {source}",
            )
            for h in parts
        ]
    )
    return created
