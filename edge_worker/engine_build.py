"""Building a delivered model's inference engines on the device, before the model may decide anything.

Each backend the device knows (edge_worker.vision.backends) gets one try, timed: a TensorRT plan where TensorRT
is installed (cached by the backend, so the runtime and the profiling protocol load it instead of building it
again), an ONNX Runtime session, an OpenCV DNN net. Every engine is run once on a blank input: one that loads but
cannot infer is not built. A backend the device lacks is listed with the reason ("not built: TensorRT not
installed"), never faked. Pure Python and numpy; no Django (this runs on the Jetson).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# TensorRT first: its plan is the slow build (minutes on a Jetson) and the engine the runtime prefers.
BUILD_ORDER = ("tensorrt", "onnxruntime", "opencv", "torch")


@dataclass(frozen=True)
class EngineBuild:
    """One engine: built (with the seconds it took and what it is) or not (with the reason)."""

    backend: str
    precision: str
    built: bool
    seconds: float | None
    detail: str
    failed: bool = False  # the runtime is there but could not build or run this model (a broken model, not a gap)

    @property
    def label(self) -> str:
        return f"{self.backend} {self.precision}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": None if self.seconds is None else round(self.seconds, 3)}


def engines_to_build(precision: str = "fp32") -> list[tuple[str, str]]:
    """(backend, precision) for every engine to try: each backend at fp32, and TensorRT also at the precision the
    device is configured to run (its fp16 or int8 plan is a separate build)."""
    out = []
    for backend in BUILD_ORDER:
        out.append((backend, "fp32"))
        if backend == "tensorrt" and precision != "fp32":
            out.append((backend, precision))
    return out


def _why_not(backend: str, precision: str, model_dir: Path) -> str:
    """Why this device cannot build this engine at all ("" when it can try)."""
    from edge_worker.vision.backends import ModelInfo, available_backends

    ok, why = available_backends()[backend]
    if not ok:
        if backend == "tensorrt" and why.startswith("tensorrt not importable"):
            return f"TensorRT not installed ({why})"
        return why
    if backend == "torch" and not ModelInfo(model_dir).pt_path.is_file():
        return "no PyTorch weights delivered (the registry sends the ONNX only)"
    if backend == "tensorrt" and precision != "fp32":
        import tensorrt as trt  # available: checked above

        from edge_worker.vision.backends.tensorrt_backend import precision_refusal

        return precision_refusal(trt.__version__, precision) or ""
    return ""


def build_engine(backend: str, precision: str, model_dir: Path, *, threads: int | None = None) -> EngineBuild:
    """Build one engine from the model in `model_dir` and run it once; never raises."""
    import numpy as np

    from edge_worker.vision.backends import BackendUnavailable, create_backend

    try:
        why = _why_not(backend, precision, model_dir)
    except Exception as exc:  # a broken runtime install is a reason too
        why = f"{backend} availability check failed: {type(exc).__name__}: {exc}"
    if why:
        return EngineBuild(backend, precision, False, None, f"not built: {why}"[:500])
    started = time.perf_counter()
    classifier = None
    try:
        classifier = create_backend(backend, precision=precision, model_dir=model_dir, threads=threads)
        size, channels = classifier.model.input_size, classifier.model.channels
        classifier.predict(np.zeros((1, channels, size, size), np.float32))
        seconds = time.perf_counter() - started
    except BackendUnavailable as exc:
        return EngineBuild(backend, precision, False, None, f"not built: {exc}"[:500])
    except Exception as exc:
        return EngineBuild(
            backend, precision, False, time.perf_counter() - started, f"failed: {type(exc).__name__}: {exc}"[:500], True
        )
    finally:
        if classifier is not None:
            classifier.close()
    detail = f"{classifier.name} {classifier.version} {classifier.precision} on {classifier.device}"
    cache = getattr(classifier, "cache_reason", "")
    return EngineBuild(backend, precision, True, seconds, (f"{detail}; {cache}" if cache else detail)[:500])


def build_engines(
    model_dir: Path,
    *,
    precision: str = "fp32",
    threads: int | None = None,
    on_progress: Callable[[int, int, str, list[EngineBuild]], None] | None = None,
) -> list[EngineBuild]:
    """Every engine of `engines_to_build`, in order. `on_progress(k, n, label, done)` is called before the k-th
    build starts (1-based) with the builds done so far, so the server shows "building 2 of 4: onnxruntime fp32"."""
    plan = engines_to_build(precision)
    done: list[EngineBuild] = []
    for k, (backend, engine_precision) in enumerate(plan, start=1):
        if on_progress is not None:
            on_progress(k, len(plan), f"{backend} {engine_precision}", list(done))
        done.append(build_engine(backend, engine_precision, model_dir, threads=threads))
    return done


def engine_refusal(engines: list[EngineBuild], backend_choice: str) -> str:
    """Why the device cannot run this model with the backend it is configured for ("" when it can)."""
    choice = (backend_choice or "auto").strip().lower()
    if choice == "none":
        return ""
    if choice == "auto":
        if any(e.built for e in engines):
            return ""
        return "no engine could be built: " + "; ".join(f"{e.label}: {e.detail}" for e in engines)
    mine = [e for e in engines if e.backend == choice]
    if any(e.built for e in mine):
        return ""
    detail = "; ".join(e.detail for e in mine) or "not tried"
    return f"the configured backend {choice} could not build this model: {detail}"
