"""OpenCV DNN (cv2.dnn.readNetFromONNX) on its own CPU backend: the fallback that needs nothing
beyond opencv-python-headless."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import BackendUnavailable, Classifier, ModelInfo


def availability() -> tuple[bool, str]:
    try:
        import cv2

        cv2.dnn.readNetFromONNX  # noqa: B018 - the headless build could lack the dnn module
    except Exception as exc:
        return False, f"cv2.dnn not importable: {exc}"
    return True, f"opencv {cv2.__version__} dnn"


class OpenCVClassifier(Classifier):
    name = "opencv"

    def __init__(self, model: ModelInfo, *, precision: str, threads: int) -> None:
        super().__init__(model)
        if precision != "fp32":
            raise BackendUnavailable(f"opencv DNN_BACKEND_OPENCV on CPU runs fp32 only (asked for {precision})")
        import cv2

        cv2.setNumThreads(threads)
        self._net = cv2.dnn.readNetFromONNX(str(model.verified_path("onnx")))
        self._net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.version = cv2.__version__
        self.precision = "fp32"
        self.device = f"cpu ({threads} threads)"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = self.check_batch(batch)
        self._net.setInput(batch)
        return np.asarray(self._net.forward()).reshape(len(batch), -1).astype(np.float32)


def create(model: ModelInfo, *, precision: str, threads: int) -> Any:
    return OpenCVClassifier(model, precision=precision, threads=threads)
