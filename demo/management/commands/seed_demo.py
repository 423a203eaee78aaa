"""Build a believable air-conditioning parts cell with history. Idempotent: a second run changes nothing.

Five stations, two part types with toleranced features, lots from several suppliers (one split, one merge),
batches of many serials with station events, an inspection of every part at both inspection stations (stored
through the ingest action, as live results are: see demo/history.py), failure cases, pallets, and one user per
role.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.actions import set_language
from demo import history
from demo.reviews import DEMO_DEVICE_ID
from edge_worker.vision.calibrate import render_calibration_target
from edge_worker.vision.parts import DEMO_PART_TYPES
from edge_worker.vision.render import DEFAULT_PX_PER_MM, encode_png
from inspection.actions.calibration import calibrate_station
from edge_worker.contracts.queues import INGEST_RESULT_TASK
from inspection.actions.edge import register_edge_device
from inspection.actions.edge_auth import ensure_edge_secret, sign_as_device
from inspection.actions.ingest import record_inspection_results
from traceability import actions, gs1, roles
from traceability.choices import (
    Disposition,
    FailureCaseStatus,
    PartStatus,
    StationKind,
    StationOutcome,
)
from traceability.models import (
    Area,
    Cell,
    DefectCode,
    FailureCase,
    Line,
    MaterialDefinition,
    MaterialLot,
    Part,
    PartType,
    Site,
    Station,
)

DEMO_PASSWORD = "twinweb-demo"
DEMO_USERS = (
    ("olivia", "Olivia", "Operator", roles.OPERATOR),
    ("sam", "Sam", "Supervisor", roles.SUPERVISOR),
    ("ada", "Ada", "Auditor", roles.AUDITOR),
    ("quinn", "Quinn", "Quality", roles.QUALITY_ENGINEER),
    ("admin", "Alex", "Admin", roles.ADMIN),
    ("joao", "João", "Silva", roles.OPERATOR),
)
# Users whose pages speak another language than their browser's (accounts.UserPreference): João works in Portuguese.
DEMO_LANGUAGES = {"joao": "pt-br"}
CELL_CODE = "ac-cell-1"
COMPANY_PREFIX = "7891234"  # a made-up GS1 company prefix for the demo plant
STATIONS = (
    ("load", "Loading", StationKind.LOADING),
    ("visual", "Visual inspection", StationKind.VISUAL_INSPECTION),
    ("dimensional", "Dimensional inspection", StationKind.DIMENSIONAL_INSPECTION),
    ("cobot", "Cobot failure analysis", StationKind.FAILURE_ANALYSIS),
    ("unload", "Unloading", StationKind.UNLOADING),
)
DEFECT_CODES = (
    ("scratch", "Surface scratch", "minor"),
    ("dent", "Dent", "major"),
    ("burr", "Burr on edge", "minor"),
    ("crack", "Crack", "critical"),
    ("missing_hole", "Missing hole", "critical"),
    ("oversized_hole", "Oversized hole", "major"),
    ("dimension_out_of_tolerance", "Dimension out of tolerance", "major"),
)
# Each part type consumes (material, quantity per part).
BILL_OF_MATERIALS: dict[str, list[tuple[str, Decimal]]] = {
    "CF-80": [("al-6061-billet", Decimal("0.420")), ("o-ring-80", Decimal("1"))],
    "TF-12": [("brass-cw617n-bar", Decimal("0.180")), ("o-ring-12", Decimal("2"))],
}
MATERIALS = (
    ("al-6061-billet", "Aluminium 6061 billet", "kg"),
    ("brass-cw617n-bar", "Brass CW617N bar", "kg"),
    ("o-ring-80", "HNBR O-ring 80 mm", "pcs"),
    ("o-ring-12", "HNBR O-ring 12 mm", "pcs"),
)
SUPPLIERS = {
    "al-6061-billet": ["Alumetal Sul", "Nordic Aluminium"],
    "brass-cw617n-bar": ["Latão Paulista"],
    "o-ring-80": ["SealTec", "Vedações Brasil"],
    "o-ring-12": ["SealTec"],
}


class Command(BaseCommand):
    help = "Seed the demo cell (idempotent). Prints the demo users and their password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--parts", type=int, default=3000, help="Historical parts to create (default 3000).")
        parser.add_argument("--seed", type=int, default=2023, help="Random seed (default 2023).")

    def handle(self, *args: Any, parts: int, seed: int, **options: Any) -> None:
        roles.sync_roles()
        self._users()
        if Cell.objects.filter(code=CELL_CODE).exists():
            self.stdout.write("Demo cell already seeded; nothing to do.")
        else:
            rng = random.Random(seed)
            admin = get_user_model().objects.get(username="admin")
            cell = self._plant(admin)
            part_types = self._part_types(admin)
            self._defect_codes(admin)
            lots = self._lots(admin, rng)
            self._calibrate(cell)
            self._history(admin, rng, cell, part_types, lots, total=parts)
            self._spc_baselines()
            self._champion_model(cell)
            self.stdout.write(self.style.SUCCESS(f"Seeded demo cell {cell.name} with {Part.objects.count()} parts."))
        from demo.reviews import seed_review_cases

        self.stdout.write(f"Debug Mode: {seed_review_cases(CELL_CODE)} new cases awaiting review.")
        self.stdout.write("\nDemo users (password for all: %s):" % DEMO_PASSWORD)
        for username, _first, _last, role in DEMO_USERS:
            language = f" (pages in {DEMO_LANGUAGES[username]})" if username in DEMO_LANGUAGES else ""
            self.stdout.write(f"  {username:<8} {role}{language}")

    def _users(self) -> None:
        user_model = get_user_model()
        groups = {g.name: g for g in roles.sync_roles().values()}
        for username, first, last, role in DEMO_USERS:
            user, created = user_model.objects.get_or_create(
                username=username, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
            user.is_staff = role in roles.STAFF_ROLES
            user.save()
            user.groups.set([groups[role]])
            if username in DEMO_LANGUAGES:
                set_language(user, language=DEMO_LANGUAGES[username], actor=user)

    def _plant(self, actor: Any) -> Cell:
        site = actions.save_record(Site(code="campinas", name="Campinas plant"), actor=actor)
        area = actions.save_record(Area(site=site, code="hvac", name="HVAC components"), actor=actor)
        line = actions.save_record(Line(area=area, code="line-3", name="Line 3"), actor=actor)
        cell = actions.save_record(
            Cell(line=line, code=CELL_CODE, name="A/C parts cell 1", target_cycle_time_s=15.0), actor=actor
        )
        for position, (code, name, kind) in enumerate(STATIONS, start=1):
            actions.save_record(Station(cell=cell, code=code, name=name, kind=kind, position=position), actor=actor)
        return cell

    def _part_types(self, actor: Any) -> dict[str, PartType]:
        created = {}
        for index, spec in enumerate(DEMO_PART_TYPES.values(), start=1):
            created[spec.code] = actions.create_part_type(
                code=spec.code,
                name=spec.name,
                family=spec.family,
                drawing_number=spec.drawing_number,
                revision=spec.revision,
                gtin=gs1.gtin14(COMPANY_PREFIX, index),
                four_eyes_override=spec.code == "CF-80",
                features=actions.feature_inputs(spec.features),
                actor=actor,
                reason="demo plant's drawings",
            )
        return created

    def _calibrate(self, cell: Cell) -> None:
        """Both inspection cameras, from rendered targets at the demo renderer's scale (as a technician would with
        the real target on the fixture)."""
        for seed, code in enumerate(("visual", "dimensional")):
            png = encode_png(render_calibration_target(DEFAULT_PX_PER_MM, seed=seed))
            calibration = calibrate_station(cell.stations.get(code=code), png=png, actor=None)
            self.stdout.write(f"  {code} camera calibrated: {calibration.px_per_mm:.4f} px/mm")

    def _defect_codes(self, actor: Any) -> None:
        for code, name, severity in DEFECT_CODES:
            actions.save_record(DefectCode(code=code, name=name, severity=severity), actor=actor)

    def _lots(self, actor: Any, rng: random.Random) -> dict[str, list[MaterialLot]]:
        """Supplier lots per material; one aluminium lot is split and two O-ring lots are merged."""
        received = timezone.now() - dt.timedelta(days=30)
        lots: dict[str, list[MaterialLot]] = {}
        number = 0
        for index, (code, name, unit) in enumerate(MATERIALS, start=901):
            material = actions.save_record(  # the GTIN names its lots in EPCIS exports (LGTIN)
                MaterialDefinition(code=code, name=name, unit=unit, gtin=gs1.gtin14(COMPANY_PREFIX, index)), actor=actor
            )
            lots[code] = []
            for supplier in SUPPLIERS[code]:
                for _ in range(2):
                    number += 1
                    lot = actions.receive_lot(
                        lot_key=f"LOT-{number:05d}",
                        material=material,
                        supplier=supplier,
                        supplier_lot_number=f"{supplier[:3].upper()}-{rng.randint(100000, 999999)}",
                        quantity=Decimal(20000 if unit == "pcs" else 2000),
                        received_at=received,
                        actor=actor,
                    )
                    lots[code].append(lot)
                    received += dt.timedelta(hours=7)
        billet = lots["al-6061-billet"][0]
        halves = actions.split_lot(
            billet,
            children=[(f"{billet.lot_key}-A", Decimal(800)), (f"{billet.lot_key}-B", Decimal(800))],
            actor=actor,
            at=received,
        )
        lots["al-6061-billet"] = [*halves, *lots["al-6061-billet"][1:]]
        rings = lots["o-ring-80"]
        merged = actions.merge_lots(
            [(rings[0], Decimal(6000)), (rings[2], Decimal(6000))], lot_key="LOT-M-00001", actor=actor, at=received
        )
        lots["o-ring-80"] = [merged, rings[1], rings[3]]
        return lots

    def _champion_model(self, cell: Cell) -> None:
        """The model registry starts where a plant starts: the shipped model registered and made the cell's champion
        by the quality engineer (signed with the demo password), so a trained candidate is compared with it on the
        same golden-set images and shadowed beside it."""
        import json

        from edge_worker.vision.backends import DEFAULT_MODEL_DIR, MODEL_JSON
        from modelops.actions import assign_alias, register_version
        from modelops.choices import Alias

        quinn = get_user_model().objects.get(username="quinn")
        card = json.loads((DEFAULT_MODEL_DIR / MODEL_JSON).read_text())
        onnx = (DEFAULT_MODEL_DIR / card["files"]["onnx"]["name"]).read_bytes()
        version = register_version(
            onnx=onnx,
            card=card,
            provenance={"shipped": True, "note": "the model shipped in edge_worker/models"},
            golden_set="",
            golden_metrics={},
            actor=quinn,
        )
        assign_alias(
            version,
            cell=cell,
            alias=Alias.CHAMPION,
            actor=quinn,
            credential=DEMO_PASSWORD,
            reason="demo: the shipped model is today's champion",
        )
        self.stdout.write(f"  Model registry: {version.version} is the champion of {cell.code}")

    def _spc_baselines(self) -> None:
        """SPC: every measured characteristic gets its chart; the worn bore's limits are frozen by the quality
        engineer from each history's first 25 subgroups, so the tool wear after them fires run rules on the live
        view. The other characteristics wait in Phase I for someone to freeze them."""
        from django.core.exceptions import ValidationError

        from spc.actions import freeze_limits, sync_characteristics
        from traceability.errors import DomainError

        quinn = get_user_model().objects.get(username="quinn")
        for ch in sync_characteristics(actor=None):
            if ch.feature.name != history.WORN_FEATURE:
                continue
            try:
                freeze_limits(
                    ch,
                    actor=quinn,
                    baseline_size=125,
                    baseline_start=0,
                    reason="demo: Phase I baseline, the first 25 subgroups after a tool change",
                )
            except (DomainError, ValidationError) as exc:
                self.stdout.write(f"  SPC {ch}: no limits frozen ({exc})")
                continue
            self.stdout.write(f"  SPC {ch}: limits frozen from the first 125 values")

    def _history(
        self,
        actor: Any,
        rng: random.Random,
        cell: Cell,
        part_types: dict[str, PartType],
        lots: dict[str, list[MaterialLot]],
        *,
        total: int,
    ) -> None:
        """Batches of parts made over the last six days: their lots and station visits imported as history, and
        their inspections stored as the edge device's results through the ingest action (which fails the parts
        that failed and opens their failure cases, as it does live). Older batches' cases are dispositioned."""
        stations = {s.code: s for s in cell.stations.all()}
        device, _ = register_edge_device(
            DEMO_DEVICE_ID, cell=cell, actor=actor, name="Jetson Nano (demo)", hardware="NVIDIA Jetson Nano 4 GB"
        )
        ensure_edge_secret(device, actor=actor)  # run_demo hands it to the edge worker it starts
        images = history.ReferenceImages()
        batch_size = 500
        batch_count = max(1, total // batch_size)
        clock = timezone.now() - dt.timedelta(days=6)
        pallet_number = 0
        for batch_index in range(batch_count):
            code = list(part_types)[batch_index % len(part_types)]
            batch = actions.create_batch(
                batch_number=f"B-{clock:%y%m%d}-{batch_index + 1:03d}",
                part_type=part_types[code],
                cell=cell,
                planned_quantity=batch_size,
                actor=actor,
                at=clock,
            )
            parts: list[actions.HistoricalPart] = []
            results: list[Any] = []
            for n in range(batch_size):
                serial = f"{code}-{clock:%y%m%d}-{batch_index + 1:03d}-{n + 1:04d}"
                consumed = [(rng.choice(lots[material]), quantity) for material, quantity in BILL_OF_MATERIALS[code]]
                defect = rng.choices([None, "visual", "dimensional"], weights=[95, 3.5, 1.5])[0]
                surface = rng.choice(history.VISUAL_DEFECTS) if defect == "visual" else "ok"
                measured = history.simulated_measurements(
                    code, rng, progress=n / batch_size, failed=defect == "dimensional"
                )
                out_of_tolerance = not all(m.passed for m in measured)  # a worn tool can fail a part on its own
                failed = surface != "ok" or out_of_tolerance
                events, clock = self._station_events(
                    rng, stations, clock, failed=failed, visual_nok=surface != "ok", dimensional_nok=out_of_tolerance
                )
                at = {e["station"].code: e["entered_at"] + dt.timedelta(seconds=2) for e in events}
                # A failed part is still in process when its results arrive: ingest fails it, as on the line.
                status = PartStatus.IN_PROCESS if failed else PartStatus.PASSED
                parts.append(actions.HistoricalPart(serial, events[0]["entered_at"], status, consumed, events))
                results.append(
                    history.visual_result(
                        serial,
                        code,
                        surface=surface,
                        captured_at=at["visual"],
                        device_id=device.device_id,
                        rng=rng,
                        images=images,
                    )
                )
                results.append(
                    history.dimensional_result(
                        serial,
                        code,
                        measurements=measured,
                        captured_at=at["dimensional"],
                        device_id=device.device_id,
                        images=images,
                    )
                )
            with transaction.atomic():
                actions.import_production_history(batch, parts=parts, actor=actor, source="demo seed")
            for chunk in history.chunks(results, 250):
                # Signed as the device sends them: history takes the live path, authentication included.
                record_inspection_results(
                    [sign_as_device(r.to_dict(), task=INGEST_RESULT_TASK, device=device) for r in chunk],
                    source="demo seed",
                )
            if batch_index < batch_count - 1:
                for case in FailureCase.objects.filter(part__batch=batch, status=FailureCaseStatus.OPEN):
                    disposition = rng.choice([Disposition.SCRAP, Disposition.REWORK, Disposition.SCRAP])
                    actions.disposition_failure_case(case, disposition=disposition, actor=actor, reason="demo history")
            pallet_number = self._pack(actor, batch, pallet_number, ship=batch_index < max(1, batch_count - 2))
            self.stdout.write(f"  batch {batch.batch_number}: {batch_size} parts, {len(results)} inspections")

    def _station_events(
        self,
        rng: random.Random,
        stations: dict[str, Station],
        clock: dt.datetime,
        *,
        failed: bool,
        visual_nok: bool,
        dimensional_nok: bool,
    ) -> tuple[list[dict[str, Any]], dt.datetime]:
        """One part's way through the cell; the conveyor index is the 15 s takt."""
        events = []
        at = clock
        path = ["load", "visual", "dimensional"] + (["cobot"] if failed else ["unload"])
        for code in path:
            duration = max(2.0, rng.gauss(12.5 if code != "cobot" else 45.0, 1.2))
            nok = (visual_nok and code == "visual") or (dimensional_nok and code == "dimensional")
            events.append(
                {
                    "station": stations[code],
                    "entered_at": at,
                    "left_at": at + dt.timedelta(seconds=duration),
                    "outcome": StationOutcome.NOK if nok else StationOutcome.OK,
                    "parameters": {"cycle_time_s": round(duration, 2)},
                }
            )
            at += dt.timedelta(seconds=duration + rng.uniform(0.5, 2.5))
        return events, clock + dt.timedelta(seconds=max(13.0, rng.gauss(15.0, 1.0)))

    def _pack(self, actor: Any, batch: Any, pallet_number: int, *, ship: bool) -> int:
        good = list(batch.parts.filter(status=PartStatus.PASSED).order_by("serial"))
        for start in range(0, len(good), 120):
            pallet_number += 1
            pallet = actions.create_pallet(sscc=gs1.sscc(COMPANY_PREFIX, pallet_number), actor=actor)
            actions.pack_parts(good[start : start + 120], pallet=pallet, actor=actor)
            actions.close_pallet(pallet, actor=actor)
            if ship:
                actions.ship_pallet(pallet, actor=actor)
        return pallet_number
