"""Containment: marking a lot suspect holds every not-yet-shipped part it reached, in one audited action, and
lists the parts already shipped; a held part can no longer be packed or shipped."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.factories import PASSWORD
from tests.support import known_genealogy as known
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

    records = AuditRecord.objects.filter(
        id__gt=AuditRecord.objects.order_by("id").values_list("id", flat=True)[before - 1]
    )
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

    in_cell = actions.register_part(
        serial=g.key("S31"), batch=g.batches["SUB"], actor=None, consumed_lots=[(g.lots["A1"], 1)]
    )
    before = live.current_sequence(g.cell.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="porosity")

    assert len(callbacks) == 1
    assert live.current_sequence(g.cell.pk) == before + 1
    assert Part.objects.get(pk=in_cell.pk).status == PartStatus.ON_HOLD


def part(g: known.KnownGenealogy, name: str) -> Part:
    return Part.objects.get(serial=g.key(name))


def test_production_decisions_on_a_held_part_wait_for_the_release(
    g: known.KnownGenealogy, quality_engineer: Any
) -> None:
    """A failure case dispositioned, a Debug Mode verdict or a late inspection all go through set_part_status:
    while containment holds the part, none of them lifts the hold; the last decision applies on release."""
    from tests.support import factories
    from traceability.choices import Disposition, FoundBy

    actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="porosity")
    case = actions.open_failure_case(
        part(g, "S07"), defect_code=factories.make_defect_code("burr"), found_by=FoundBy.PERSON, actor=quality_engineer
    )
    actions.disposition_failure_case(case, disposition=Disposition.REWORK, actor=quality_engineer, reason="deburred")

    held = part(g, "S07")
    assert held.status == PartStatus.ON_HOLD and held.status_on_release == PartStatus.REWORKED
    deferred = AuditRecord.objects.filter(action="part.status_deferred", subject_key=g.key("S07")).get()
    assert "kept on hold: containment of K-A1" in deferred.payload
    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 4), actor=None)
    with pytest.raises(RefusedByRule, match="on hold"):
        actions.pack_part(held, pallet=pallet, actor=None)

    released = actions.release_containment(
        g.lots["A1"], actor=quality_engineer, reason="supplier analysis: no porosity", credential=PASSWORD
    )

    assert g.key("S07") in released.parts_released
    assert part(g, "S07").status == PartStatus.REWORKED and part(g, "S08").status == PartStatus.PASSED
    assert part(g, "S05").status == PartStatus.PASSED  # packed on an open pallet before the hold
    actions.pack_part(part(g, "S07"), pallet=pallet, actor=None)
    assert MaterialLot.objects.get(pk=g.lots["A1"].pk).status == LotStatus.RELEASED


def test_scrapping_a_held_part_is_allowed(g: known.KnownGenealogy, quality_engineer: Any) -> None:
    actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="porosity")
    actions.set_part_status(part(g, "S09"), status=PartStatus.SCRAPPED, actor=quality_engineer, reason="destroyed")

    assert part(g, "S09").status == PartStatus.SCRAPPED
    actions.release_containment(g.lots["A1"], actor=quality_engineer, reason="cleared", credential=PASSWORD)
    assert part(g, "S09").status == PartStatus.SCRAPPED


def test_a_part_held_by_two_containments_stays_held_until_both_are_released(
    g: known.KnownGenealogy, quality_engineer: Any
) -> None:
    # A1 and R1 (through the merge RM) both reached S01..S15.
    actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="porosity")
    actions.contain_lot(g.lots["R1"], actor=quality_engineer, reason="O-ring hardness")

    first = actions.release_containment(
        g.lots["A1"], actor=quality_engineer, reason="billets cleared", credential=PASSWORD
    )

    assert g.key("S01") in first.parts_still_held and part(g, "S01").status == PartStatus.ON_HOLD
    assert part(g, "M3").status == PartStatus.PASSED  # reached through A1a only
    actions.release_containment(g.lots["R1"], actor=quality_engineer, reason="O-rings cleared", credential=PASSWORD)
    assert part(g, "S01").status == PartStatus.PASSED and part(g, "T1").status == PartStatus.PASSED


def test_releasing_a_lot_inside_a_wider_containment_keeps_it_suspect(
    g: known.KnownGenealogy, quality_engineer: Any
) -> None:
    before = {g.name(k): s for k, s in MaterialLot.objects.values_list("lot_key", "status")}
    actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="porosity")
    actions.contain_lot(g.lots["A0"], actor=quality_engineer, reason="supplier recall")

    released = actions.release_containment(
        g.lots["A1"], actor=quality_engineer, reason="A1 cleared", credential=PASSWORD
    )

    assert released.lots_released == []  # A1 and A1a descend from A0, still contained
    assert MaterialLot.objects.get(pk=g.lots["A1"].pk).status == LotStatus.SUSPECT
    actions.release_containment(g.lots["A0"], actor=quality_engineer, reason="recall withdrawn", credential=PASSWORD)
    after = {g.name(k): s for k, s in MaterialLot.objects.values_list("lot_key", "status")}
    assert after == before  # every lot back to its status before containment (consumed stays consumed)


def test_containing_twice_or_releasing_nothing_is_refused(g: known.KnownGenealogy, quality_engineer: Any) -> None:
    with pytest.raises(RefusedByRule, match="no active containment"):
        actions.release_containment(g.lots["A1"], actor=quality_engineer, reason="x", credential=PASSWORD)
    actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="porosity")
    with pytest.raises(RefusedByRule, match="already contained"):
        actions.contain_lot(g.lots["A1"], actor=quality_engineer, reason="again")
    with pytest.raises(RefusedByRule, match="needs a reason"):
        actions.release_containment(g.lots["A1"], actor=quality_engineer, reason=" ", credential=PASSWORD)
