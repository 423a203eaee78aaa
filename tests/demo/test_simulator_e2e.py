"""`python manage.py run_cell_simulator` itself, against real processes: a private Redis, the edge worker and the
ingest worker, all sharing the test database. Parts go through the cell and leave it as their inspections say;
a malformed capture on the edge queue ends in a dead letter on the server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from edge_worker.contracts.queues import INSPECT_CAPTURE_TASK, edge_queue
from inspection.models import DeadLetter, Inspection
from tests.support import broker, factories, processes
from tests.support import ingest_builders as builders
from traceability.choices import PartStatus
from traceability.models import Part, StationEvent

pytestmark = [pytest.mark.e2e]
DEVICE = "jetson-sim-e2e-01"


@pytest.fixture
def running_cell(transactional_db: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    cell = factories.make_cell()
    builders.make_device(cell, DEVICE)
    for code in ("CF-80", "TF-12"):
        factories.make_part_type(code=code)
    server = broker.RedisServer().start()
    # The shipped defect model on the CPU: visual defects are found, so parts leave through both exits.
    env = processes.worker_env(server, tmp_path / "media", TWINWEB_INFERENCE_BACKEND="onnxruntime")
    ingest = processes.ingest_worker(env, tmp_path).start()
    edge = processes.edge_worker(env, tmp_path, DEVICE).start()
    try:
        edge.wait_for_log(f"edge worker {DEVICE} ready", 60)
        ingest.wait_for_log("ready.", 60)
        yield {"cell": cell, "env": env, "redis": server, "ingest": ingest, "edge": edge}
    finally:
        edge.kill()
        ingest.kill()
        server.stop()


def test_it_runs_parts_through_the_cell_with_the_management_command(running_cell: dict[str, Any]) -> None:
    cell, edge, ingest = running_cell["cell"], running_cell["edge"], running_cell["ingest"]
    command = [
        sys.executable,
        "manage.py",
        "run_cell_simulator",
        "--cell",
        cell.code,
        "--device",
        DEVICE,
        "--parts",
        "3",
        "--cycle",
        "15",
        "--speed",
        "100",
        "--defect-rate",
        "0.5",
        "--seed",
        "2",
        "--result-timeout",
        "20",
    ]
    done = subprocess.run(
        command, cwd=processes.ROOT, env=running_cell["env"], capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stdout + done.stderr + edge.log()[-2000:] + ingest.log()[-2000:]
    assert "3 part(s) left the cell: 2 passed, 1 not." in done.stdout

    parts = list(Part.objects.filter(batch__cell=cell))
    assert len(parts) == 3
    exits = []
    for part in parts:
        verdicts = dict(Inspection.objects.filter(part=part).values_list("station__code", "verdict"))
        assert set(verdicts) == {"visual", "dimensional"}, "one stored result per station"
        last = (
            StationEvent.objects.filter(part=part)
            .order_by("-entered_at", "-id")
            .values_list("station__code", flat=True)[0]
        )
        exits.append(last)
        if set(verdicts.values()) == {"pass"}:
            assert (last, part.status) == ("unload", PartStatus.PASSED)
        else:
            assert last == "cobot" and part.status != PartStatus.PASSED
    assert sorted(exits) == ["cobot", "unload", "unload"]  # seed 2: the second part has a visual defect
    assert Inspection.objects.count() == 6
    assert DeadLetter.objects.count() == 0, list(DeadLetter.objects.values_list("reason", "detail"))


def test_it_keeps_a_malformed_capture_sent_to_the_edge_worker_in_a_dead_letter(running_cell: dict[str, Any]) -> None:
    server = running_cell["redis"]
    producer = Celery("sim-e2e-producer", broker="redis+socket://" + str(server.socket), set_as_current=False)
    malformed = {"schema": 1, "capture_id": str(uuid.uuid4()), "serial": "CF-80-0001", "station": "visual"}
    producer.send_task(INSPECT_CAPTURE_TASK, args=[malformed], queue=edge_queue(DEVICE))

    letter = processes.wait_for(
        lambda: DeadLetter.objects.filter(source=INSPECT_CAPTURE_TASK).first(),
        30,
        "the refused capture's dead letter",
        on_fail=lambda: running_cell["edge"].log() + running_cell["ingest"].log(),
    )
    assert letter.detail.startswith(f"malformed capture: part_type: missing (refused by edge device '{DEVICE}'")
    assert letter.payload == malformed
    assert Inspection.objects.count() == 0
