"""Containment: marking a lot suspect holds every not-yet-shipped part it reached, in one audited action, and
lists the parts already shipped; a held part can no longer be packed or shipped."""
from __future__ import annotations

from typing import Any

import pytest

from tests.genealogy import known
from traceability import actions, gs1
from traceability.choices import LotStatus, PartStatus
from traceability.errors import RefusedByRule
from traceability.models import AuditRecord, MaterialLot, Part

pytestmark = pytest.mark.django_db


@pytest.fixture
def g(db: Any) -> known.KnownGenealogy:
    g = known.build()
    # S03 and S04 went out on a shipped pallet; S05 sits packed on an open pallet; S06 was scrapped.
    shipped = actions.create_pallet(sscc=gs1.sscc("7891234", 1), actor=None)
    actions.pack_parts([g.parts["S03"], g.parts["S04"]], pallet=shipped, actor=None)
    actions.close_pallet(shipped, actor=None)
    actions.ship_pallet(shipped, actor=None)
    g.open_pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 2), actor=None)  # type: ignore[attr-defined]
    actions.pack_part(g.parts["S05"], pallet=g.open_pallet, actor=None)  # type: ignore[attr-defined]
    actions.set_part_status(g.parts["S06"], status=PartStatus.SCRAPPED, actor=None, reason="test")
    return g


def statuses(g: known.KnownGenealogy) -> dict[str, str]:
    return {g.name(serial): status for serial, status in Part.objects.values_list("serial", "status")}


def test_it_holds_every_unshipped_part_the_lot_reached_and_lists_the_shipped_ones(
    g: known.KnownGenealogy, quality_engineer: Any
) -> None:
    shipped = actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="supplier reports porosity")

    assert [g.name(p.serial) for p in shipped] == ["S03", "S04"]
    after = statuses(g)
    reached = known.EXPECTED_FORWARD["A1"]
    assert {n for n in reached if after[n] == PartStatus.ON_HOLD} == reached - {"S03", "S04", "S06"}
    assert after["S06"] == PartStatus.SCRAPPED and after["S03"] == PartStatus.SHIPPED
    assert {n for n, s in after.items() if s == PartStatus.ON_HOLD} <= reached  # nothing outside the genealogy
    assert after["S16"] == PartStatus.PASSED and after["U1"] == PartStatus.PASSED


def test_it_marks_the_lot_and_its_descendant_lots_suspect(g: known.KnownGenealogy, quality_engineer: Any) -> None:
    actions.contain_lot(g.lots["A0"], actor=quality_engineer, reason="supplier recall")

    lots = {g.name(k): s for k, s in MaterialLot.objects.values_list("lot_key", "status")}
    assert {n for n, s in lots.items() if s == LotStatus.SUSPECT} == {"A0", "A1", "A2", "A1a"}
    with pytest.raises(RefusedByRule):
        actions.consume_lot(g.parts["U1"], lot=MaterialLot.objects.get(lot_key=g.key("A2")), quantity=1, actor=None)


def test_it_audits_the_containment_and_every_change(g: known.KnownGenealogy, quality_engineer: Any) -> None:
    before = AuditRecord.objects.count()

    actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="supplier reports porosity")

    records = AuditRecord.objects.filter(id__gt=AuditRecord.objects.order_by("id").values_list("id", flat=True)[before - 1])
    [summary] = records.filter(action="lot.contain")
    assert summary.subject_key == g.key("A1") and summary.actor_id == quality_engineer.pk
    assert '"shipped":["K-S03","K-S04"]' in summary.payload and "supplier reports porosity" in summary.payload
    held = set(records.filter(action="part.status").values_list("subject_key", flat=True))
    assert g.names(held) == known.EXPECTED_FORWARD["A1"] - {"S03", "S04", "S06"}
    assert g.names(records.filter(action="lot.status").values_list("subject_key", flat=True)) == {"A1", "A1a"}


def test_packing_or_shipping_a_held_part_is_refused(g: known.KnownGenealogy, quality_engineer: Any) -> None:
    actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="porosity")
    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 3), actor=None)

    with pytest.raises(RefusedByRule, match="on hold"):
        actions.pack_part(Part.objects.get(serial=g.key("S07")), pallet=pallet, actor=None)
    with pytest.raises(RefusedByRule):
        actions.pack_parts([Part.objects.get(serial=g.key("S08"))], pallet=pallet, actor=None)
    actions.close_pallet(g.open_pallet, actor=None)  # type: ignore[attr-defined]
    with pytest.raises(RefusedByRule, match="may not ship"):
        actions.ship_pallet(g.open_pallet, actor=None)  # type: ignore[attr-defined]
    assert Part.objects.get(serial=g.key("S16")).status == PartStatus.PASSED
    actions.pack_part(Part.objects.get(serial=g.key("S16")), pallet=pallet, actor=None)  # unrelated parts still pack


def test_it_needs_a_reason_and_changes_nothing_without_one(g: known.KnownGenealogy, quality_engineer: Any) -> None:
    with pytest.raises(RefusedByRule):
        actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason=" ")

    assert PartStatus.ON_HOLD not in statuses(g).values()
    assert MaterialLot.objects.get(pk=g.lots["A1"].pk).status == LotStatus.RELEASED


def test_parts_still_in_the_cell_go_on_hold_on_the_live_view(
    g: known.KnownGenealogy, quality_engineer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """One part.status event per held part still in the cell, sent after commit through the real event bus (its
    Redis sequence counter moves by one); finished parts are not on the live view and send nothing."""
    from twinweb import live

    in_cell = actions.register_part(serial=g.key("S31"), batch=g.batches["SUB"], actor=None,
                                    consumed_lots=[(g.lots["A1"], 1)])
    before = live.current_sequence(g.cell.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="porosity")

    assert len(callbacks) == 1
    assert live.current_sequence(g.cell.pk) == before + 1
    assert Part.objects.get(pk=in_cell.pk).status == PartStatus.ON_HOLD
