"""A device's profiling report, as the edge sends it, with figures the tests choose; `store_sent` stores one as
the device sends it (signed with its secret, which it is issued if it has none)."""

from __future__ import annotations

import uuid
from typing import Any

from edge_worker.contracts.profiling import PHASES
from edge_worker.contracts.queues import STORE_PROFILING_RUN_TASK
from edge_worker.contracts.signing import DeviceSecret, sign
from inspection.actions.edge_auth import ensure_edge_secret
from inspection.models import EdgeDevice
from profiling.actions import store_profiling_run
from profiling.models import ProfilingRun


def variant_report(key: str, fps: float, total_mw: float | None, inference_mw: float | None) -> dict[str, Any]:
    phases = [{"name": p, "start_s": i, "end_s": i + 1, "duration_s": 1.0} for i, p in enumerate(PHASES)]
    return {
        "key": key,
        "backend": key.split("-")[0],
        "precision": key.split("-")[-1],
        "label": key,
        "available": True,
        "reason": "test",
        "device": "gpu",
        "backend_version": "10.3",
        "phases": phases,
        "metrics": {
            "images": 100,
            "correct": 97,
            "accuracy": 0.97,
            "fps": fps,
            "latency_p50_ms": 12.0,
            "latency_p99_ms": 15.5,
            "mem_rss_bytes_peak": 300 * 2**20,
            "mem_process_percent_peak": 7.5,
            "mem_system_percent_peak": 61.0,
            "avg_power_total_mw": total_mw,
            "avg_power_inference_mw": inference_mw,
            "fps_per_w_total": fps / total_mw * 1000 if total_mw else None,
            "fps_per_w_inference": fps / inference_mw * 1000 if inference_mw else None,
            "energy_per_image_mj": inference_mw / fps if inference_mw else None,
            "power_note": "" if inference_mw else "not measured: no sampler (test)",
        },
        "power_series": [[0.1 * i, 5000.0 + i, PHASES[i % 4]] for i in range(8)] if inference_mw else [],
        "memory_series": [[0.1 * i, 300 * 2**20, 7.5, 61.0, PHASES[i % 4]] for i in range(8)],
    }


def profiling_report(device_id: str, variants: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A complete report of a run on `device_id`, as the device sends it (the contract requires every field)."""
    return {
        "schema": 1,
        "run_id": str(uuid.uuid4()),
        "device_id": device_id,
        "hardware": "Jetson Nano (test)",
        "started_at": "2026-11-25T03:00:00+00:00",
        "finished_at": "2026-11-25T03:05:00+00:00",
        "config": {"images": 100, "warmup": 1, "rounds": 1, "batch_size": 1, "seed": 808},
        "power_source": "jtop: test",
        "power_measured": True,
        "model": {"version": "m-1", "sha256": "ab" * 32},
        "environment": {},
        "error": "",
        "variants": variants,
        **fields,
    }


def sent(report: dict[str, Any]) -> dict[str, Any]:
    """The report as its device sends it: signed with its current secret (issued now if it has none; a device the
    server does not know signs with a secret of nobody's)."""
    device_id = str(report.get("device_id"))
    device = EdgeDevice.objects.filter(device_id=device_id).first()
    secret = ensure_edge_secret(device, actor=None) if device is not None else DeviceSecret.generate()
    return sign(report, task=STORE_PROFILING_RUN_TASK, device_id=device_id, secret=secret)


def store_sent(report: dict[str, Any]) -> tuple[ProfilingRun, bool]:
    """Store the report as the ingest worker does when its device sends it."""
    return store_profiling_run(sent(report))
