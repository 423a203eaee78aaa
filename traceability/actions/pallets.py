"""Pallets (GS1 SSCC): created, packed with good parts, closed and shipped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from traceability import audit
from traceability.actions.common import Actor, snapshot
from traceability.choices import PalletStatus, PartStatus
from traceability.errors import RefusedByRule
from traceability.models import Pallet, Part


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
        raise RefusedByRule(
            gettext("Part %(serial)s is %(status)s: only passed or reworked parts are packed.")
            % {"serial": part.serial, "status": part.get_status_display().lower()}
        )
    if pallet.status != PalletStatus.OPEN:
        raise RefusedByRule(
            gettext("Pallet %(pallet)s is %(status)s.")
            % {"pallet": pallet.sscc, "status": pallet.get_status_display().lower()}
        )
    if part.pallet is not None:
        raise RefusedByRule(
            gettext("Part %(serial)s is already packed on pallet %(pallet)s.")
            % {"serial": part.serial, "pallet": part.pallet.sscc}
        )
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
        raise RefusedByRule(
            gettext("Pallet %(pallet)s is %(status)s.")
            % {"pallet": pallet.sscc, "status": pallet.get_status_display().lower()}
        )
    locked = list(Part.objects.select_for_update().filter(pk__in=[p.pk for p in parts]))
    refused = [p.serial for p in locked if p.status not in PACKABLE_STATES or p.pallet_id]
    if refused:
        raise RefusedByRule(
            gettext("These parts may not be packed (held, failed or already packed): %(serials)s.")
            % {"serials": ", ".join(refused[:10])}
        )
    Part.objects.filter(pk__in=[p.pk for p in locked]).update(pallet=pallet, packed_at=at)
    audit.append_many(
        [audit.PendingRecord(actor, "pallet.pack", p, after={"pallet": pallet.sscc, "at": at}) for p in locked]
    )
    return len(locked)


@transaction.atomic
def close_pallet(pallet: Pallet, *, actor: Actor) -> Pallet:
    if pallet.status != PalletStatus.OPEN:
        raise RefusedByRule(
            gettext("Pallet %(pallet)s is %(status)s.")
            % {"pallet": pallet.sscc, "status": pallet.get_status_display().lower()}
        )
    pallet.status = PalletStatus.CLOSED
    pallet.save(update_fields=["status"])
    audit.append(actor=actor, action="pallet.close", subject=pallet, after={"status": pallet.status})
    return pallet


@transaction.atomic
def ship_pallet(pallet: Pallet, *, actor: Actor, at: dt.datetime | None = None) -> Pallet:
    at = at or timezone.now()
    held = pallet.parts.exclude(status__in=PACKABLE_STATES).values_list("serial", flat=True)
    if held:
        raise RefusedByRule(
            gettext("Pallet %(pallet)s holds parts that may not ship: %(serials)s.")
            % {"pallet": pallet.sscc, "serials": ", ".join(held[:10])}
        )
    if pallet.status == PalletStatus.SHIPPED:
        raise RefusedByRule(gettext("Pallet %(pallet)s has already shipped.") % {"pallet": pallet.sscc})
    if not pallet.parts.exists():
        raise RefusedByRule(gettext("Pallet %(pallet)s is empty.") % {"pallet": pallet.sscc})
    pallet.status = PalletStatus.SHIPPED
    pallet.shipped_at = at
    pallet.save(update_fields=["status", "shipped_at"])
    serials = list(pallet.parts.values_list("serial", flat=True))
    pallet.parts.update(status=PartStatus.SHIPPED, status_changed_at=at)
    audit.append_many(
        [audit.PendingRecord(actor, "pallet.ship", pallet, after={"parts": len(serials), "at": at})]
        + [
            audit.PendingRecord(
                actor,
                "part.status",
                ("traceability.part", s),
                after={"status": PartStatus.SHIPPED},
                reason=f"shipped on pallet {pallet.sscc}",
            )
            for s in serials
        ]
    )
    return pallet
