"""The device builds every engine it can for a model, each timed, and says why it did not build the others:
nothing is faked for a runtime the device lacks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from edge_worker.engine_build import EngineBuild, build_engines, engine_refusal, engines_to_build


def test_it_tries_tensorrt_first_and_also_at_the_configured_precision() -> None:
    assert engines_to_build("fp32") == [
        ("tensorrt", "fp32"),
        ("onnxruntime", "fp32"),
        ("opencv", "fp32"),
        ("torch", "fp32"),
    ]
    assert engines_to_build("fp16")[:2] == [("tensorrt", "fp32"), ("tensorrt", "fp16")]


def test_it_times_what_it_builds_and_gives_the_reason_for_what_it_cannot(model_dir: Path) -> None:
    pytest.importorskip("onnxruntime")
    seen: list[tuple[int, int, str, int]] = []

    engines = build_engines(model_dir, on_progress=lambda k, n, label, done: seen.append((k, n, label, len(done))))

    assert seen == [
        (1, 4, "tensorrt fp32", 0),
        (2, 4, "onnxruntime fp32", 1),
        (3, 4, "opencv fp32", 2),
        (4, 4, "torch fp32", 3),
    ]
    by_backend = {e.backend: e for e in engines}
    ort = by_backend["onnxruntime"]
    assert ort.built and ort.seconds is not None and ort.seconds > 0 and "CPUExecutionProvider" in ort.detail
    if importlib.util.find_spec("tensorrt") is None:
        trt = by_backend["tensorrt"]
        assert (trt.built, trt.seconds) == (False, None)
        assert trt.detail.startswith("not built: TensorRT not installed (tensorrt not importable")


def test_the_configured_backend_decides_whether_the_device_can_run_the_model() -> None:
    built = EngineBuild("onnxruntime", "fp32", True, 0.04, "onnxruntime 1.x")
    absent = EngineBuild("tensorrt", "fp32", False, None, "not built: TensorRT not installed")
    assert engine_refusal([absent, built], "auto") == ""
    assert engine_refusal([absent, built], "onnxruntime") == ""
    assert engine_refusal([absent, built], "none") == ""
    assert engine_refusal([absent, built], "tensorrt") == (
        "the configured backend tensorrt could not build this model: not built: TensorRT not installed"
    )
    assert engine_refusal([absent], "auto").startswith("no engine could be built: tensorrt fp32: not built")
