"""The baseline: the original PyTorch model (eager, CPU). torch is imported only when used."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import BackendUnavailable, Classifier, ModelInfo


def availability() -> tuple[bool, str]:
    try:
        import torch
    except Exception as exc:
        return False, f"torch not importable: {exc}"
    return True, f"torch {torch.__version__}"


class TorchClassifier(Classifier):
    name = "torch"

    def __init__(self, model: ModelInfo, *, precision: str, threads: int) -> None:
        super().__init__(model)
        if precision != "fp32":
            raise BackendUnavailable(f"torch backend runs fp32 only on CPU (asked for {precision})")
        import torch

        from ..model import DefectNet

        torch.set_num_threads(threads)
        arch = model.card["architecture"]
        net = DefectNet(
            len(model.classes),
            in_channels=model.channels,
            config=tuple(tuple(c) for c in arch["config_t_c_n_s"]),
            stem=arch["stem"],
            last=arch["last"],
        )
        state = torch.load(model.verified_path("pt"), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
        self._net = net.eval()
        self._torch = torch
        self.version = torch.__version__
        self.precision = "fp32"
        self.device = f"cpu ({threads} threads)"

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = self.check_batch(batch)
        torch = self._torch
        with torch.inference_mode():
            return torch.softmax(self._net(torch.from_numpy(batch)), 1).numpy()


def create(model: ModelInfo, *, precision: str, threads: int) -> Any:
    return TorchClassifier(model, precision=precision, threads=threads)
