"""The known-answer genealogy: a small plant history whose traces are worked out by hand below.

Lots (aluminium billets and O-rings; ← means "came from"):

    A0 (supplier) ──split──► A1, A2          A1 ──split──► A1a          (two levels of splits)
    R1, R2 (supplier) ──merge──► RM                                      (a merge)
    R3, X (supplier lots, never split or merged)

Parts (batches of many serials; "⊃" means "has built in"):

    batch SUB: S01..S15 consume A1 + RM;  S16..S30 consume A2 + R3
    batch ASM: M1 ⊃ S01, S02 and consumes X;  M2 ⊃ S16;  M3 consumes A1a only
    batch TOP: T1 ⊃ M1                                                   (an assembly of an assembly)
    batch OTHER: U1 consumes X only

Expected answers (exactly these, no more, no less):

    backward(T1)  parts {T1, M1, S01, S02}, lots {X, A1, A0, RM, R1, R2}
    backward(S16) parts {S16}, lots {A2, A0, R3}
    forward(A0)   S01..S30, M1, M2, M3, T1          forward(A1) S01..S15, M1, M3, T1
    forward(R1)   S01..S15, M1, T1                  forward(R3) S16..S30, M2
    forward(X)    M1, T1, U1                        forward(A1a) M3
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tests.support import factories
from traceability import actions
from traceability.choices import PartStatus, StationOutcome
from traceability.models import Batch, MaterialDefinition, MaterialLot, Part, PartType

SUB = [f"S{n:02d}" for n in range(1, 31)]
SUB_A1 = SUB[:15]
SUB_A2 = SUB[15:]

EXPECTED_BACKWARD = {
    "T1": ({"T1", "M1", "S01", "S02"}, {"X", "A1", "A0", "RM", "R1", "R2"}),
    "M1": ({"M1", "S01", "S02"}, {"X", "A1", "A0", "RM", "R1", "R2"}),
    "S16": ({"S16"}, {"A2", "A0", "R3"}),
    "M3": ({"M3"}, {"A1a", "A1", "A0"}),
    "U1": ({"U1"}, {"X"}),
}
EXPECTED_FORWARD = {
    "A0": {*SUB, "M1", "M2", "M3", "T1"},
    "A1": {*SUB_A1, "M1", "M3", "T1"},
    "A2": {*SUB_A2, "M2"},
    "A1a": {"M3"},
    "R1": {*SUB_A1, "M1", "T1"},
    "RM": {*SUB_A1, "M1", "T1"},
    "R3": {*SUB_A2, "M2"},
    "X": {"M1", "T1", "U1"},
}
EXPECTED_DESCENDANT_LOTS = {"A0": {"A0", "A1", "A2", "A1a"}, "R1": {"R1", "RM"}, "X": {"X"}}


@dataclass
class KnownGenealogy:
    prefix: str
    cell: Any
    lots: dict[str, MaterialLot] = field(default_factory=dict)
    parts: dict[str, Part] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)

    def key(self, name: str) -> str:
        """The stored lot key or serial of a name used above (tests may build several genealogies)."""
        return f"{self.prefix}-{name}"

    def name(self, key: str) -> str:
        return key.removeprefix(f"{self.prefix}-")

    def names(self, keys: Any) -> set[str]:
        return {self.name(k) for k in keys}


def _material(code: str, name: str, unit: str, gtin: str) -> MaterialDefinition:
    existing = MaterialDefinition.objects.filter(code=code).first()
    return existing or actions.save_record(  # type: ignore[return-value]
        MaterialDefinition(code=code, name=name, unit=unit, gtin=gtin), actor=None
    )


def _part_type(code: str, gtin: str) -> PartType:
    existing = PartType.objects.filter(code=code).first()
    return existing or actions.save_record(  # type: ignore[return-value]
        PartType(code=code, name=code, drawing_number=f"DRW-{code}", revision="A", gtin=gtin), actor=None
    )


def build(actor: Any = None, *, prefix: str = "K", cell: Any = None) -> KnownGenealogy:
    g = KnownGenealogy(prefix=prefix, cell=cell or factories.make_cell(actor))
    alu = _material("al-billet", "Aluminium billet", "kg", "07891234009017")
    ring = _material("o-ring", "O-ring", "pcs", "07891234009024")
    start = timezone.now() - dt.timedelta(days=2)
    for name, material in (("A0", alu), ("R1", ring), ("R2", ring), ("R3", ring), ("X", alu)):
        g.lots[name] = actions.receive_lot(
            lot_key=g.key(name),
            material=material,
            quantity=Decimal(1000),
            received_at=start,
            actor=actor,
            supplier="Supplier",
            supplier_lot_number=f"SUP-{name}",
        )
    a1, a2 = actions.split_lot(
        g.lots["A0"],
        children=[(g.key("A1"), Decimal(400)), (g.key("A2"), Decimal(400))],
        actor=actor,
        at=start + dt.timedelta(hours=1),
    )
    g.lots["A1"], g.lots["A2"] = a1, a2
    [g.lots["A1a"]] = actions.split_lot(
        a1, children=[(g.key("A1a"), Decimal(50))], actor=actor, at=start + dt.timedelta(hours=2)
    )
    g.lots["A1"].refresh_from_db()
    g.lots["RM"] = actions.merge_lots(
        [(g.lots["R1"], Decimal(300)), (g.lots["R2"], Decimal(300))],
        lot_key=g.key("RM"),
        actor=actor,
        at=start + dt.timedelta(hours=1),
    )

    flange = _part_type("KN-FLANGE", "07891234000014")
    assembly = _part_type("KN-ASM", "07891234000021")
    for name, part_type in (("SUB", flange), ("ASM", assembly), ("TOP", assembly), ("OTHER", flange)):
        g.batches[name] = actions.create_batch(
            batch_number=g.key(f"B-{name}"),
            part_type=part_type,
            cell=g.cell,
            planned_quantity=30,
            actor=actor,
            at=start,
        )

    def make(name: str, batch: str, lots: list[tuple[str, str]], components: list[str] = ()) -> Part:  # type: ignore[assignment]
        part = actions.register_part(
            serial=g.key(name),
            batch=g.batches[batch],
            actor=actor,
            at=start + dt.timedelta(hours=3),
            consumed_lots=[(g.lots[lot], Decimal(q)) for lot, q in lots],
            components=[g.parts[c] for c in components],
        )
        part = actions.set_part_status(part, status=PartStatus.PASSED, actor=actor, reason="known genealogy")
        g.parts[name] = part
        return part

    for name in SUB_A1:
        make(name, "SUB", [("A1", "0.420"), ("RM", "1")])
    for name in SUB_A2:
        make(name, "SUB", [("A2", "0.420"), ("R3", "1")])
    make("M1", "ASM", [("X", "0.100")], ["S01", "S02"])
    make("M2", "ASM", [], ["S16"])
    make("M3", "ASM", [("A1a", "0.420")])
    make("T1", "TOP", [], ["M1"])
    make("U1", "OTHER", [("X", "0.200")])
    for p in g.parts.values():
        p.refresh_from_db()
    for lot in g.lots.values():
        lot.refresh_from_db()
    return g


def add_station_history(g: KnownGenealogy, name: str, actor: Any = None) -> list[Any]:
    """Load → visual → unload for one part, each with its parameters."""
    part = g.parts[name]
    stations = {s.code: s for s in g.cell.stations.all()}
    at = part.created_at + dt.timedelta(minutes=1)
    events = []
    for code in ("load", "visual", "unload"):
        event = actions.record_station_entry(
            part, station=stations[code], actor=actor, at=at, parameters={"cycle_time_s": 12.5}
        )
        actions.record_station_exit(event, outcome=StationOutcome.OK, actor=actor, at=at + dt.timedelta(seconds=12))
        events.append(event)
        at += dt.timedelta(seconds=15)
    return events


def add_inspection(g: KnownGenealogy, name: str, *, verdict: str = "pass", reviewer: Any = None) -> Any:
    """An Inspection with two measurements, written with the ORM: inspection ingest is another issue's work and
    traceability must read what it stores (fields fixed in inspection/models/core.py)."""
    from inspection.models import EdgeDevice, Inspection, Measurement

    part = g.parts[name]
    station = g.cell.stations.get(code="dimensional")
    device, _ = EdgeDevice.objects.get_or_create(device_id="jetson-kn", defaults={"name": "Jetson", "cell": g.cell})
    at = part.created_at + dt.timedelta(minutes=2)
    inspection = Inspection.objects.create(
        result_id=uuid.uuid4(),
        capture_id=uuid.uuid4(),
        part=part,
        station=station,
        device=device,
        verdict=verdict,
        reason="" if verdict == "pass" else "bore_diameter out of tolerance",
        defect_class="" if verdict == "pass" else "oversized_hole",
        defect_confidence=None if verdict == "pass" else 0.91,
        model_version="flange-cls-1.2.0",
        backend="onnxruntime",
        captured_at=at,
        inspected_at=at + dt.timedelta(milliseconds=40),
        received_at=at + dt.timedelta(seconds=1),
        needs_review=verdict != "pass",
    )
    Measurement.objects.create(
        inspection=inspection,
        name="bore_diameter",
        kind="diameter",
        value=30.02,
        nominal=30.0,
        lower_tol=0.0,
        upper_tol=0.05,
        unit="mm",
        passed=True,
    )
    Measurement.objects.create(
        inspection=inspection,
        name="outer_size",
        kind="outer_size",
        value=80.07 if verdict != "pass" else 80.01,
        nominal=80.0,
        lower_tol=-0.05,
        upper_tol=0.05,
        unit="mm",
        passed=verdict == "pass",
    )
    return inspection


def add_review(inspection: Any, reviewer: Any) -> Any:
    """A signed Debug Mode review of an inspection, written with the ORM (Debug Mode's actions are another issue's)."""
    from review.models import Review

    at = inspection.received_at + dt.timedelta(minutes=1)
    return Review.objects.create(
        inspection=inspection,
        reviewer=reviewer,
        verdict="confirm_nok",
        disposition="scrap",
        opened_at=at,
        signed_at=at + dt.timedelta(seconds=20),
        review_seconds=20.0,
        status="complete",
        completed_at=at + dt.timedelta(seconds=20),
        idempotency_key=uuid.uuid4(),
        signed_content={},
        content_sha256="0" * 64,
    )
