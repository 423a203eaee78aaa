"""Lots split and merge without losing quantity; held or failed parts are never packed or shipped."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support import factories
from traceability import actions, gs1
from traceability.choices import LotStatus, PartStatus
from traceability.errors import RefusedByRule
from traceability.models import LotLink

pytestmark = pytest.mark.django_db


def test_a_split_moves_quantity_into_child_lots(quality_engineer: Any) -> None:
    lot = factories.make_lot(actor=quality_engineer, quantity="1000")
    children = actions.split_lot(lot, children=[("A-1", Decimal(300)), ("A-2", Decimal(200))], actor=quality_engineer)
    lot.refresh_from_db()
    assert lot.quantity == Decimal(500)
    assert [c.quantity for c in children] == [Decimal(300), Decimal(200)]
    assert set(LotLink.objects.filter(parent=lot).values_list("child__lot_key", "kind")) == {
        ("A-1", "split"),
        ("A-2", "split"),
    }


def test_a_split_cannot_take_more_than_the_lot_holds(quality_engineer: Any) -> None:
    lot = factories.make_lot(actor=quality_engineer, quantity="10")
    with pytest.raises(RefusedByRule, match="holds 10"):
        actions.split_lot(lot, children=[("X", Decimal(11))], actor=quality_engineer)


def test_a_merge_needs_one_material_and_empties_consumed_parents(quality_engineer: Any) -> None:
    material = factories.make_material()
    a = factories.make_lot(material, actor=quality_engineer, quantity="100")
    b = factories.make_lot(material, actor=quality_engineer, quantity="50")
    merged = actions.merge_lots([(a, Decimal(100)), (b, Decimal(20))], lot_key="M-1", actor=quality_engineer)
    a.refresh_from_db(), b.refresh_from_db()
    assert merged.quantity == Decimal(120)
    assert a.status == LotStatus.CONSUMED and b.quantity == Decimal(30)
    other = factories.make_lot(actor=quality_engineer)
    with pytest.raises(RefusedByRule, match="same material"):
        actions.merge_lots([(b, Decimal(1)), (other, Decimal(1))], lot_key="M-2", actor=quality_engineer)


def test_a_suspect_lot_cannot_be_consumed(quality_engineer: Any) -> None:
    lot = factories.make_lot(actor=quality_engineer)
    actions.set_lot_status(lot, status=LotStatus.SUSPECT, actor=quality_engineer, reason="supplier recall")
    with pytest.raises(RefusedByRule, match="suspect"):
        factories.make_part(actor=quality_engineer, lots=[(lot, "1")])


@pytest.mark.parametrize("status", [PartStatus.ON_HOLD, PartStatus.FAILED, PartStatus.IN_PROCESS, PartStatus.SCRAPPED])
def test_only_good_parts_are_packed(status: PartStatus, supervisor: Any) -> None:
    part = factories.make_part(actor=supervisor, status=status)
    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 1), actor=supervisor)
    with pytest.raises(RefusedByRule, match="only passed or reworked"):
        actions.pack_part(part, pallet=pallet, actor=supervisor)


def test_a_pallet_of_good_parts_ships_and_its_parts_become_shipped(supervisor: Any) -> None:
    batch = factories.make_batch(actor=supervisor)
    parts = [factories.make_part(batch, actor=supervisor, status=PartStatus.PASSED) for _ in range(3)]
    pallet = actions.create_pallet(sscc=gs1.sscc("7891234", 2), actor=supervisor)
    assert actions.pack_parts(parts, pallet=pallet, actor=supervisor) == 3
    actions.ship_pallet(pallet, actor=supervisor)
    assert {p.status for p in pallet.parts.all()} == {PartStatus.SHIPPED}
    with pytest.raises(RefusedByRule, match="final"):
        actions.set_part_status(parts[0], status=PartStatus.ON_HOLD, actor=supervisor)


def test_sscc_and_gtin_carry_valid_check_digits() -> None:
    assert gs1.sscc("7891234", 1) == "078912340000000013"[:17] + gs1.check_digit("078912340000000013"[:17])
    assert gs1.is_valid(gs1.sscc("7891234", 42))
    assert gs1.check_digit("629104150021") == "3"  # GS1's own worked example (GTIN-13 6291041500213)
    assert len(gs1.gtin14("7891234", 5)) == 14 and gs1.is_valid(gs1.gtin14("7891234", 5))
