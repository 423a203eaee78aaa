"""Inference backends: one interface, honest availability, agreement on the same images."""

import subprocess
import sys

import numpy as np
import pytest

from edge_worker.vision.backends import (
    BACKEND_NAMES,
    BackendUnavailable,
    available_backends,
    create_backend,
    load_classifier,
)
from edge_worker.vision.backends.tensorrt_backend import (
    cache_decision,
    precision_refusal,
)
from edge_worker.vision.dataset import iter_dataset
from edge_worker.vision.preprocess import preprocess

# Stated tolerance for backend agreement: same argmax, max |p_a - p_b| below this (fp32 on CPU).
AGREEMENT_TOL = 1e-3
AVAILABLE = available_backends()
TRT_OK, TRT_WHY = AVAILABLE["tensorrt"]


@pytest.fixture(scope="module")
def batch():
    return np.stack([preprocess(p.image) for _i, p in iter_dataset(16, seed=77)])


def test_it_lists_every_backend_with_a_reason():
    assert set(AVAILABLE) == set(BACKEND_NAMES)
    for ok, why in AVAILABLE.values():
        assert isinstance(ok, bool) and why
    assert AVAILABLE["onnxruntime"][0] and AVAILABLE["opencv"][0]


def test_it_says_why_tensorrt_is_missing_when_it_is():
    if TRT_OK:
        pytest.skip(f"TensorRT is installed here: {TRT_WHY}")
    assert TRT_WHY.startswith(("tensorrt not importable", "pycuda not importable", "no CUDA", "CUDA not usable"))


def test_it_logs_the_reason_for_the_automatic_choice(caplog):
    caplog.set_level("INFO", logger="edge_worker.vision.backends")
    clf, reason = load_classifier("auto")
    assert reason.startswith("auto: ")
    assert f"chose {clf.name} {clf.version}" in reason
    if not TRT_OK:
        assert "tensorrt unavailable (" in reason and clf.name == "onnxruntime"
    assert reason in caplog.text


def test_it_refuses_an_unknown_backend_or_precision():
    with pytest.raises(ValueError):
        load_classifier("tflite")
    with pytest.raises(ValueError):
        load_classifier("onnxruntime", precision="fp8")
    with pytest.raises(BackendUnavailable, match="fp32 only"):
        load_classifier("opencv", precision="fp16")


@pytest.mark.parametrize("name", [n for n in BACKEND_NAMES if n != "tensorrt"])
def test_it_reports_name_version_precision_and_device(name):
    if not AVAILABLE[name][0]:
        pytest.skip(f"{name} not available: {AVAILABLE[name][1]}")
    clf = create_backend(name)
    info = clf.describe()
    assert info["backend"] == name and info["backend_version"] and info["precision"] == "fp32" and info["device"]


def test_all_available_backends_agree_on_the_same_images(batch):
    names = [n for n, (ok, _w) in AVAILABLE.items() if ok]
    assert len(names) >= 3
    probs = {n: create_backend(n).predict(batch) for n in names}
    ref = probs["onnxruntime"]
    for n, p in probs.items():
        assert p.shape == ref.shape
        assert np.allclose(p.sum(1), 1, atol=1e-4)
        assert np.array_equal(p.argmax(1), ref.argmax(1)), n
        assert np.abs(p - ref).max() < AGREEMENT_TOL, (n, float(np.abs(p - ref).max()))


@pytest.mark.skipif(not TRT_OK, reason=f"TensorRT not installed: {TRT_WHY}")
@pytest.mark.parametrize("precision,tol", [("fp32", 1e-3), ("fp16", 1e-2)])
def test_tensorrt_matches_onnxruntime_on_the_gpu(batch, precision, tol):
    ref = create_backend("onnxruntime").predict(batch)
    trt = create_backend("tensorrt", precision=precision)
    try:
        p = trt.predict(batch)
    finally:
        trt.close()
    assert np.abs(p - ref).max() < tol


def test_it_rebuilds_a_cached_engine_on_any_mismatch_and_never_loads_blind():
    expected = {
        "model_sha256": "a" * 64,
        "tensorrt_version": "10.3.0",
        "gpu_name": "Orin",
        "compute_capability": "8.7",
        "precision": "fp16",
        "max_batch": 32,
    }
    assert cache_decision(dict(expected), expected)[0]
    assert cache_decision(None, expected) == (False, "no cached engine")
    for key, other in [
        ("tensorrt_version", "10.16.0"),
        ("compute_capability", "7.2"),
        ("model_sha256", "b" * 64),
        ("gpu_name", "H100"),
        ("precision", "fp32"),
    ]:
        reuse, why = cache_decision({**expected, key: other}, expected)
        assert not reuse and key in why


def test_it_refuses_fp16_and_int8_on_tensorrt_11_with_a_reason():
    assert precision_refusal("10.3.0", "fp16") is None
    assert precision_refusal("8.2.1", "int8") is None
    assert precision_refusal("11.4.0", "fp32") is None
    for p in ("fp16", "int8"):
        assert "removed" in precision_refusal("11.4.0", p)
    assert "fast FP16" in precision_refusal("10.3.0", "fp16", fast_fp16=False)


def test_importing_the_library_and_running_onnxruntime_imports_neither_torch_nor_tensorrt():
    code = (
        "import sys\n"
        "from edge_worker.vision import inspect, backends, render, measure, cli\n"
        "from edge_worker.vision.backends import load_classifier\n"
        "clf, why = load_classifier('onnxruntime')\n"
        "bad = [m for m in ('torch', 'tensorrt', 'pycuda', 'pycuda.autoinit', 'django') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
