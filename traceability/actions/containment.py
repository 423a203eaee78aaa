"""Containment (genealogy): a suspect lot holds every part it reached until the containment is released."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from traceability import audit, genealogy, selectors
from traceability.actions import esign
from traceability.actions.common import Actor, signed_in_user
from traceability.choices import LotStatus, PartStatus, RecordSignatureMeaning
from traceability.errors import RefusedByRule
from traceability.models import Containment, ContainmentHold, MaterialLot, Part
from twinweb.events import PartStatusChanged
from twinweb.live import publish_on_commit


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
        yield ids[start : start + size]


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
    if not reason.strip():
        raise RefusedByRule(gettext("Containing a lot needs a reason."))
    at = timezone.now()
    lots = list(MaterialLot.objects.select_for_update().filter(pk__in=genealogy.descendant_lot_ids(lot)).order_by("pk"))
    if Containment.objects.filter(lot=lot, released_at__isnull=True).exists():
        raise RefusedByRule(
            gettext("Lot %(lot)s is already contained: release that containment first.") % {"lot": lot.lot_key}
        )
    containment = Containment(lot=lot, reason=reason.strip(), contained_at=at, contained_by=signed_in_user(actor))
    containment.full_clean()
    containment.save()
    part_ids = genealogy.reached_part_ids(lot)
    # Rows, not model instances: a recall may lock tens of thousands of parts, and only the shipped ones are returned.
    parts: list[_ReachedRow] = []
    for chunk in _in_chunks(part_ids):
        parts += (
            _ReachedRow(*row)
            for row in Part.objects.select_for_update(of=("self",))
            .filter(pk__in=chunk)
            .order_by("pk")
            .values_list("id", "serial", "status", "status_on_release", "batch__cell_id")
        )
    to_hold = [p for p in parts if p.status not in _NOT_HELD_BY_CONTAINMENT]
    newly_on_hold = [p for p in to_hold if p.status != PartStatus.ON_HOLD]
    already_held = [p for p in to_hold if p.status == PartStatus.ON_HOLD]  # by another containment, or a manual hold
    ContainmentHold.objects.bulk_create(
        [ContainmentHold(containment=containment, part_id=p.pk) for p in to_hold], batch_size=5000
    )
    for chunk in _in_chunks([p.pk for p in newly_on_hold]):
        # SQL reads the old `status` on the right-hand side: the status before the hold is what release restores.
        Part.objects.filter(pk__in=chunk).update(
            status_on_release=F("status"), status=PartStatus.ON_HOLD, status_changed_at=at
        )
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
        [
            audit.PendingRecord(
                actor,
                "lot.contain",
                lot,
                before={"status": stored_status},
                reason=reason,
                at=at,
                after={
                    "status": LotStatus.SUSPECT,
                    "containment": containment.pk,
                    "lots": sorted(item.lot_key for item in lots),
                    "parts_reached": len(parts),
                    "parts_held": len(to_hold),
                    "shipped": shipped_serials,
                },
            )
        ]
        + [
            audit.PendingRecord(
                actor,
                "lot.status",
                item,
                before={"status": item.status_before_containment},
                after={"status": LotStatus.SUSPECT},
                reason=why,
                at=at,
            )
            for item in to_suspect
        ]
        + [
            audit.PendingRecord(
                actor,
                "part.status",
                p.subject,
                before={"status": p.status},
                after={"status": PartStatus.ON_HOLD, "held_by": lot.lot_key},
                reason=why,
                at=at,
            )
            for p in newly_on_hold
        ]
        + [
            audit.PendingRecord(
                actor,
                "part.hold",
                p.subject,
                after={"status": PartStatus.ON_HOLD, "held_by": lot.lot_key},
                reason=why,
                at=at,
            )
            for p in already_held
        ]
    )
    for p in newly_on_hold:  # the live view shows parts still in the cell; finished ones are not on it
        if p.status == PartStatus.IN_PROCESS and p.cell_id:
            publish_on_commit(p.cell_id, PartStatusChanged(serial=p.serial, status=PartStatus.ON_HOLD))
    lot.status = LotStatus.SUSPECT
    shipped: list[Part] = []
    for chunk in _in_chunks(shipped_ids):
        shipped += (
            Part.objects.filter(pk__in=chunk)
            .select_related("pallet")
            .only("id", "serial", "status", "pallet__id", "pallet__sscc", "pallet__status")
        )
    return sorted(shipped, key=lambda p: p.serial)


@dataclass(frozen=True)
class ContainmentRelease:
    containment: Containment
    parts_released: list[str]  # serials back to the status they had (or were given) before the hold
    parts_still_held: list[str]  # serials another active containment still holds
    lots_released: list[str]  # lot keys back to their status before containment


def release_containment(
    lot: MaterialLot, *, actor: Any, reason: str, credential: str, request: Any = None
) -> ContainmentRelease:
    """End a lot's active containment, signed: the lot and its descendant lots return to their status before it
    (unless another active containment covers them), and every part it held returns to `status_on_release` unless
    another active containment still holds it. The release is an electronic signature (esign) with its reason."""
    if not reason.strip():
        raise RefusedByRule(gettext("Releasing a containment needs a reason."))
    method = esign.authenticate_signer(
        actor, credential, subject=("traceability.materiallot", lot.lot_key), request=request
    )
    return _release(lot, actor=actor, reason=reason.strip(), method=method)


@transaction.atomic
def _release(lot: MaterialLot, *, actor: Any, reason: str, method: str) -> ContainmentRelease:
    containment = Containment.objects.select_for_update().filter(lot=lot, released_at__isnull=True).first()
    if containment is None:
        raise RefusedByRule(gettext("Lot %(lot)s has no active containment to release.") % {"lot": lot.lot_key})
    at = timezone.now()
    esign.sign_record(
        ("traceability.containment", str(containment.pk)),
        meaning=RecordSignatureMeaning.RELEASE,
        content={
            "containment": containment.pk,
            "lot": lot.lot_key,
            "contained_at": containment.contained_at,
            "reason": containment.reason,
            "release_reason": reason,
            "released_at": at,
        },
        signer=actor,
        method=method,
        at=at,
    )
    containment.released_at = at
    containment.released_by = signed_in_user(actor)
    containment.release_reason = reason.strip()
    containment.save(update_fields=["released_at", "released_by", "release_reason"])

    still_covered = selectors.lot_ids_under_active_containment()  # this one is released by now
    lots = list(
        MaterialLot.objects.select_for_update()
        .filter(pk__in=genealogy.descendant_lot_ids(lot), status=LotStatus.SUSPECT)
        .order_by("pk")
    )
    to_release = [item for item in lots if item.pk not in still_covered]
    for item in to_release:
        item.status = item.status_before_containment or LotStatus.RELEASED
        item.status_before_containment = ""
    MaterialLot.objects.bulk_update(to_release, ["status", "status_before_containment"])

    held_ids = list(containment.holds.values_list("part_id", flat=True))
    still_held = selectors.part_ids_held_by_active_containment(held_ids)
    parts: list[Part] = []
    for chunk in _in_chunks(held_ids):
        parts += (
            Part.objects.select_for_update(of=("self",)).filter(pk__in=chunk).select_related("batch").order_by("pk")
        )
    released = [p for p in parts if p.pk not in still_held and p.status == PartStatus.ON_HOLD]
    records = []
    for p in released:
        restored = PartStatus(p.status_on_release or PartStatus.ON_HOLD)
        records.append(
            audit.PendingRecord(
                actor,
                "part.status",
                p,
                before={"status": p.status},
                after={"status": restored, "released_from": lot.lot_key},
                reason=f"containment of lot {lot.lot_key} released: {reason}",
                at=at,
            )
        )
        p.status, p.status_on_release, p.status_changed_at = restored, "", at
    Part.objects.bulk_update(released, ["status", "status_on_release", "status_changed_at"], batch_size=2000)
    result = ContainmentRelease(
        containment=containment,
        parts_released=sorted(p.serial for p in released),
        parts_still_held=sorted(p.serial for p in parts if p.pk in still_held),
        lots_released=sorted(item.lot_key for item in to_release),
    )
    audit.append_many(
        [
            audit.PendingRecord(
                actor,
                "lot.release_containment",
                lot,
                reason=reason,
                at=at,
                after={
                    "containment": containment.pk,
                    "lots_released": result.lots_released,
                    "parts_released": len(result.parts_released),
                    "parts_still_held": result.parts_still_held,
                },
            )
        ]
        + [
            audit.PendingRecord(
                actor,
                "lot.status",
                item,
                before={"status": LotStatus.SUSPECT},
                after={"status": item.status},
                reason=f"containment of lot {lot.lot_key} released: {reason}",
                at=at,
            )
            for item in to_release
        ]
        + records
    )
    for p in released:
        if p.status == PartStatus.IN_PROCESS and p.batch.cell_id:
            publish_on_commit(p.batch.cell_id, PartStatusChanged(serial=p.serial, status=p.status))
    lot.status = next((item.status for item in to_release if item.pk == lot.pk), lot.status)
    return result
