"""Builders for test data. Everything goes through the same actions the product uses."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from traceability import actions, roles
from traceability.choices import PartStatus, StationKind
from traceability.models import (
    Area,
    Batch,
    Cell,
    DefectCode,
    Line,
    MaterialDefinition,
    MaterialLot,
    Part,
    PartType,
    Site,
    Station,
)

PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter):05d}"


def make_user(username: str, role: str | None) -> Any:
    user = get_user_model().objects.create_user(
        username=username,
        password=PASSWORD,
        first_name=username.title(),
        last_name="Tester",
        is_staff=role in roles.STAFF_ROLES,
    )
    if role:
        roles.sync_roles()
        user.groups.add(Group.objects.get(name=role))
    return user


STATION_LAYOUT = (
    ("load", "Loading", StationKind.LOADING),
    ("visual", "Visual inspection", StationKind.VISUAL_INSPECTION),
    ("dimensional", "Dimensional inspection", StationKind.DIMENSIONAL_INSPECTION),
    ("cobot", "Cobot failure analysis", StationKind.FAILURE_ANALYSIS),
    ("unload", "Unloading", StationKind.UNLOADING),
)


def make_cell(actor: Any = None, code: str | None = None) -> Cell:
    site = actions.save_record(Site(code=unique("site"), name="Test plant"), actor=actor)
    area = actions.save_record(Area(site=site, code="hvac", name="HVAC"), actor=actor)
    line = actions.save_record(Line(area=area, code="line-1", name="Line 1"), actor=actor)
    cell = actions.save_record(Cell(line=line, code=code or unique("cell"), name="Test cell"), actor=actor)
    for position, (station_code, name, kind) in enumerate(STATION_LAYOUT, start=1):
        actions.save_record(Station(cell=cell, code=station_code, name=name, kind=kind, position=position), actor=actor)
    return cell  # type: ignore[return-value]


def make_part_type(actor: Any = None, code: str | None = None, four_eyes: bool = False) -> PartType:
    """A flange part type with its first drawing revision (the demo flange's features: measurable by the edge)."""
    from edge_worker.vision.parts import DEMO_PART_TYPES

    features = actions.feature_inputs(DEMO_PART_TYPES["CF-80"].features)
    return actions.create_part_type(
        code=code or unique("pt"),
        name="Test flange",
        family="flange",
        drawing_number=unique("DRW"),
        revision="A",
        features=features,
        actor=actor,
        gtin="07891234000014",
        four_eyes_override=four_eyes,
    )


def make_material(actor: Any = None) -> MaterialDefinition:
    return actions.save_record(MaterialDefinition(code=unique("mat"), name="Aluminium billet", unit="kg"), actor=actor)  # type: ignore[return-value]


def make_lot(
    material: MaterialDefinition | None = None, *, actor: Any = None, lot_key: str | None = None, quantity: str = "1000"
) -> MaterialLot:
    return actions.receive_lot(
        lot_key=lot_key or unique("LOT"),
        material=material or make_material(actor),
        quantity=Decimal(quantity),
        received_at=timezone.now() - dt.timedelta(days=1),
        supplier="Alumetal",
        supplier_lot_number=unique("S"),
        actor=actor,
    )


def make_batch(part_type: PartType | None = None, cell: Cell | None = None, *, actor: Any = None) -> Batch:
    return actions.create_batch(
        batch_number=unique("B"),
        part_type=part_type or make_part_type(actor),
        cell=cell,
        planned_quantity=100,
        actor=actor,
    )


def make_part(
    batch: Batch | None = None,
    *,
    actor: Any = None,
    lots: list[tuple[MaterialLot, str]] = (),  # type: ignore[assignment]
    components: list[Part] = (),
    serial: str | None = None,
    status: PartStatus | None = None,
) -> Part:  # type: ignore[assignment]
    part = actions.register_part(
        serial=serial or unique("SN"),
        batch=batch or make_batch(actor=actor),
        actor=actor,
        consumed_lots=[(lot, Decimal(q)) for lot, q in lots],
        components=list(components),
    )
    if status and status != part.status:
        actions.set_part_status(part, status=status, actor=actor, reason="test setup")
    return part


def make_defect_code(code: str = "scratch") -> DefectCode:
    existing = DefectCode.objects.filter(code=code).first()
    return existing or actions.save_record(DefectCode(code=code, name=code.title()), actor=None)  # type: ignore[return-value]
