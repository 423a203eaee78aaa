"""Material lots: received, split, merged, and their status changed with a reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from traceability import audit
from traceability.actions.common import Actor, snapshot
from traceability.choices import LotLinkKind, LotStatus
from traceability.errors import RefusedByRule
from traceability.models import LotLink, MaterialDefinition, MaterialLot


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
        lot_key=lot_key,
        material=material,
        supplier=supplier,
        supplier_lot_number=supplier_lot_number,
        received_at=received_at,
        quantity=quantity,
    )
    lot.full_clean()
    lot.save()
    audit.append(actor=actor, action="lot.receive", subject=lot, after=snapshot(lot))
    return lot


def _link_lots(
    parent: MaterialLot, child: MaterialLot, *, kind: LotLinkKind, quantity: Decimal, at: dt.datetime
) -> LotLink:
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
        raise RefusedByRule(
            gettext("Cannot split %(total)s out of lot %(lot)s, which holds %(quantity)s.")
            % {"total": total, "lot": parent.lot_key, "quantity": parent.quantity}
        )
    if parent.status != LotStatus.RELEASED:
        raise RefusedByRule(
            gettext("Lot %(lot)s is %(status)s: only released lots split.")
            % {"lot": parent.lot_key, "status": parent.get_status_display().lower()}
        )
    created = []
    for lot_key, quantity in children:
        child = MaterialLot(
            lot_key=lot_key,
            material=parent.material,
            supplier=parent.supplier,
            supplier_lot_number=parent.supplier_lot_number,
            received_at=at,
            quantity=quantity,
        )
        child.full_clean()
        child.save()
        _link_lots(parent, child, kind=LotLinkKind.SPLIT, quantity=quantity, at=at)
        created.append(child)
    before = {"quantity": parent.quantity}
    parent.quantity -= total
    parent.save(update_fields=["quantity"])
    audit.append(
        actor=actor,
        action="lot.split",
        subject=parent,
        before=before,
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
        raise RefusedByRule(gettext("A merge needs at least two lots."))
    materials = {lot.material_id for lot, _ in parents}
    if len(materials) != 1:
        raise RefusedByRule(gettext("Only lots of the same material can be merged."))
    for lot, quantity in parents:
        if quantity > lot.quantity:
            raise RefusedByRule(
                gettext("Lot %(lot)s holds %(held)s, less than %(quantity)s.")
                % {"lot": lot.lot_key, "held": lot.quantity, "quantity": quantity}
            )
        if lot.status != LotStatus.RELEASED:
            raise RefusedByRule(
                gettext("Lot %(lot)s is %(status)s: only released lots merge.")
                % {"lot": lot.lot_key, "status": lot.get_status_display().lower()}
            )
    first = parents[0][0]
    merged = MaterialLot(
        lot_key=lot_key,
        material=first.material,
        supplier="(merged)",
        received_at=at,
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
        actor=actor,
        action="lot.merge",
        subject=merged,
        after={**snapshot(merged), "parents": [[lot.lot_key, quantity] for lot, quantity in parents]},
    )
    return merged


@transaction.atomic
def set_lot_status(lot: MaterialLot, *, status: LotStatus, actor: Actor, reason: str) -> MaterialLot:
    if not reason.strip():
        raise RefusedByRule(gettext("Changing a lot's status needs a reason."))
    before = lot.status
    lot.status = status
    lot.full_clean()
    lot.save(update_fields=["status"])
    audit.append(
        actor=actor,
        action="lot.status",
        subject=lot,
        before={"status": before},
        after={"status": status},
        reason=reason,
    )
    return lot
