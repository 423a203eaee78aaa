"""Interchangeable inference backends for the defect classifier.

Every backend is one small class with one job: turn a preprocessed batch (N, C, S, S) float32 into class
probabilities (N, K). Each reports ``name``, ``version``, ``precision`` and ``device``, and each module
has ``availability() -> (bool, reason)`` that imports its runtime lazily, so importing this package
never imports torch, onnxruntime, cv2.dnn state, tensorrt or pycuda.

    classifier, reason = load_classifier("auto")
    # reason: "auto: tensorrt unavailable (tensorrt not importable: No module named 'tensorrt'); chose onnxruntime 1.32.0 ..."
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("edge_worker.vision.backends")

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models"
MODEL_JSON = "defect_classifier.json"
BACKEND_NAMES = ("torch", "onnxruntime", "opencv", "tensorrt")
AUTO_ORDER = ("tensorrt", "onnxruntime", "opencv", "torch")
PRECISIONS = ("fp32", "fp16", "int8")
_MODULES = {
    "torch": "torch_backend",
    "onnxruntime": "onnxruntime_backend",
    "opencv": "opencv_backend",
    "tensorrt": "tensorrt_backend",
}


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (runtime missing, no GPU, precision unsupported); the message says why."""


class ModelFileError(RuntimeError):
    """The model files are missing or do not match the sha256 in the model card."""


class Classifier:
    """Base class of every backend. ``predict`` returns probabilities that sum to 1 per row."""

    name: str = "base"
    version: str = ""
    precision: str = "fp32"
    device: str = "cpu"

    def __init__(self, model: "ModelInfo") -> None:
        self.model = model

    def predict(self, batch: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release runtime resources (GPU memory, contexts). Safe to call twice."""

    def check_batch(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        s, c = self.model.input_size, self.model.channels
        if batch.ndim != 4 or batch.shape[1:] != (c, s, s):
            raise ValueError(f"{self.name}: expected a batch of shape (N, {c}, {s}, {s}), got {batch.shape}")
        return batch

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.model.version,
            "sha256": self.model.onnx_sha256,
            "backend": self.name,
            "backend_version": self.version,
            "precision": self.precision,
            "device": self.device,
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.version} {self.precision} on {self.device}>"


class ModelInfo:
    """The shipped model: paths, card (defect_classifier.json) and checked hashes."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self.dir = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        card_path = self.dir / MODEL_JSON
        if not card_path.is_file():
            raise ModelFileError(f"model card not found: {card_path} (train with python -m edge_worker.vision.train)")
        self.card: dict[str, Any] = json.loads(card_path.read_text())
        self.version: str = self.card["model_version"]
        self.classes: tuple[str, ...] = tuple(self.card["classes"])
        self.input_size: int = int(self.card["input"]["shape"][-1])
        self.channels: int = int(self.card["input"]["shape"][1])
        files = self.card["files"]
        self.onnx_path = self.dir / files["onnx"]["name"]
        self.pt_path = self.dir / files["state_dict"]["name"]
        self.onnx_sha256: str = files["onnx"]["sha256"]
        self.pt_sha256: str = files["state_dict"]["sha256"]

    def verified_path(self, which: str) -> Path:
        path, expected = (self.onnx_path, self.onnx_sha256) if which == "onnx" else (self.pt_path, self.pt_sha256)
        if not path.is_file():
            raise ModelFileError(f"model file not found: {path}")
        actual = _sha256(str(path), path.stat().st_mtime_ns)
        if actual != expected:
            raise ModelFileError(f"{path.name}: sha256 {actual[:12]} does not match the model card ({expected[:12]})")
        return path


@lru_cache(maxsize=8)
def _sha256(path: str, _mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def default_threads() -> int:
    env = os.environ.get("EDGE_WORKER_INFER_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 4))


def _module(name: str) -> Any:
    if name not in _MODULES:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKEND_NAMES} or 'auto'")
    return importlib.import_module(f"{__name__}.{_MODULES[name]}")


def available_backends() -> dict[str, tuple[bool, str]]:
    """Each backend's (available, reason); the reason names the version or says what is missing."""
    out = {}
    for name in BACKEND_NAMES:
        try:
            out[name] = _module(name).availability()
        except Exception as exc:  # a broken install must not take the others down
            out[name] = (False, f"{name} availability check failed: {exc}")
    return out


def create_backend(
    name: str, *, precision: str = "fp32", model_dir: Path | None = None, threads: int | None = None
) -> Classifier:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    mod = _module(name)
    ok, why = mod.availability()
    if not ok:
        raise BackendUnavailable(why)
    return mod.create(ModelInfo(model_dir), precision=precision, threads=threads or default_threads())


def load_classifier(
    backend: str = "auto", *, precision: str = "fp32", model_dir: Path | None = None, threads: int | None = None
) -> tuple[Classifier, str]:
    """Return (classifier, reason). ``auto`` tries tensorrt > onnxruntime > opencv > torch and logs why."""
    backend = (backend or "auto").strip().lower()
    if backend != "auto":
        clf = create_backend(backend, precision=precision, model_dir=model_dir, threads=threads)
        reason = f"configured: {clf.name} {clf.version} {clf.precision} on {clf.device}"
        log.info(reason)
        return clf, reason
    skipped = []
    for name in AUTO_ORDER:
        try:
            ok, why = _module(name).availability()
        except Exception as exc:
            ok, why = False, str(exc)
        if not ok:
            skipped.append(f"{name} unavailable ({why})")
            continue
        try:
            clf = create_backend(name, precision=precision, model_dir=model_dir, threads=threads)
        except ModelFileError:
            raise
        except Exception as exc:
            skipped.append(f"{name} failed ({exc})")
            continue
        reason = "auto: " + "; ".join([*skipped, f"chose {clf.name} {clf.version} {clf.precision} on {clf.device}"])
        log.info(reason)
        return clf, reason
    raise BackendUnavailable("auto: no backend could run: " + "; ".join(skipped))


__all__ = [
    "AUTO_ORDER",
    "BACKEND_NAMES",
    "BackendUnavailable",
    "Classifier",
    "ModelFileError",
    "ModelInfo",
    "available_backends",
    "create_backend",
    "load_classifier",
]
