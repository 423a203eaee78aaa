"""The product path with real processes: `profile_edge --wait` queues the job on `edge.<device>`, the real edge
worker (python -m edge_worker.worker) runs the protocol, its report travels by task name to an ingest worker,
which stores it; the command then prints the table."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from inspection.actions.edge import register_edge_device
from inspection.actions.edge_auth import ensure_edge_secret
from profiling.models import ProfilingRun
from tests.support import factories, processes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def edge_worker(device_id: str, env: dict[str, str], log_path: Path) -> Any:
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_worker.worker", "--device", device_id, "--telemetry-interval", "0"],
            cwd=processes.ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            processes.stop_group(proc)


def test_it_profiles_on_the_devices_worker_and_stores_the_report(tmp_path: Path, model_dir: Path) -> None:
    device, _ = register_edge_device(f"prof-{uuid.uuid4().hex[:8]}", cell=factories.make_cell(), actor=None)
    reply = f"ingest-profiling-{uuid.uuid4().hex[:8]}"  # our own ingest queue: no other worker takes the report
    # The device signs its report with its secret (issued here, as an installer does before starting it).
    env = processes.child_env(
        TWINWEB_POWER_SAMPLER="none", TWINWEB_EDGE_SECRET=ensure_edge_secret(device, actor=None).text()
    )
    out = io.StringIO()
    with (
        edge_worker(device.device_id, env, tmp_path / "edge.log"),
        processes.celery_worker(env, reply, tmp_path / "ingest.log"),
    ):
        call_command(
            "profile_edge",
            "--device",
            device.device_id,
            "--wait",
            "--timeout",
            "240",
            "--images",
            "7",
            "--warmup",
            "0",
            "--rounds",
            "1",
            "--variants",
            "onnxruntime-fp32,opencv-fp32",
            "--model-dir",
            str(model_dir),
            "--reply-queue",
            reply,
            stdout=out,
        )
    run = ProfilingRun.objects.get(device=device)
    assert run.status == "done", (tmp_path / "edge.log").read_text()[-3000:]
    assert [v.key for v in run.variants.all() if v.available] == ["onnxruntime-fp32", "opencv-fp32"]
    assert "| FPS |" in out.getvalue()
