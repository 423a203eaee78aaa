"""Power samplers whose readings the tests know."""

from __future__ import annotations

from edge_worker.power import PowerMonitor, PowerSampler


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
