"""The production path end to end, with real processes: the PLC's trigger (an OPC UA server) -> the cell gateway
(`manage.py run_cell_gateway`) -> a capture command -> the edge worker takes the image from its camera source (the
demo renderer) and inspects it -> the ingest worker stores the result -> the gateway writes the verdict back to the
PLC -> the PLC routes the part: both inspections passed to unload, anything else to the cobot. No image is rendered
by the server."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.plc import SimulatedPLC
from gateway.models import CycleRecord
from inspection.models import DeadLetter, Inspection
from tests.gateway.conftest import plc_config
from tests.support import broker, factories, processes
from tests.support import ingest_builders as builders
from traceability.choices import PartStatus
from traceability.models import Part, StationEvent

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DEVICE = "jetson-gateway-e2e-01"


@pytest.fixture
def twin(transactional_db: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    cell = factories.make_cell(code="e2e-cell")
    builders.make_device(cell, DEVICE)
    factories.make_part_type(code="CF-80")
    server = broker.RedisServer().start()
    # Half of the parts the demo camera sees carry a surface defect; the shipped model finds them.
    env = processes.worker_env(
        server,
        tmp_path / "media",
        TWINWEB_INFERENCE_BACKEND="onnxruntime",
        TWINWEB_CAMERA_RENDER_DEFECT_RATE="0.5",
        TWINWEB_CAMERA_RENDER_SEED="3",
    )
    ingest = processes.ingest_worker(env, tmp_path).start()
    edge = processes.edge_worker(env, tmp_path, DEVICE).start()
    try:
        edge.wait_for_log(f"edge worker {DEVICE} ready", 60)
        ingest.wait_for_log("ready.", 60)
        yield {"cell": cell, "env": env, "ingest": ingest, "edge": edge, "tmp": tmp_path}
    finally:
        edge.kill()
        ingest.kill()
        server.stop()


async def test_it_inspects_what_the_plc_triggers_and_routes_each_part_by_the_twins_verdicts(
    twin: dict[str, Any],
) -> None:
    config = await asyncio.to_thread(
        plc_config, twin["cell"], parts=4, cycle_s=1.0, result_timeout_s=30.0, serial_tag="E2E"
    )
    plc = SimulatedPLC(config)
    await plc.start()
    gateway = processes.Worker(
        "gateway",
        [
            sys.executable,
            "manage.py",
            "run_cell_gateway",
            "--cell",
            "e2e-cell",
            "--endpoint",
            config.endpoint,
            "--poll",
            "0.5",
        ],
        twin["env"],
        twin["tmp"],
    )
    gateway.start()
    try:
        stop = asyncio.Event()
        await asyncio.wait_for(plc.run(stop), timeout=150)
        emitted = sum(plc.sequences.values())
        await asyncio.to_thread(
            processes.wait_for,
            lambda: CycleRecord.objects.count() >= emitted,
            30,
            "the gateway to store the last events",
            on_fail=gateway.log,
        )
    finally:
        gateway.kill()
        await plc.stop()
    logs = gateway.log()[-3000:] + twin["edge"].log()[-2000:] + twin["ingest"].log()[-2000:]
    assert len(plc.finished) == 4, logs
    for part_on_line in plc.finished:
        part = await asyncio.to_thread(Part.objects.get, serial=part_on_line.serial)
        verdicts = dict(
            await asyncio.to_thread(list, Inspection.objects.filter(part=part).values_list("station__code", "verdict"))
        )
        assert verdicts == part_on_line.verdicts, logs  # the PLC routed on exactly what the twin stored
        passed = set(verdicts.values()) == {"pass"}
        assert part_on_line.route[-1] == ("unload" if passed else "cobot")
        exits = await asyncio.to_thread(
            list,
            StationEvent.objects.filter(part=part)
            .order_by("-entered_at", "-id")
            .values_list("station__code", flat=True)[:1],
        )
        last = exits[0]
        assert last == part_on_line.route[-1]
        assert (part.status == PartStatus.PASSED) == passed
    assert {r for p in plc.finished for r in [p.route[-1]]} == {"unload", "cobot"}, "seed 3: parts leave both ways"
    stored = await asyncio.to_thread(CycleRecord.objects.count)
    assert stored == sum(plc.sequences.values())
    assert await asyncio.to_thread(Inspection.objects.count) == 8
    assert await asyncio.to_thread(lambda: list(DeadLetter.objects.values_list("detail", flat=True))) == []
