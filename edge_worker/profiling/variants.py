"""What a device can run: each profiling variant's availability (with the reason when it cannot) and its engine.

PyTorch on CUDA is built here: the torch backend of edge_worker.vision runs on CPU only."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from edge_worker.contracts.profiling import VariantSpec


def torch_cuda_availability(precision: str) -> tuple[bool, str]:
    """Whether PyTorch can run the model on a CUDA GPU at `precision`, with the reason. Version-aware:
    a CPU build of torch has `torch.version.cuda is None`; FP16 needs compute capability >= 5.3."""
    try:
        import torch
    except Exception as exc:
        return False, f"torch not importable: {exc}"
    if getattr(torch.version, "cuda", None) is None:
        return False, f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None)"
    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} (CUDA {torch.version.cuda}): no CUDA device visible"
    major, minor = torch.cuda.get_device_capability(0)
    name = torch.cuda.get_device_name(0)
    if precision == "fp16" and (major, minor) < (5, 3):
        return False, f"{name} (sm {major}.{minor}) has no native FP16 arithmetic"
    if precision == "int8":
        return False, "PyTorch eager INT8 runs on CPU only (use TensorRT INT8 on the GPU)"
    return True, f"torch {torch.__version__} CUDA {torch.version.cuda} on {name} (sm {major}.{minor})"


def _load_torch_cuda(model_dir: Path | None, precision: str, threads: int) -> Any:
    from edge_worker.vision.backends import BackendUnavailable, Classifier, ModelInfo

    ok, why = torch_cuda_availability(precision)
    if not ok:
        raise BackendUnavailable(why)
    import torch

    from edge_worker.vision.model import DefectNet

    class TorchCudaClassifier(Classifier):
        name = "torch-cuda"

        def __init__(self, model: ModelInfo) -> None:
            super().__init__(model)
            arch = model.card["architecture"]
            net = DefectNet(
                len(model.classes),
                in_channels=model.channels,
                config=tuple(tuple(c) for c in arch["config_t_c_n_s"]),
                stem=arch["stem"],
                last=arch["last"],
            )
            net.load_state_dict(torch.load(model.verified_path("pt"), map_location="cpu", weights_only=True))
            self._dtype = torch.float16 if precision == "fp16" else torch.float32
            self._net: Any = net.eval().to("cuda", dtype=self._dtype)
            self.version = torch.__version__
            self.precision = precision
            self.device = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"

        def predict(self, batch: np.ndarray) -> np.ndarray:
            batch = self.check_batch(batch)
            with torch.inference_mode():
                x = torch.from_numpy(batch).to("cuda", dtype=self._dtype, non_blocking=False)
                out = torch.softmax(self._net(x).float(), 1).cpu().numpy()  # .cpu() synchronises
            return out

        def close(self) -> None:
            self._net = None
            torch.cuda.empty_cache()

    torch.cuda.reset_peak_memory_stats()
    return TorchCudaClassifier(ModelInfo(model_dir))


def variant_availability(spec: VariantSpec) -> tuple[bool, str]:
    """Cheap check before loading anything: the runtime is importable and the precision is possible."""
    if spec.backend == "torch-cuda":
        return torch_cuda_availability(spec.precision)
    try:  # only this backend's runtime: importing every runtime would bill them all to the first variant
        ok, why = importlib.import_module(f"edge_worker.vision.backends.{spec.backend}_backend").availability()
    except Exception as exc:
        ok, why = False, f"{spec.backend} availability check failed: {exc}"
    if not ok:
        return False, why
    if spec.backend in ("torch", "opencv") and spec.precision != "fp32":
        return False, f"{spec.backend} runs fp32 only on CPU"
    if spec.backend == "tensorrt" and spec.precision != "fp32":
        import tensorrt as trt  # available: the check above imported it

        from edge_worker.vision.backends.tensorrt_backend import precision_refusal

        refusal = precision_refusal(trt.__version__, spec.precision)
        if refusal:
            return False, refusal
    return True, why


def load_variant(spec: VariantSpec, model_dir: Path | None, threads: int) -> Any:
    """Build the variant's engine (raises BackendUnavailable with the reason when it cannot)."""
    if spec.backend == "torch-cuda":
        return _load_torch_cuda(model_dir, spec.precision, threads)
    from edge_worker.vision.backends import load_classifier

    classifier, _reason = load_classifier(spec.backend, precision=spec.precision, model_dir=model_dir, threads=threads)
    return classifier
