"""The protocol on the device: phases in order, each timed, power samples tagged with their phase, and with a
sampler of known power the averages, FPS per watt and energy come out exactly."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge_worker.contracts.profiling import (
    PHASES,
    VARIANT_KEYS,
    ProfileConfig,
    ProfilingReport,
)
from edge_worker.power import NoneSampler, PowerMonitor
from edge_worker.profiling.protocol import Profiler, failure_report, profile_device
from tests.support.power import ConstantSampler

# One fast CPU variant is enough to check the arithmetic; the real run of every CPU backend is in test_real_run.
FAST = ("onnxruntime-fp32",)


def _config(model_dir: Path, **kw: Any) -> ProfileConfig:
    return ProfileConfig(**{"images": 7, "warmup": 1, "rounds": 2, "variants": FAST, "model_dir": str(model_dir), **kw})


def test_it_runs_load_build_warmup_measure_in_that_order(model_dir: Path, phase_monitor: Any) -> None:
    seen: list[tuple[str, str]] = []
    monitor = phase_monitor({"load": 1000.0, "build": 2000.0, "warmup": 3000.0, "measure": 6000.0})
    profiler = Profiler(
        _config(model_dir, variants=("onnxruntime-fp32", "opencv-fp32")),
        device_id="t",
        monitor=monitor,
        on_phase=lambda key, phase: seen.append((key, phase)),
    )
    report = profiler.run()
    assert seen == [(k, p) for k in ("onnxruntime-fp32", "opencv-fp32") for p in PHASES]
    for variant in report.variants:
        names = [p.name for p in variant.phases]
        assert names == list(PHASES)
        for before, after in zip(variant.phases, variant.phases[1:]):
            assert before.start_s <= before.end_s <= after.start_s
    # Every power sample carries its phase, and each phase's samples read that phase's power.
    for variant in report.variants:
        tagged = {phase for _t, _mw, phase in variant.power_series}
        assert set(PHASES) <= tagged
        for _t, mw, phase in variant.power_series:
            if phase in PHASES:
                assert mw == {"load": 1000.0, "build": 2000.0, "warmup": 3000.0, "measure": 6000.0}[phase]
        assert {m[-1] for m in variant.memory_series} >= set(PHASES)


def test_it_averages_a_known_constant_power_exactly(model_dir: Path) -> None:
    monitor = PowerMonitor(ConstantSampler(5000.0), rate_hz=50.0)
    report = profile_device(_config(model_dir), device_id="t", monitor=monitor)
    [variant] = report.variants
    m = variant.metrics
    assert report.power_measured and m["power_note"] == ""
    assert m["avg_power_total_mw"] == pytest.approx(5000.0, rel=1e-9)
    assert m["avg_power_inference_mw"] == pytest.approx(5000.0, rel=1e-9)
    assert m["fps"] == pytest.approx(m["images"] / m["measure_s"], rel=1e-12)
    assert m["fps_per_w_total"] == pytest.approx(m["fps"] / 5.0, rel=1e-9)
    assert m["fps_per_w_inference"] == pytest.approx(m["fps"] / 5.0, rel=1e-9)
    # Energy over the real rounds = 5 W x their duration; per image = mW / FPS.
    assert m["energy_inference_mj"] == pytest.approx(5000.0 * m["measure_s"], rel=1e-9)
    assert m["energy_per_image_mj"] == pytest.approx(5000.0 / m["fps"], rel=1e-9)


def test_it_keeps_warmup_power_out_of_the_inference_window(model_dir: Path, phase_monitor: Any) -> None:
    monitor = phase_monitor({"load": 1000.0, "build": 2000.0, "warmup": 9000.0, "measure": 6000.0})
    report = profile_device(_config(model_dir), device_id="t", monitor=monitor)
    m = report.variants[0].metrics
    assert m["avg_power_inference_mw"] == pytest.approx(6000.0, rel=1e-9)
    assert m["energy_per_image_mj"] == pytest.approx(6000.0 / m["fps"], rel=1e-9)
    assert m["fps_per_w_inference"] == pytest.approx(m["fps"] / 6.0, rel=1e-9)
    # The whole-run window mixes every phase: strictly between the lowest and the highest phase power.
    assert 500.0 < m["avg_power_total_mw"] < 9000.0
    assert m["avg_power_total_mw"] != pytest.approx(6000.0, rel=1e-3)


def test_it_says_why_power_was_not_measured(model_dir: Path) -> None:
    monitor = PowerMonitor(NoneSampler("no rails here: test"))
    report = profile_device(_config(model_dir), device_id="t", monitor=monitor)
    m = report.variants[0].metrics
    assert not report.power_measured
    assert m["power_note"] == "not measured: no rails here: test"
    for key in (
        "avg_power_total_mw",
        "avg_power_inference_mw",
        "fps_per_w_total",
        "fps_per_w_inference",
        "energy_per_image_mj",
    ):
        assert m[key] is None, key
    assert m["fps"] > 0 and 0.0 <= m["accuracy"] <= 1.0
    assert m["latency_p50_ms"] <= m["latency_p99_ms"]
    assert m["mem_rss_bytes_peak"] > 0 and 0 < m["mem_process_percent_peak"] < 100


def test_it_lists_variants_it_cannot_run_with_the_reason(model_dir: Path) -> None:
    monitor = PowerMonitor(NoneSampler())
    report = profile_device(
        _config(model_dir, variants=("tensorrt-fp16", "torch-cuda-fp16", "onnxruntime-fp16")),
        device_id="t",
        monitor=monitor,
    )
    by_key = {v.key: v for v in report.variants}
    assert set(by_key) == {"tensorrt-fp16", "torch-cuda-fp16", "onnxruntime-fp16"}
    for v in by_key.values():
        if not v.available:
            # It may have got as far as loading the model; it never measured anything.
            assert v.reason and not v.metrics and "measure" not in [p.name for p in v.phases]


def test_it_refuses_unknown_variants_and_silly_configs() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        profile_device(ProfileConfig(variants=("tensorrt-fp64",)), device_id="t", monitor=PowerMonitor(NoneSampler()))
    with pytest.raises(ValueError):
        ProfileConfig(rounds=0)
    assert "torch-fp32" in VARIANT_KEYS and "tensorrt-int8" in VARIANT_KEYS


def test_it_reports_within_the_bounds_the_server_reads_it_with(model_dir: Path) -> None:
    report = profile_device(
        _config(model_dir, variants=("onnxruntime-fp32", "tensorrt-int8")),
        device_id="t",
        monitor=PowerMonitor(ConstantSampler(5000.0), rate_hz=50.0),
    ).to_dict()
    assert ProfilingReport.from_dict(json.loads(json.dumps(report))).to_dict() == report
    failed = failure_report(str(uuid.uuid4()), "t", {"images": "many", "blob": [[[[["deep"]]]]]}, "MessageError: x")
    assert ProfilingReport.from_dict(json.loads(json.dumps(failed))).error == "MessageError: x"
