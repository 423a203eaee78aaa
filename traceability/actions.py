"""Every write of the traceability domain. One transaction each, with the acting user, and the audit record
written inside that same transaction.

Actions validate (`full_clean`), save, append to the audit trail and schedule live events after commit. They
compose: an action called inside another action's transaction joins it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from traceability import audit
from traceability.choices import (
    BatchStatus,
    Disposition,
    FailureCaseStatus,
    FoundBy,
    LotLinkKind,
    LotStatus,
    PalletStatus,
    PartStatus,
    StationOutcome,
)
from traceability.errors import RefusedByRule
from traceability.models import (
    AuditRecord,
    Batch,
    Cell,
    Containment,
    ContainmentHold,
    DefectCode,
    FailureCase,
    LotConsumption,
    LotLink,
    MaterialDefinition,
    MaterialLot,
    Pallet,
    Part,
    PartComponent,
    PartType,
    Station,
    StationEvent,
)
from twinweb.live import publish_on_commit

# Who acts: a signed-in user (settings.AUTH_USER_MODEL is Django's own User), an anonymous visitor, or None for
# the system itself.
Actor: TypeAlias = User | AnonymousUser | None
_M = TypeVar("_M", bound=models.Model)


def signed_in_user(actor: Actor) -> User | None:
    """The user behind an actor, for the tables that name one; None for the system and for anonymous visitors."""
    return actor if actor is not None and actor.is_authenticated else None

# Parts in these states may no longer change through production actions (only through a correction).
FINAL_PART_STATES = {PartStatus.SCRAPPED, PartStatus.SHIPPED}


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The audited view of a model instance: concrete field values, foreign keys as ids."""
    names = set(fields) if fields is not None else None
    data: dict[str, Any] = {}
    for f in instance._meta.concrete_fields:
        if names is not None and f.name not in names:
            continue
        data[f.attname if f.is_relation else f.name] = f.value_from_object(instance)
    return data


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


# --- Generic master data (plant hierarchy, part types, materials, defect codes) ------------------------


@transaction.atomic
def save_record(instance: _M, *, actor: Actor, reason: str = "") -> _M:
    """Create or update a record through the audit trail (used by the admin and by setup code)."""
    instance.full_clean()
    creating = instance._state.adding or instance.pk is None
    before = {} if creating else snapshot(type(instance)._default_manager.get(pk=instance.pk))
    instance.save()
    after = snapshot(instance)
    label = instance._meta.label_lower
    if creating:
        audit.append(actor=actor, action=f"{label}.create", subject=instance, after=after, reason=reason)
    else:
        old, new = _changes(before, after)
        if new:
            audit.append(actor=actor, action=f"{label}.update", subject=instance, before=old, after=new, reason=reason)
    return instance


@transaction.atomic
def delete_record(instance: models.Model, *, actor: Actor, reason: str = "") -> None:
    before = snapshot(instance)
    audit.append(actor=actor, action=f"{instance._meta.label_lower}.delete", subject=instance, before=before, reason=reason)
    instance.delete()


@transaction.atomic
def correct_record(
    instance: models.Model, *, corrects: AuditRecord, changes: dict[str, Any], reason: str, actor: Actor
) -> AuditRecord:
    """Correct earlier recorded values. The original audit record stays as it was; the correction points at it."""
    if not reason.strip():
        raise RefusedByRule("A correction needs a reason.")
    subject_type, subject_key = audit.subject_identity(instance)
    if (corrects.subject_type, corrects.subject_key) != (subject_type, subject_key):
        raise RefusedByRule("The corrected record is about another subject.")
    before = snapshot(instance, changes.keys())
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save(update_fields=list(changes))
    return audit.append(
        actor=actor, action=f"{instance._meta.label_lower}.correct", subject=instance,
        before=before, after=snapshot(instance, changes.keys()), reason=reason, corrects=corrects,
    )


# --- Material lots -------------------------------------------------------------------------------------


@transaction.atomic
def receive_lot(
    *,
    lot_key: str,
    material: MaterialDefinition,
    quantity: Decimal,
    received_at: dt.datetime,
    actor: Actor,
    supplier: str = "",
    supplier_lot_number: str = "",
) -> MaterialLot:
    lot = MaterialLot(
        lot_key=lot_key, material=material, supplier=supplier, supplier_lot_number=supplier_lot_number,
        received_at=received_at, quantity=quantity,
    )
    lot.full_clean()
    lot.save()
    audit.append(actor=actor, action="lot.receive", subject=lot, after=snapshot(lot))
    return lot


def _link_lots(parent: MaterialLot, child: MaterialLot, *, kind: LotLinkKind, quantity: Decimal, at: dt.datetime) -> LotLink:
    link = LotLink(parent=parent, child=child, kind=kind, quantity=quantity, linked_at=at)
    link.full_clean()
    link.save()
    return link


@transaction.atomic
def split_lot(
    parent: MaterialLot, *, children: Sequence[tuple[str, Decimal]], actor: Actor, at: dt.datetime | None = None
) -> list[MaterialLot]:
    """Split `parent` into new lots (lot key, quantity each); what remains stays in the parent."""
    at = at or timezone.now()
    total = sum((quantity for _, quantity in children), Decimal(0))
    if total > parent.quantity:
        raise RefusedByRule(f"Cannot split {total} out of lot {parent.lot_key}, which holds {parent.quantity}.")
    if parent.status != LotStatus.RELEASED:
        raise RefusedByRule(f"Lot {parent.lot_key} is {parent.get_status_display().lower()}: only released lots split.")
    created = []
    for lot_key, quantity in children:
        child = MaterialLot(
            lot_key=lot_key, material=parent.material, supplier=parent.supplier,
            supplier_lot_number=parent.supplier_lot_number, received_at=at, quantity=quantity,
        )
        child.full_clean()
        child.save()
        _link_lots(parent, child, kind=LotLinkKind.SPLIT, quantity=quantity, at=at)
        created.append(child)
    before = {"quantity": parent.quantity}
    parent.quantity -= total
    parent.save(update_fields=["quantity"])
    audit.append(
        actor=actor, action="lot.split", subject=parent, before=before,
        after={"quantity": parent.quantity, "children": [[c.lot_key, c.quantity] for c in created]},
    )
    return created


@transaction.atomic
def merge_lots(
    parents: Sequence[tuple[MaterialLot, Decimal]], *, lot_key: str, actor: Actor, at: dt.datetime | None = None
) -> MaterialLot:
    """Merge quantities of several lots of one material into a new lot."""
    at = at or timezone.now()
    if len(parents) < 2:
        raise RefusedByRule("A merge needs at least two lots.")
    materials = {lot.material_id for lot, _ in parents}
    if len(materials) != 1:
        raise RefusedByRule("Only lots of the same material can be merged.")
    for lot, quantity in parents:
        if quantity > lot.quantity:
            raise RefusedByRule(f"Lot {lot.lot_key} holds {lot.quantity}, less than {quantity}.")
        if lot.status != LotStatus.RELEASED:
            raise RefusedByRule(f"Lot {lot.lot_key} is {lot.get_status_display().lower()}: only released lots merge.")
    first = parents[0][0]
    merged = MaterialLot(
        lot_key=lot_key, material=first.material, supplier="(merged)", received_at=at,
        quantity=sum((q for _, q in parents), Decimal(0)),
    )
    merged.full_clean()
    merged.save()
    for lot, quantity in parents:
        _link_lots(lot, merged, kind=LotLinkKind.MERGE, quantity=quantity, at=at)
        lot.quantity -= quantity
        if lot.quantity == 0:
            lot.status = LotStatus.CONSUMED
        lot.save(update_fields=["quantity", "status"])
    audit.append(
        actor=actor, action="lot.merge", subject=merged, after={
            **snapshot(merged), "parents": [[lot.lot_key, quantity] for lot, quantity in parents]
        },
    )
    return merged


@transaction.atomic
def set_lot_status(lot: MaterialLot, *, status: LotStatus, actor: Actor, reason: str) -> MaterialLot:
    if not reason.strip():
        raise RefusedByRule("Changing a lot's status needs a reason.")
    before = lot.status
    lot.status = status
    lot.full_clean()
    lot.save(update_fields=["status"])
    audit.append(
        actor=actor, action="lot.status", subject=lot, before={"status": before}, after={"status": status}, reason=reason
    )
    return lot


# --- Batches and parts ---------------------------------------------------------------------------------


@transaction.atomic
def create_batch(
    *, batch_number: str, part_type: PartType, planned_quantity: int, actor: Actor, cell: Cell | None = None,
    at: dt.datetime | None = None,
) -> Batch:
    batch = Batch(
        batch_number=batch_number, part_type=part_type, cell=cell, planned_quantity=planned_quantity,
        status=BatchStatus.IN_PROGRESS, created_at=at or timezone.now(),
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
        serial=serial, part_type=batch.part_type, batch=batch, status=PartStatus.IN_PROCESS,
        created_at=at, status_changed_at=at,
    )
    part.full_clean()
    part.save()
    for lot, quantity in consumed_lots:
        _consume(part, lot=lot, quantity=quantity, at=at)
    for component in components:
        _assemble(part, component=component, at=at)
    audit.append(
        actor=actor, action="part.register", subject=part, after={
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
        raise RefusedByRule(f"Lot {lot.lot_key} is {lot.get_status_display().lower()}: it cannot be consumed.")
    consumption = LotConsumption(part=part, lot=lot, quantity=quantity, consumed_at=at)
    consumption.full_clean()
    consumption.save()
    return consumption


def _assemble(assembly: Part, *, component: Part, at: dt.datetime) -> PartComponent:
    if component.status not in (PartStatus.PASSED, PartStatus.REWORKED):
        raise RefusedByRule(f"Component {component.serial} is {component.get_status_display().lower()}: only good parts are built in.")
    link = PartComponent(assembly=assembly, component=component, assembled_at=at)
    link.full_clean()
    link.save()
    return link


@transaction.atomic
def consume_lot(part: Part, *, lot: MaterialLot, quantity: Decimal, actor: Actor, at: dt.datetime | None = None) -> LotConsumption:
    consumption = _consume(part, lot=lot, quantity=quantity, at=at or timezone.now())
    audit.append(actor=actor, action="part.consume_lot", subject=part, after={"lot": lot.lot_key, "quantity": quantity})
    return consumption


@transaction.atomic
def assemble_component(assembly: Part, *, component: Part, actor: Actor, at: dt.datetime | None = None) -> PartComponent:
    link = _assemble(assembly, component=component, at=at or timezone.now())
    audit.append(actor=actor, action="part.assemble", subject=assembly, after={"component": component.serial})
    return link


def _active_containments(part: Part) -> list[str]:
    """Lot keys of the active containments holding the part."""
    return list(ContainmentHold.objects.filter(part=part, containment__released_at__isnull=True)
                .order_by("containment__lot__lot_key").values_list("containment__lot__lot_key", flat=True))


@transaction.atomic
def set_part_status(part: Part, *, status: PartStatus, actor: Actor, reason: str = "", at: dt.datetime | None = None) -> Part:
    """Move a part to `status`. While a containment holds the part it stays on hold: the new status is kept as
    the one it takes on release (scrapping is the exception: destroying a suspect part is always safe)."""
    part = Part.objects.select_for_update().select_related("batch").get(pk=part.pk)  # decide on the stored state
    if part.status in FINAL_PART_STATES and status != part.status:
        raise RefusedByRule(f"Part {part.serial} is {part.get_status_display().lower()}: its status is final.")
    before = part.status
    if before == status:
        return part
    holding = _active_containments(part) if status != PartStatus.SCRAPPED else []
    if holding:
        deferred_before = part.status_on_release
        part.status_on_release = status
        part.save(update_fields=["status_on_release"])
        audit.append(actor=actor, action="part.status_deferred", subject=part,
                     before={"status": before, "status_on_release": deferred_before},
                     after={"status": before, "status_on_release": status, "held_by": holding},
                     reason=f"{reason} (kept on hold: containment of {', '.join(holding)})".strip())
        return part
    part.status = status
    part.status_changed_at = at or timezone.now()
    part.save(update_fields=["status", "status_changed_at"])
    audit.append(actor=actor, action="part.status", subject=part, before={"status": before}, after={"status": status}, reason=reason)
    cell_id = part.batch.cell_id
    if cell_id:
        publish_on_commit(cell_id, {"type": "part.status", "serial": part.serial, "status": status})
    return part


# --- Station events ------------------------------------------------------------------------------------


@transaction.atomic
def record_station_entry(
    part: Part, *, station: Station, actor: Actor, at: dt.datetime | None = None, parameters: dict[str, Any] | None = None
) -> StationEvent:
    event = StationEvent(part=part, station=station, entered_at=at or timezone.now(), parameters=parameters or {})
    event.full_clean()
    event.save()
    audit.append(actor=actor, action="station.enter", subject=part, after={"station": station.code, "at": event.entered_at})
    publish_on_commit(station.cell_id, {
        "type": "station.entered", "station": station.code, "serial": part.serial, "at": event.entered_at.isoformat(),
    })
    return event


@transaction.atomic
def record_station_exit(
    event: StationEvent, *, outcome: StationOutcome, actor: Actor, at: dt.datetime | None = None,
    parameters: dict[str, Any] | None = None,
) -> StationEvent:
    if event.left_at is not None:
        raise RefusedByRule(f"Part {event.part_id} already left station {event.station_id}.")
    event.left_at = at or timezone.now()
    event.outcome = outcome
    if parameters:
        event.parameters = {**event.parameters, **parameters}
    event.full_clean()
    event.save(update_fields=["left_at", "outcome", "parameters"])
    audit.append(
        actor=actor, action="station.leave", subject=event.part,
        after={"station": event.station.code, "at": event.left_at, "outcome": outcome, "parameters": parameters or {}},
    )
    publish_on_commit(event.station.cell_id, {
        "type": "station.left", "station": event.station.code, "serial": event.part.serial,
        "outcome": outcome, "at": event.left_at.isoformat(), "duration_s": event.duration_s,
    })
    return event


# --- Pallets (GS1 SSCC) --------------------------------------------------------------------------------


@transaction.atomic
def create_pallet(*, sscc: str, actor: Actor, at: dt.datetime | None = None) -> Pallet:
    pallet = Pallet(sscc=sscc, created_at=at or timezone.now())
    pallet.full_clean()
    pallet.save()
    audit.append(actor=actor, action="pallet.create", subject=pallet, after=snapshot(pallet))
    return pallet


PACKABLE_STATES = {PartStatus.PASSED, PartStatus.REWORKED}


@transaction.atomic
def pack_part(part: Part, *, pallet: Pallet, actor: Actor, at: dt.datetime | None = None) -> Part:
    part = Part.objects.select_for_update().get(pk=part.pk)
    if part.status not in PACKABLE_STATES:
        raise RefusedByRule(f"Part {part.serial} is {part.get_status_display().lower()}: only passed or reworked parts are packed.")
    if pallet.status != PalletStatus.OPEN:
        raise RefusedByRule(f"Pallet {pallet.sscc} is {pallet.get_status_display().lower()}.")
    if part.pallet is not None:
        raise RefusedByRule(f"Part {part.serial} is already packed on pallet {part.pallet.sscc}.")
    part.pallet = pallet
    part.packed_at = at or timezone.now()
    part.save(update_fields=["pallet", "packed_at"])
    audit.append(actor=actor, action="pallet.pack", subject=part, after={"pallet": pallet.sscc, "at": part.packed_at})
    return part


@transaction.atomic
def pack_parts(parts: Sequence[Part], *, pallet: Pallet, actor: Actor, at: dt.datetime | None = None) -> int:
    """Pack many parts on one pallet in one transaction (a full layer from the unloading station)."""
    at = at or timezone.now()
    if pallet.status != PalletStatus.OPEN:
        raise RefusedByRule(f"Pallet {pallet.sscc} is {pallet.get_status_display().lower()}.")
    locked = list(Part.objects.select_for_update().filter(pk__in=[p.pk for p in parts]))
    refused = [p.serial for p in locked if p.status not in PACKABLE_STATES or p.pallet_id]
    if refused:
        raise RefusedByRule(f"These parts may not be packed (held, failed or already packed): {', '.join(refused[:10])}.")
    Part.objects.filter(pk__in=[p.pk for p in locked]).update(pallet=pallet, packed_at=at)
    audit.append_many(
        [audit.PendingRecord(actor, "pallet.pack", p, after={"pallet": pallet.sscc, "at": at}) for p in locked]
    )
    return len(locked)


@transaction.atomic
def close_pallet(pallet: Pallet, *, actor: Actor) -> Pallet:
    if pallet.status != PalletStatus.OPEN:
        raise RefusedByRule(f"Pallet {pallet.sscc} is {pallet.get_status_display().lower()}.")
    pallet.status = PalletStatus.CLOSED
    pallet.save(update_fields=["status"])
    audit.append(actor=actor, action="pallet.close", subject=pallet, after={"status": pallet.status})
    return pallet


@transaction.atomic
def ship_pallet(pallet: Pallet, *, actor: Actor, at: dt.datetime | None = None) -> Pallet:
    at = at or timezone.now()
    held = pallet.parts.exclude(status__in=PACKABLE_STATES).values_list("serial", flat=True)
    if held:
        raise RefusedByRule(f"Pallet {pallet.sscc} holds parts that may not ship: {', '.join(held[:10])}.")
    if pallet.status == PalletStatus.SHIPPED:
        raise RefusedByRule(f"Pallet {pallet.sscc} has already shipped.")
    if not pallet.parts.exists():
        raise RefusedByRule(f"Pallet {pallet.sscc} is empty.")
    pallet.status = PalletStatus.SHIPPED
    pallet.shipped_at = at
    pallet.save(update_fields=["status", "shipped_at"])
    serials = list(pallet.parts.values_list("serial", flat=True))
    pallet.parts.update(status=PartStatus.SHIPPED, status_changed_at=at)
    audit.append_many(
        [audit.PendingRecord(actor, "pallet.ship", pallet, after={"parts": len(serials), "at": at})]
        + [audit.PendingRecord(actor, "part.status", ("traceability.part", s), after={"status": PartStatus.SHIPPED}, reason=f"shipped on pallet {pallet.sscc}") for s in serials]
    )
    return pallet


# --- Non-conformances ----------------------------------------------------------------------------------


@transaction.atomic
def open_failure_case(
    part: Part, *, defect_code: DefectCode, found_by: FoundBy, actor: Actor, station: Station | None = None,
    description: str = "", owner: User | None = None, at: dt.datetime | None = None,
) -> FailureCase:
    case = FailureCase(
        part=part, defect_code=defect_code, found_by=found_by, station=station, description=description,
        owner=owner, opened_at=at or timezone.now(),
        found_by_user=signed_in_user(actor) if found_by == FoundBy.PERSON else None,
    )
    case.full_clean()
    case.save()
    audit.append(actor=actor, action="failure_case.open", subject=("traceability.failurecase", str(case.pk)), after=snapshot(case))
    return case


@transaction.atomic
def assign_failure_case(case: FailureCase, *, owner: User, actor: Actor) -> FailureCase:
    before = case.owner_id
    case.owner = owner
    case.save(update_fields=["owner"])
    audit.append(actor=actor, action="failure_case.assign", subject=("traceability.failurecase", str(case.pk)),
                 before={"owner_id": before}, after={"owner_id": owner.pk})
    return case


# Part status that follows from each disposition.
DISPOSITION_PART_STATUS = {
    Disposition.SCRAP: PartStatus.SCRAPPED,
    Disposition.REWORK: PartStatus.REWORKED,
    Disposition.USE_AS_IS: PartStatus.PASSED,
}


@transaction.atomic
def disposition_failure_case(
    case: FailureCase, *, disposition: Disposition, actor: Actor, reason: str = "", at: dt.datetime | None = None
) -> FailureCase:
    """Decide what happens to a non-conforming part, close the case and move the part to the matching status."""
    case = FailureCase.objects.select_for_update().get(pk=case.pk)
    if case.status == FailureCaseStatus.CLOSED:
        raise RefusedByRule(f"Failure case {case.pk} is already closed ({case.get_disposition_display()}).")
    if disposition == Disposition.PENDING:
        raise RefusedByRule("Choose a disposition: scrap, rework or use as is.")
    at = at or timezone.now()
    before = snapshot(case, ["disposition", "status", "closed_at"])
    case.disposition = disposition
    case.status = FailureCaseStatus.CLOSED
    case.closed_at = at
    case.full_clean()
    case.save(update_fields=["disposition", "status", "closed_at"])
    audit.append(actor=actor, action="failure_case.disposition", subject=("traceability.failurecase", str(case.pk)),
                 before=before, after=snapshot(case, ["disposition", "status", "closed_at"]), reason=reason)
    set_part_status(case.part, status=DISPOSITION_PART_STATUS[Disposition(disposition)], actor=actor,
                    reason=f"failure case {case.pk}: {disposition}", at=at)
    return case


# --- Bulk history (demo seeding, imports from a previous system) ---------------------------------------


@dataclass
class HistoricalPart:
    serial: str
    created_at: dt.datetime
    status: PartStatus
    lots: list[tuple[MaterialLot, Decimal]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # station, entered_at, left_at, outcome, parameters


@transaction.atomic
def import_production_history(batch: Batch, *, parts: Sequence[HistoricalPart], actor: Actor, source: str) -> list[Part]:
    """Record parts already made (from another system, or the demo's history) in one transaction.

    Each part gets its own audit record naming the source, so the trail says where the history came from.
    """
    created = Part.objects.bulk_create(
        [
            Part(serial=h.serial, part_type_id=batch.part_type_id, batch=batch, status=h.status,
                 created_at=h.created_at, status_changed_at=h.events[-1]["left_at"] if h.events else h.created_at)
            for h in parts
        ]
    )
    by_serial = {p.serial: p for p in created}
    LotConsumption.objects.bulk_create(
        [
            LotConsumption(part=by_serial[h.serial], lot=lot, quantity=quantity, consumed_at=h.created_at)
            for h in parts for lot, quantity in h.lots
        ]
    )
    StationEvent.objects.bulk_create(
        [StationEvent(part=by_serial[h.serial], **event) for h in parts for event in h.events], batch_size=2000
    )
    audit.append_many(
        [
            audit.PendingRecord(
                actor, "part.import", by_serial[h.serial],
                after={"status": h.status, "batch": batch.batch_number, "created_at": h.created_at,
                       "lots": [[lot.lot_key, quantity] for lot, quantity in h.lots], "station_events": len(h.events)},
                reason=f"imported from {source}",
            )
            for h in parts
        ]
    )
    return created


# --- Containment (genealogy) ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _ReachedRow:
    pk: int
    serial: str
    status: str
    status_on_release: str
    cell_id: int | None

    @property
    def subject(self) -> tuple[str, str]:
        return "traceability.part", self.serial


# Parts containment does not hold: gone to the customer (listed for a recall instead) or destroyed.
_NOT_HELD_BY_CONTAINMENT = {PartStatus.SHIPPED, PartStatus.SCRAPPED}


def _in_chunks(ids: Sequence[int], size: int = 5000) -> Iterable[Sequence[int]]:
    # Stays under SQLite's bound-parameter limit on recalls of many thousands of parts.
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


@transaction.atomic
def contain_lot(lot: MaterialLot, *, actor: Actor, reason: str) -> list[Part]:
    """Mark a lot suspect and hold everything it reached that has not shipped, in one transaction.

    The lot and its descendant lots (its splits and merges) become suspect, so no part consumes them any more;
    every part the lot reached (see `genealogy.reached_part_ids`: directly, through those lots, or as an assembly
    of a reached part) that is not shipped or scrapped is held by the containment and goes on hold, which
    `pack_part`, `pack_parts` and `ship_pallet` refuse, and which production actions cannot lift (see
    `set_part_status`): only `release_containment` does. Each change has its audit record. Returns the parts
    already shipped: those need a recall at the customer.
    """
    from traceability import genealogy

    if not reason.strip():
        raise RefusedByRule("Containing a lot needs a reason.")
    at = timezone.now()
    lots = list(MaterialLot.objects.select_for_update().filter(pk__in=genealogy.descendant_lot_ids(lot)).order_by("pk"))
    if Containment.objects.filter(lot=lot, released_at__isnull=True).exists():
        raise RefusedByRule(f"Lot {lot.lot_key} is already contained: release that containment first.")
    containment = Containment(lot=lot, reason=reason.strip(), contained_at=at,
                              contained_by=signed_in_user(actor))
    containment.full_clean()
    containment.save()
    part_ids = genealogy.reached_part_ids(lot)
    # Rows, not model instances: a recall may lock tens of thousands of parts, and only the shipped ones are returned.
    parts: list[_ReachedRow] = []
    for chunk in _in_chunks(part_ids):
        parts += (_ReachedRow(*row) for row in Part.objects.select_for_update(of=("self",)).filter(pk__in=chunk)
                  .order_by("pk").values_list("id", "serial", "status", "status_on_release", "batch__cell_id"))
    to_hold = [p for p in parts if p.status not in _NOT_HELD_BY_CONTAINMENT]
    newly_on_hold = [p for p in to_hold if p.status != PartStatus.ON_HOLD]
    already_held = [p for p in to_hold if p.status == PartStatus.ON_HOLD]  # by another containment, or a manual hold
    ContainmentHold.objects.bulk_create([ContainmentHold(containment=containment, part_id=p.pk) for p in to_hold],
                                        batch_size=5000)
    for chunk in _in_chunks([p.pk for p in newly_on_hold]):
        # SQL reads the old `status` on the right-hand side: the status before the hold is what release restores.
        Part.objects.filter(pk__in=chunk).update(status_on_release=F("status"), status=PartStatus.ON_HOLD,
                                                 status_changed_at=at)
    for chunk in _in_chunks([p.pk for p in already_held if not p.status_on_release]):
        Part.objects.filter(pk__in=chunk).update(status_on_release=PartStatus.ON_HOLD)  # stays held on release
    stored_status = next(item.status for item in lots if item.pk == lot.pk)  # the locked row, not the caller's copy
    to_suspect = [item for item in lots if item.status != LotStatus.SUSPECT]
    for item in to_suspect:
        item.status_before_containment, item.status = item.status, LotStatus.SUSPECT
    MaterialLot.objects.bulk_update(to_suspect, ["status", "status_before_containment"])
    shipped_ids = [p.pk for p in parts if p.status == PartStatus.SHIPPED]
    shipped_serials = sorted(p.serial for p in parts if p.status == PartStatus.SHIPPED)
    why = f"lot {lot.lot_key} contained: {reason}"
    audit.append_many(
        [audit.PendingRecord(
            actor, "lot.contain", lot, before={"status": stored_status}, reason=reason, at=at,
            after={"status": LotStatus.SUSPECT, "containment": containment.pk,
                   "lots": sorted(item.lot_key for item in lots),
                   "parts_reached": len(parts), "parts_held": len(to_hold), "shipped": shipped_serials},
        )]
        + [audit.PendingRecord(actor, "lot.status", item, before={"status": item.status_before_containment},
                               after={"status": LotStatus.SUSPECT}, reason=why, at=at)
           for item in to_suspect]
        + [audit.PendingRecord(actor, "part.status", p.subject, before={"status": p.status},
                               after={"status": PartStatus.ON_HOLD, "held_by": lot.lot_key}, reason=why, at=at)
           for p in newly_on_hold]
        + [audit.PendingRecord(actor, "part.hold", p.subject, after={"status": PartStatus.ON_HOLD, "held_by": lot.lot_key},
                               reason=why, at=at)
           for p in already_held]
    )
    for p in newly_on_hold:  # the live view shows parts still in the cell; finished ones are not on it
        if p.status == PartStatus.IN_PROCESS and p.cell_id:
            publish_on_commit(p.cell_id, {"type": "part.status", "serial": p.serial, "status": PartStatus.ON_HOLD})
    lot.status = LotStatus.SUSPECT
    shipped: list[Part] = []
    for chunk in _in_chunks(shipped_ids):
        shipped += (Part.objects.filter(pk__in=chunk).select_related("pallet")
                    .only("id", "serial", "status", "pallet__id", "pallet__sscc", "pallet__status"))
    return sorted(shipped, key=lambda p: p.serial)


@dataclass(frozen=True)
class ContainmentRelease:
    containment: Containment
    parts_released: list[str]  # serials back to the status they had (or were given) before the hold
    parts_still_held: list[str]  # serials another active containment still holds
    lots_released: list[str]  # lot keys back to their status before containment


@transaction.atomic
def release_containment(lot: MaterialLot, *, actor: Actor, reason: str) -> ContainmentRelease:
    """End a lot's active containment: the lot and its descendant lots return to their status before it (unless
    another active containment covers them), and every part it held returns to `status_on_release` unless another
    active containment still holds it."""
    from traceability import genealogy

    if not reason.strip():
        raise RefusedByRule("Releasing a containment needs a reason.")
    containment = Containment.objects.select_for_update().filter(lot=lot, released_at__isnull=True).first()
    if containment is None:
        raise RefusedByRule(f"Lot {lot.lot_key} has no active containment to release.")
    at = timezone.now()
    containment.released_at = at
    containment.released_by = signed_in_user(actor)
    containment.release_reason = reason.strip()
    containment.save(update_fields=["released_at", "released_by", "release_reason"])

    still_covered: set[int] = set()
    for other in Containment.objects.filter(released_at__isnull=True).select_related("lot"):
        still_covered |= set(genealogy.descendant_lot_ids(other.lot))
    lots = list(MaterialLot.objects.select_for_update()
                .filter(pk__in=genealogy.descendant_lot_ids(lot), status=LotStatus.SUSPECT).order_by("pk"))
    to_release = [item for item in lots if item.pk not in still_covered]
    for item in to_release:
        item.status = item.status_before_containment or LotStatus.RELEASED
        item.status_before_containment = ""
    MaterialLot.objects.bulk_update(to_release, ["status", "status_before_containment"])

    held_ids = list(containment.holds.values_list("part_id", flat=True))
    still_held = set(ContainmentHold.objects.filter(part_id__in=held_ids, containment__released_at__isnull=True)
                     .values_list("part_id", flat=True))
    parts: list[Part] = []
    for chunk in _in_chunks(held_ids):
        parts += Part.objects.select_for_update(of=("self",)).filter(pk__in=chunk).select_related("batch").order_by("pk")
    released = [p for p in parts if p.pk not in still_held and p.status == PartStatus.ON_HOLD]
    records = []
    for p in released:
        restored = PartStatus(p.status_on_release or PartStatus.ON_HOLD)
        records.append(audit.PendingRecord(actor, "part.status", p, before={"status": p.status},
                                           after={"status": restored, "released_from": lot.lot_key},
                                           reason=f"containment of lot {lot.lot_key} released: {reason}", at=at))
        p.status, p.status_on_release, p.status_changed_at = restored, "", at
    Part.objects.bulk_update(released, ["status", "status_on_release", "status_changed_at"], batch_size=2000)
    result = ContainmentRelease(
        containment=containment,
        parts_released=sorted(p.serial for p in released),
        parts_still_held=sorted(p.serial for p in parts if p.pk in still_held),
        lots_released=sorted(item.lot_key for item in to_release),
    )
    audit.append_many(
        [audit.PendingRecord(actor, "lot.release_containment", lot, reason=reason, at=at,
                             after={"containment": containment.pk, "lots_released": result.lots_released,
                                    "parts_released": len(result.parts_released),
                                    "parts_still_held": result.parts_still_held})]
        + [audit.PendingRecord(actor, "lot.status", item, before={"status": LotStatus.SUSPECT},
                               after={"status": item.status}, reason=f"containment of lot {lot.lot_key} released: {reason}", at=at)
           for item in to_release]
        + records
    )
    for p in released:
        if p.status == PartStatus.IN_PROCESS and p.batch.cell_id:
            publish_on_commit(p.batch.cell_id, {"type": "part.status", "serial": p.serial, "status": p.status})
    lot.status = next((item.status for item in to_release if item.pk == lot.pk), lot.status)
    return result
