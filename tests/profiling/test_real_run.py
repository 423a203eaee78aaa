"""A real profiling run of the CPU backends, end to end through `manage.py profile_edge --inline`: the protocol
runs here, the report goes through the same store action the ingest task uses, and the run is audited."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from edge_worker.contracts.profiling import PHASES, VARIANT_KEYS
from edge_worker.power import make_sampler
from edge_worker.profiling.tasks import run_profile
from inspection.actions.edge import register_edge_device
from inspection.actions.ingest import PayloadRefused
from profiling.actions import ProfilingReportError
from profiling.models import ProfilingRun, ProfilingSeries, ProfilingVariant
from tests.support import factories
from tests.support.profiling_reports import profiling_report, store_sent, variant_report
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db

CPU_VARIANTS = ("torch-fp32", "onnxruntime-fp32", "opencv-fp32")


@pytest.fixture
def device(db: Any) -> Any:
    device, _ = register_edge_device(factories.unique("edge"), cell=factories.make_cell(), actor=None)
    return device


def test_it_profiles_every_cpu_backend_and_stores_the_run(device: Any, model_dir: Path) -> None:
    out = io.StringIO()
    call_command(
        "profile_edge",
        "--device",
        device.device_id,
        "--inline",
        "--images",
        "14",
        "--warmup",
        "1",
        "--rounds",
        "1",
        "--threads",
        "1",
        "--model-dir",
        str(model_dir),
        stdout=out,
    )
    run = ProfilingRun.objects.get(device=device)
    assert run.status == "done" and run.error == ""
    variants = {v.key: v for v in run.variants.all()}
    assert list(variants) == list(VARIANT_KEYS)  # every variant listed, in the fixed order
    import importlib.util

    for key in CPU_VARIANTS:
        v = variants[key]
        if key == "torch-fp32" and importlib.util.find_spec("torch") is None:  # requirements-train.txt not installed
            assert not v.available and "torch" in v.reason, v.reason
            continue
        assert v.available, v.reason
        assert [p["name"] for p in v.phases] == list(PHASES)
        assert v.images == 14 and 0 <= v.accuracy <= 1 and v.correct == round(v.accuracy * 14)
        assert v.fps > 0 and 0 < v.latency_p50_ms <= v.latency_p99_ms
        assert v.mem_rss_bytes_peak > 0 and v.mem_system_percent_peak > 0
        assert {s.kind for s in v.series.all()} >= {"memory"}
    for key, v in variants.items():
        if not v.available:
            assert v.reason, key
    # Power: measured where a sampler can, otherwise "not measured" with this machine's real reason.
    sampler = make_sampler("auto")
    try:
        if sampler.available:
            assert run.power_measured and variants["onnxruntime-fp32"].avg_power_inference_mw > 0
        else:
            assert not run.power_measured
            assert variants["onnxruntime-fp32"].power_note == f"not measured: {sampler.reason}"
            assert variants["onnxruntime-fp32"].fps_per_w_inference is None
    finally:
        sampler.close()
    text = out.getvalue()
    assert "| Metric |" in text and "FPS/W, inference" in text
    actions = list(AuditRecord.objects.filter(subject_key=str(run.run_id)).values_list("action", flat=True))
    assert actions == ["profiling.requested", "profiling.stored"]


def test_a_redelivered_report_is_stored_once(device: Any, model_dir: Path) -> None:
    report = run_profile(
        "8c7a64a2-3f0b-4b2e-9a49-3d4b1f2f8e01",
        device.device_id,
        {
            "images": 7,
            "warmup": 0,
            "rounds": 1,
            "variants": ["opencv-fp32"],
            "model_dir": str(model_dir),
            "power_sampler": "none",
        },
    )
    payload = json.loads(json.dumps(report))  # as it travels
    run, created = store_sent(payload)
    again, created_again = store_sent(payload)
    assert created and not created_again and again.pk == run.pk
    assert ProfilingVariant.objects.filter(run=run).count() == 1
    assert ProfilingSeries.objects.filter(variant__run=run, kind="memory").count() == 1
    assert run.variants.get().power_note == "not measured: power sampler 'none' configured"


def test_a_device_without_a_model_reports_why(device: Any, tmp_path: Path) -> None:
    report = run_profile("2b0f5f1c-9a53-4d70-8f1e-6c1d3c7f9a10", device.device_id, {"model_dir": str(tmp_path)})
    run, _ = store_sent(report)
    assert run.status == "failed"
    assert "model card not found" in run.error


def test_it_refuses_malformed_reports_and_unknown_devices(device: Any) -> None:
    good = profiling_report(device.device_id, [], run_id="2b0f5f1c-9a53-4d70-8f1e-6c1d3c7f9a11")
    with pytest.raises(PayloadRefused, match="unknown device: no edge device 'nobody'"):
        store_sent({**good, "device_id": "nobody"})
    with pytest.raises(ProfilingReportError, match="run_id"):
        store_sent({**good, "run_id": "x"})
    measured = variant_report("onnxruntime-fp32", 10.0, None, None)
    bad_variant = {**measured, "phases": [{"name": "measure", "start_s": 0, "end_s": 1}]}
    with pytest.raises(ProfilingReportError, match="phases"):
        store_sent({**good, "variants": [bad_variant]})
    silent = {**measured, "metrics": {"fps": 10.0}}
    with pytest.raises(ProfilingReportError, match="no reason"):
        store_sent({**good, "variants": [silent]})
    assert not ProfilingRun.objects.exists()


def test_the_command_needs_a_known_device() -> None:
    with pytest.raises(CommandError, match="no edge device"):
        call_command("profile_edge", "--device", "ghost", "--inline")
