"""The cell simulator: parts go through the five stations; the inspection stations' outcomes follow the edge
device's results, and failed parts go to the cobot station. (The edge device runs in-process here; the real
queue path is covered by the e2e tests.)"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from demo.simulator import CellSimulator, SimulatorConfig
from edge_worker.contracts.inspection import Capture
from edge_worker.power import NoneSampler, PowerMonitor
from edge_worker.runtime import EdgeRuntime
from inspection.actions.ingest import record_inspection_result
from inspection.models import Inspection
from tests.support import factories
from tests.support import ingest_builders as builders
from traceability import actions
from traceability.choices import PartStatus, StationOutcome
from traceability.models import LotConsumption, MaterialDefinition, Part, StationEvent


@pytest.fixture
def edge_device_inline() -> Any:
    runtime = EdgeRuntime(device_id=builders.DEVICE_ID, backend="none", monitor=PowerMonitor(NoneSampler()))
    sent: list[tuple[str, str]] = []

    def send(task: str, payload: dict[str, Any], queue: str) -> None:
        sent.append((task, queue))
        result = runtime.inspect(Capture.from_dict(payload))
        record_inspection_result(builders.signed(result.with_sent_at(result.inspected_at).to_dict()))

    yield send, sent
    runtime.close()


def test_it_moves_parts_through_the_cell_and_follows_the_inspection_results(
    cell: Any, edge_device_inline: Any, tmp_path: Path
) -> None:
    send, sent = edge_device_inline
    builders.make_device(cell)
    factories.make_part_type(code="CF-80")
    factories.make_part_type(code="TF-12")
    billet = actions.save_record(MaterialDefinition(code="al-6061-billet", name="Billet", unit="kg"), actor=None)
    lot = factories.make_lot(billet)  # type: ignore[arg-type]
    config = SimulatorConfig(cell_code=cell.code, cycle_s=15.0, speed=1000.0, defect_rate=0.5, seed=4, parts=4)
    with override_settings(MEDIA_ROOT=tmp_path):
        finished = CellSimulator(config, send=send, sleep=lambda _s: None).run()

    assert len(finished) == 4
    assert sent == [("edge_worker.tasks.inspect_capture", f"edge.{builders.DEVICE_ID}")] * 8
    for part in Part.objects.filter(serial__in=[p.serial for p in finished]):
        path = list(
            StationEvent.objects.filter(part=part).order_by("entered_at", "id").values_list("station__code", "outcome")
        )
        verdicts = dict(Inspection.objects.filter(part=part).values_list("station__code", "verdict"))
        assert [code for code, _ in path[:3]] == ["load", "visual", "dimensional"]
        for code in ("visual", "dimensional"):
            assert dict(path)[code] == (StationOutcome.OK if verdicts[code] == "pass" else StationOutcome.NOK)
        if "fail" in verdicts.values():
            assert (path[-1][0], part.status) == ("cobot", PartStatus.FAILED)
        else:
            assert (path[-1][0], part.status) == ("unload", PartStatus.PASSED)
    consumed = LotConsumption.objects.filter(lot=lot)
    assert consumed.count() == 2 and {c.quantity for c in consumed} == {Decimal("0.420")}  # the two CF-80 parts


def test_it_sends_an_overdue_capture_again_and_the_result_is_stored_once(
    cell: Any, edge_device_inline: Any, tmp_path: Path
) -> None:
    deliver, sent = edge_device_inline
    builders.make_device(cell)
    factories.make_part_type(code="TF-12")
    lost: list[dict[str, Any]] = []

    def lossy(task: str, payload: dict[str, Any], queue: str) -> None:
        if not lost:  # the broker loses the very first capture
            lost.append(payload)
            return
        deliver(task, payload, queue)

    config = SimulatorConfig(
        cell_code=cell.code, speed=1000.0, defect_rate=0.0, seed=1, parts=1, part_types=("TF-12",), resend_after_s=0.0
    )
    with override_settings(MEDIA_ROOT=tmp_path):
        [part] = CellSimulator(config, send=lossy, sleep=lambda _s: None).run()
    assert len(sent) == 2  # visual (re-sent once) and dimensional
    assert Inspection.objects.filter(part=part).count() == 2
    assert Inspection.objects.filter(capture_id=lost[0]["capture_id"]).count() == 1


@pytest.mark.parametrize("erring_station", ["visual", "dimensional"])
def test_it_holds_a_part_whose_inspection_errored_and_sends_it_to_failure_analysis(
    cell: Any, tmp_path: Path, erring_station: str
) -> None:
    # An error verdict means the part was not inspected (e.g. the classifier failed): like a missing result, it
    # never leaves through unload as passed.
    runtime = EdgeRuntime(device_id=builders.DEVICE_ID, backend="none", monitor=PowerMonitor(NoneSampler()))

    def send(task: str, payload: dict[str, Any], queue: str) -> None:
        result = runtime.inspect(Capture.from_dict(payload))
        if result.station == erring_station:
            result = dataclasses.replace(result, verdict="error", reason="classifier failed: RuntimeError('boom')")
        record_inspection_result(builders.signed(result.with_sent_at(result.inspected_at).to_dict()))

    builders.make_device(cell)
    factories.make_part_type(code="TF-12")
    config = SimulatorConfig(cell_code=cell.code, speed=1000.0, defect_rate=0.0, seed=1, parts=1, part_types=("TF-12",))
    try:
        with override_settings(MEDIA_ROOT=tmp_path):
            [part] = CellSimulator(config, send=send, sleep=lambda _s: None).run()
    finally:
        runtime.close()

    part.refresh_from_db()
    path = dict(StationEvent.objects.filter(part=part).values_list("station__code", "outcome"))
    assert part.status == PartStatus.ON_HOLD
    assert "cobot" in path and "unload" not in path
    assert path[erring_station] == StationOutcome.SKIPPED
    assert Inspection.objects.get(part=part, station__code=erring_station).verdict == "error"
