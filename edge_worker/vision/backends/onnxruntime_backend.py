"""ONNX Runtime: CPUExecutionProvider with full graph optimisation; the CUDA or TensorRT execution
providers when the installed build has them."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import BackendUnavailable, Classifier, ModelInfo


def availability() -> tuple[bool, str]:
    try:
        import onnxruntime as ort
    except Exception as exc:
        return False, f"onnxruntime not importable: {exc}"
    return True, f"onnxruntime {ort.__version__} ({', '.join(ort.get_available_providers())})"


class OnnxRuntimeClassifier(Classifier):
    name = "onnxruntime"

    def __init__(self, model: ModelInfo, *, precision: str, threads: int) -> None:
        super().__init__(model)
        import onnxruntime as ort

        have = ort.get_available_providers()
        providers: list[Any] = []
        if "TensorrtExecutionProvider" in have:
            providers.append(("TensorrtExecutionProvider", {"trt_fp16_enable": precision == "fp16"}))
        elif precision != "fp32":
            raise BackendUnavailable(
                f"onnxruntime: {precision} needs the TensorRT execution provider; this build has {have}"
            )
        if "CUDAExecutionProvider" in have:
            providers.append("CUDAExecutionProvider")
        providers.append("CPUExecutionProvider")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(model.verified_path("onnx")), sess_options=opts, providers=providers)
        self._input = self._session.get_inputs()[0].name
        used = self._session.get_providers()
        self.version = ort.__version__
        self.precision = precision
        self.device = ("gpu" if used[0] != "CPUExecutionProvider" else f"cpu ({threads} threads)") + f" [{used[0]}]"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = self.check_batch(batch)
        return np.asarray(self._session.run(None, {self._input: batch})[0])


def create(model: ModelInfo, *, precision: str, threads: int) -> Any:
    return OnnxRuntimeClassifier(model, precision=precision, threads=threads)
