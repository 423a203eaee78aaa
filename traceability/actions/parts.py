"""Batches and parts: a serial registered into a batch, the material and components it consumes, and its status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from traceability import audit, selectors
from traceability.actions.common import FINAL_PART_STATES, Actor, snapshot
from traceability.choices import BatchStatus, LotStatus, PartStatus
from traceability.errors import RefusedByRule
from traceability.models import (
    Batch,
    Cell,
    LotConsumption,
    MaterialLot,
    Part,
    PartComponent,
    PartType,
)
from twinweb.events import PartStatusChanged
from twinweb.live import publish_on_commit


@transaction.atomic
def create_batch(
    *,
    batch_number: str,
    part_type: PartType,
    planned_quantity: int,
    actor: Actor,
    cell: Cell | None = None,
    at: dt.datetime | None = None,
) -> Batch:
    batch = Batch(
        batch_number=batch_number,
        part_type=part_type,
        cell=cell,
        planned_quantity=planned_quantity,
        status=BatchStatus.IN_PROGRESS,
        created_at=at or timezone.now(),
    )
    batch.full_clean()
    batch.save()
    audit.append(actor=actor, action="batch.create", subject=batch, after=snapshot(batch))
    return batch


@transaction.atomic
def register_part(
    *,
    serial: str,
    batch: Batch,
    actor: Actor,
    at: dt.datetime | None = None,
    consumed_lots: Sequence[tuple[MaterialLot, Decimal]] = (),
    components: Sequence[Part] = (),
) -> Part:
    """A new serial starts in the cell: it belongs to a batch and consumes material and sub-assemblies."""
    at = at or timezone.now()
    part = Part(
        serial=serial,
        part_type=batch.part_type,
        batch=batch,
        status=PartStatus.IN_PROCESS,
        created_at=at,
        status_changed_at=at,
    )
    part.full_clean()
    part.save()
    for lot, quantity in consumed_lots:
        _consume(part, lot=lot, quantity=quantity, at=at)
    for component in components:
        _assemble(part, component=component, at=at)
    audit.append(
        actor=actor,
        action="part.register",
        subject=part,
        after={
            **snapshot(part),
            "lots": [[lot.lot_key, quantity] for lot, quantity in consumed_lots],
            "components": [c.serial for c in components],
        },
    )
    return part


def _consume(part: Part, *, lot: MaterialLot, quantity: Decimal, at: dt.datetime) -> LotConsumption:
    # The stored, locked status: a containment committing meanwhile must not be missed (PostgreSQL).
    lot.status = MaterialLot.objects.select_for_update().values_list("status", flat=True).get(pk=lot.pk)
    if lot.status not in (LotStatus.RELEASED,):
        raise RefusedByRule(
            gettext("Lot %(lot)s is %(status)s: it cannot be consumed.")
            % {"lot": lot.lot_key, "status": lot.get_status_display().lower()}
        )
    consumption = LotConsumption(part=part, lot=lot, quantity=quantity, consumed_at=at)
    consumption.full_clean()
    consumption.save()
    return consumption


def _assemble(assembly: Part, *, component: Part, at: dt.datetime) -> PartComponent:
    if component.status not in (PartStatus.PASSED, PartStatus.REWORKED):
        raise RefusedByRule(
            gettext("Component %(serial)s is %(status)s: only good parts are built in.")
            % {"serial": component.serial, "status": component.get_status_display().lower()}
        )
    link = PartComponent(assembly=assembly, component=component, assembled_at=at)
    link.full_clean()
    link.save()
    return link


@transaction.atomic
def consume_lot(
    part: Part, *, lot: MaterialLot, quantity: Decimal, actor: Actor, at: dt.datetime | None = None
) -> LotConsumption:
    consumption = _consume(part, lot=lot, quantity=quantity, at=at or timezone.now())
    audit.append(actor=actor, action="part.consume_lot", subject=part, after={"lot": lot.lot_key, "quantity": quantity})
    return consumption


@transaction.atomic
def assemble_component(
    assembly: Part, *, component: Part, actor: Actor, at: dt.datetime | None = None
) -> PartComponent:
    link = _assemble(assembly, component=component, at=at or timezone.now())
    audit.append(actor=actor, action="part.assemble", subject=assembly, after={"component": component.serial})
    return link


@transaction.atomic
def set_part_status(
    part: Part, *, status: PartStatus, actor: Actor, reason: str = "", at: dt.datetime | None = None
) -> Part:
    """Move a part to `status`. While a containment holds the part it stays on hold: the new status is kept as
    the one it takes on release (scrapping is the exception: destroying a suspect part is always safe)."""
    # Decide on the stored state. Only the part's row is locked (of "self"): its batch is shared by every part of
    # the cell's day, and a lock on it made each new part's foreign-key check wait, or deadlock, behind this one.
    part = Part.objects.select_for_update(of=("self",), no_key=True).select_related("batch").get(pk=part.pk)
    if part.status in FINAL_PART_STATES and status != part.status:
        raise RefusedByRule(
            gettext("Part %(serial)s is %(status)s: its status is final.")
            % {"serial": part.serial, "status": part.get_status_display().lower()}
        )
    before = part.status
    if before == status:
        return part
    holding = selectors.active_containment_lot_keys(part) if status != PartStatus.SCRAPPED else []
    if holding:
        deferred_before = part.status_on_release
        part.status_on_release = status
        part.save(update_fields=["status_on_release"])
        audit.append(
            actor=actor,
            action="part.status_deferred",
            subject=part,
            before={"status": before, "status_on_release": deferred_before},
            after={"status": before, "status_on_release": status, "held_by": holding},
            reason=f"{reason} (kept on hold: containment of {', '.join(holding)})".strip(),
        )
        return part
    part.status = status
    part.status_changed_at = at or timezone.now()
    part.save(update_fields=["status", "status_changed_at"])
    audit.append(
        actor=actor,
        action="part.status",
        subject=part,
        before={"status": before},
        after={"status": status},
        reason=reason,
    )
    cell_id = part.batch.cell_id
    if cell_id:
        publish_on_commit(cell_id, PartStatusChanged(serial=part.serial, status=status))
    return part
