"""Fixtures for edge profiling: a real model directory and samplers whose power is known."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_worker.power import PowerMonitor, PowerSampler
from edge_worker.vision.backends import DEFAULT_MODEL_DIR, MODEL_JSON

SHIPPED_MODEL = DEFAULT_MODEL_DIR / MODEL_JSON


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model when it is there; otherwise a tiny one trained here (one epoch, 14 images, ~8 s)."""
    if SHIPPED_MODEL.is_file():
        return DEFAULT_MODEL_DIR
    pytest.importorskip("torch", reason="no shipped model and torch (needed to train a tiny one) is not installed")
    from edge_worker.vision import train

    out = tmp_path_factory.mktemp("tiny-model")
    train.main(["--out", str(out), "--train-per-class", "1", "--test-per-class", "1", "--epochs", "1", "--batch", "7"])
    return out


class ConstantSampler(PowerSampler):
    """Always reads `mw`."""

    name = "constant"

    def __init__(self, mw: float) -> None:
        super().__init__()
        self.mw = mw
        self.available = True
        self.reason = f"test sampler: constant {mw} mW"

    def read_mw(self) -> float | None:
        return self.mw


class PhaseSampler(PowerSampler):
    """Reads a known power for each phase of the monitor it is attached to (the board drawing more while it
    infers than while it loads)."""

    name = "phase"

    def __init__(self, by_phase: dict[str, float]) -> None:
        super().__init__()
        self.by_phase = by_phase
        self.monitor: PowerMonitor | None = None
        self.available = True
        self.reason = f"test sampler: {by_phase}"

    def read_mw(self) -> float | None:
        assert self.monitor is not None
        return self.by_phase.get(self.monitor.phase, 500.0)


@pytest.fixture
def phase_monitor() -> Any:
    def make(by_phase: dict[str, float], rate_hz: float = 50.0) -> PowerMonitor:
        sampler = PhaseSampler(by_phase)
        monitor = PowerMonitor(sampler, rate_hz=rate_hz)
        sampler.monitor = monitor
        return monitor

    return make
