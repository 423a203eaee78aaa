"""A stand-in for the physical cell: parts move through the five stations on a conveyor takt.

Every takt (cycle time / speed factor) each part on the conveyor advances one station and a new part is loaded:

    load -> visual -> dimensional -> unload          (parts that passed)
                                  -> cobot           (parts that failed: failure analysis)

Station events go through the traceability actions (`register_part` with lot consumption, `record_station_entry`,
`record_station_exit`, `set_part_status`), as the cell's PLC integration would. At the visual and dimensional
stations the simulator renders the part with the vision library (a visual defect on `--defect-rate` of parts)
and sends the capture to the edge device's queue `edge.<device_id>`; the station's outcome follows the
inspection result the edge device sends back, as stored by the ingest worker. A capture whose result is overdue
(`resend_after_s`) is sent again, unchanged: the edge derives the result id from the capture id, so a re-sent
capture is stored once, and a message lost anywhere on the way (kombu's Redis transport pops a message before it
records it as unacknowledged: a broker crash in between loses that delivery) is recovered end to end. A part whose
result does not arrive within `result_timeout_s`, or whose result is an `error` verdict (the edge device could not
inspect it), goes on hold to the cobot station: the cell never ships an uninspected part. Only a part that passed
both inspection stations leaves through unload.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from edge_worker.contracts.inspection import Capture, encode_image
from edge_worker.contracts.queues import INSPECT_CAPTURE_TASK, edge_queue
from edge_worker.vision.parts import PartTypeSpec
from edge_worker.cameras.renderer import backlit_image
from edge_worker.vision.render import DEFECT_CLASSES, RenderedPart, encode_png, render_part
from inspection import selectors as inspection_selectors
from inspection.choices import Verdict
from inspection.models import EdgeDevice, Inspection
from traceability import actions
from traceability import selectors as trace_selectors
from traceability.choices import LotStatus, PartStatus, StationOutcome
from traceability.models import (
    Batch,
    Cell,
    MaterialLot,
    Part,
    PartType,
    Station,
    StationEvent,
)

log = logging.getLogger(__name__)

INSPECTION_STATIONS = ("visual", "dimensional")
FLOW = ("load", "visual", "dimensional")  # then "unload" or "cobot"
VISUAL_DEFECTS = tuple(d for d in DEFECT_CLASSES if d != "ok")
# Material each part consumes (kept in step with seed_demo's bill of materials).
BILL_OF_MATERIALS: dict[str, list[tuple[str, Decimal]]] = {
    "CF-80": [("al-6061-billet", Decimal("0.420")), ("o-ring-80", Decimal("1"))],
    "TF-12": [("brass-cw617n-bar", Decimal("0.180")), ("o-ring-12", Decimal("2"))],
}


@dataclass
class SimulatorConfig:
    cell_code: str = "ac-cell-1"
    device_id: str | None = None  # default: the cell's first edge device
    cycle_s: float = 15.0
    speed: float = 1.0
    defect_rate: float = 0.1
    seed: int = 1
    parts: int | None = None  # None: run until stopped
    part_types: tuple[str, ...] = ("CF-80", "TF-12")
    result_timeout_s: float = 60.0
    resend_after_s: float = 10.0

    @property
    def takt_s(self) -> float:
        return self.cycle_s / self.speed


@dataclass
class PartOnLine:
    part: Part
    defect: str | None
    render_seed: int
    rendered: RenderedPart | None = None
    station_index: int = 0
    event: StationEvent | None = None
    capture_id: uuid.UUID | None = None
    capture_payload: dict[str, Any] | None = None
    capture_sent: float = 0.0
    path: list[str] = field(default_factory=lambda: list(FLOW))
    verdicts: dict[str, str] = field(default_factory=dict)  # inspection station -> verdict ("" when none came)


class CellSimulator:
    def __init__(
        self,
        config: SimulatorConfig,
        *,
        send: Callable[[str, dict[str, Any], str], None] | None = None,
        sleep: Callable[[float], object] = time.sleep,
        stop: Callable[[], bool] = lambda: False,
        between_ticks: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.sleep = sleep
        self.should_stop = stop
        self.between_ticks = between_ticks
        self._send = send or _celery_send
        self.cell = Cell.objects.get(code=config.cell_code)
        self.stations = {s.code: s for s in Station.objects.filter(cell=self.cell)}
        missing = {*FLOW, "unload", "cobot"} - set(self.stations)
        if missing:
            raise ValueError(f"cell {config.cell_code} has no station(s) {sorted(missing)}")
        devices = EdgeDevice.objects.filter(cell=self.cell)
        device = (
            devices.filter(device_id=config.device_id).first()
            if config.device_id
            else devices.order_by("device_id").first()
        )
        if device is None:
            raise ValueError(f"no edge device {config.device_id or ''} registered for cell {config.cell_code}")
        self.device = device
        self.line: list[PartOnLine] = []
        self.loaded = 0
        self.finished: list[Part] = []
        self._batches: dict[str, Batch] = {}
        self._run_tag = timezone.now().strftime("%y%m%d%H%M%S")

    # --- the takt ---------------------------------------------------------------------------------

    def run(self) -> list[Part]:
        log.info(
            "simulating cell %s: takt %.2f s, defect rate %.0f %%, device %s",
            self.cell.code,
            self.config.takt_s,
            100 * self.config.defect_rate,
            self.device.device_id,
        )
        next_tick = time.monotonic()
        while not self.should_stop():
            self.tick()
            if self.config.parts is not None and self.loaded >= self.config.parts and not self.line:
                break
            next_tick += self.config.takt_s
            self.sleep(max(0.0, next_tick - time.monotonic()))
            self.between_ticks()
        return self.finished

    def tick(self) -> None:
        """Advance every part one station (downstream first), then load a new part."""
        for item in sorted(self.line, key=lambda i: -i.station_index):
            self._advance(item)
        if self.config.parts is None or self.loaded < self.config.parts:
            self._load()

    def _load(self) -> None:
        code = self.config.part_types[self.loaded % len(self.config.part_types)]
        batch = self._batch(code)
        self.loaded += 1
        serial = f"{code}-SIM{self._run_tag}-{self.loaded:04d}"
        part = actions.register_part(serial=serial, batch=batch, actor=None, consumed_lots=self._lots(code))
        defect = self.rng.choice(VISUAL_DEFECTS) if self.rng.random() < self.config.defect_rate else None
        item = PartOnLine(part=part, defect=defect, render_seed=self.rng.randrange(1 << 30))
        self.line.append(item)
        self._enter(item)

    def _advance(self, item: PartOnLine) -> None:
        station = item.path[item.station_index]
        outcome, parameters = StationOutcome.OK, {"cycle_time_s": round(self.config.takt_s, 3)}
        if station in INSPECTION_STATIONS:
            outcome, detail = self._inspection_outcome(item)
            item.verdicts[station] = str(detail.get("verdict", ""))
            parameters.update(detail)
        assert item.event is not None
        actions.record_station_exit(item.event, outcome=outcome, actor=None, parameters=parameters)
        item.part.refresh_from_db()
        item.station_index += 1
        if item.station_index == len(FLOW):
            item.path.append("unload" if self._inspected_and_passed(item) else "cobot")
        if item.station_index >= len(item.path):
            self._finish(item)
            return
        self._enter(item)

    def _enter(self, item: PartOnLine) -> None:
        station = self.stations[item.path[item.station_index]]
        item.event = actions.record_station_entry(item.part, station=station, actor=None)
        if station.code in INSPECTION_STATIONS:
            self._capture(item, station)

    def _inspected_and_passed(self, item: PartOnLine) -> bool:
        """Whether the part may leave through unload: every inspection station passed it and it is still in
        process. Anything else goes to failure analysis; a part still in process then goes on hold first."""
        not_passed = [
            f"{code}: {item.verdicts.get(code) or 'no result'}"
            for code in INSPECTION_STATIONS
            if item.verdicts.get(code) != Verdict.PASS
        ]
        if item.part.status == PartStatus.IN_PROCESS and not_passed:
            self._hold(item, f"not passed by inspection ({', '.join(not_passed)})")
        return item.part.status == PartStatus.IN_PROCESS

    def _hold(self, item: PartOnLine, reason: str) -> None:
        item.part.refresh_from_db()
        if item.part.status == PartStatus.IN_PROCESS:
            item.part = actions.set_part_status(item.part, status=PartStatus.ON_HOLD, actor=None, reason=reason)

    def _finish(self, item: PartOnLine) -> None:
        self.line.remove(item)
        part = item.part
        if item.path[-1] == "unload" and part.status == PartStatus.IN_PROCESS:
            part = actions.set_part_status(
                part, status=PartStatus.PASSED, actor=None, reason="unloaded after inspection"
            )
        self.finished.append(part)
        log.info("part %s left the cell: %s", part.serial, part.status)

    # --- inspection -------------------------------------------------------------------------------

    def _capture(self, item: PartOnLine, station: Station) -> None:
        # The drawing revision in force now: a tolerance a quality engineer tightened applies to the next part.
        spec = trace_selectors.part_type_spec(item.part.part_type)
        calibration = inspection_selectors.current_calibration(station)  # the station camera's scale
        if item.rendered is None:  # the same physical part is seen at both stations, each with its own lighting
            item.rendered = render_part(PartTypeSpec.from_dict(spec), seed=item.render_seed, defect=item.defect)
        view = station.camera_view
        png = encode_png(backlit_image(item.rendered) if view == "backlit" else item.rendered.image)
        item.capture_id = uuid.uuid4()
        capture = Capture(
            capture_id=item.capture_id,
            serial=item.part.serial,
            station=station.code,
            cell=self.cell.code,
            part_type=spec,
            image_png_b64=encode_image(png),
            job=station.inspection_job or "full",
            view=view,
            px_per_mm=calibration.px_per_mm if calibration else None,
            calibration_id=calibration.pk if calibration else None,
            lens_k1=calibration.lens_k1 if calibration and calibration.lens_k1 else None,
            captured_at=timezone.now(),
            device_id=self.device.device_id,
        )
        item.capture_payload = capture.to_dict()
        item.capture_sent = time.monotonic()
        self._send(INSPECT_CAPTURE_TASK, item.capture_payload, edge_queue(self.device.device_id))

    def _inspection_outcome(self, item: PartOnLine) -> tuple[StationOutcome, dict[str, Any]]:
        assert item.capture_id is not None  # _enter sent the capture at this station
        deadline = time.monotonic() + self.config.result_timeout_s
        inspection = None
        while True:
            inspection = (
                Inspection.objects.filter(capture_id=item.capture_id).only("verdict", "reason", "result_id").first()
            )
            if inspection is not None or time.monotonic() >= deadline or self.should_stop():
                break
            if time.monotonic() - item.capture_sent >= self.config.resend_after_s and item.capture_payload:
                log.warning(
                    "part %s: result of capture %s overdue: capture sent again", item.part.serial, item.capture_id
                )
                item.capture_sent = time.monotonic()
                self._send(INSPECT_CAPTURE_TASK, item.capture_payload, edge_queue(self.device.device_id))
            self.sleep(0.1)
        if inspection is None:
            reason = f"no inspection result within {self.config.result_timeout_s:.0f} s"
            log.warning("part %s: %s", item.part.serial, reason)
            self._hold(item, reason)
            return StationOutcome.SKIPPED, {"inspection": reason}
        detail = {"result_id": str(inspection.result_id), "verdict": inspection.verdict}
        if inspection.verdict == Verdict.ERROR:  # the device could not inspect it: not inspected, as above
            reason = (
                f"inspection {inspection.result_id} at {item.path[item.station_index]} errored: {inspection.reason}"
            )
            log.warning("part %s: %s", item.part.serial, reason)
            self._hold(item, reason[:500])
            return StationOutcome.SKIPPED, {**detail, "inspection": reason[:500]}
        return (StationOutcome.OK if inspection.verdict == Verdict.PASS else StationOutcome.NOK), detail

    # --- master data --------------------------------------------------------------------------------

    def _batch(self, code: str) -> Batch:
        if code not in self._batches:
            part_type = PartType.objects.get(code=code)
            self._batches[code] = actions.create_batch(
                batch_number=f"SIM-{self._run_tag}-{code}",
                part_type=part_type,
                cell=self.cell,
                planned_quantity=self.config.parts or 1000,
                actor=None,
            )
        return self._batches[code]

    def _lots(self, code: str) -> list[tuple[MaterialLot, Decimal]]:
        consumed = []
        for material, quantity in BILL_OF_MATERIALS.get(code, []):
            lots = list(
                MaterialLot.objects.filter(material__code=material, status=LotStatus.RELEASED).order_by("lot_key")
            )
            if lots:
                consumed.append((self.rng.choice(lots), quantity))
        return consumed


def _celery_send(task: str, payload: dict[str, Any], queue: str) -> None:
    from twinweb.celery import app

    app.send_task(task, args=[payload], queue=queue)


__all__ = ["CellSimulator", "SimulatorConfig"]
