"""The background power monitor: one sampler read at a steady rate on a daemon thread, each sample tagged with the
phase open at the time, and the power of each window computed from them."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from edge_worker.power.energy import IDLE, INFERENCE, PowerSample, WindowPower, window_power
from edge_worker.power.samplers import PowerSampler, make_sampler

log = logging.getLogger(__name__)


class PowerMonitor:
    """Samples one sampler at `rate_hz` on a daemon thread and keeps a bounded, time-ordered history.

    `window(phase)` marks a phase: samples taken while it is open carry its tag, and one sample is taken on
    entry and on exit so even a window shorter than the sampling period is bracketed.
    """

    def __init__(
        self,
        sampler: PowerSampler,
        *,
        rate_hz: float = 10.0,
        history_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        self.sampler = sampler
        self.rate_hz = rate_hz
        self.clock = clock
        self._samples: deque[PowerSample] = deque(maxlen=max(16, int(history_s * rate_hz) + 1024))
        self._lock = threading.Lock()
        self._phase = IDLE
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def measuring(self) -> bool:
        return self.sampler.available

    @property
    def min_window_s(self) -> float:
        """The shortest window whose power this monitor can tell apart from its surroundings."""
        return 2.0 * self.sampler.update_interval_s

    @property
    def phase(self) -> str:
        return self._phase

    def sample_once(self) -> PowerSample | None:
        with self._lock:
            value = self.sampler.read_mw()
            if value is None:
                return None
            sample = PowerSample(self.clock(), float(value), self._phase)
            if self._samples and sample.t < self._samples[-1].t:
                return None  # a clock that went backwards would break the ordering the integration relies on
            self._samples.append(sample)
            return sample

    def samples(self, start: float | None = None, end: float | None = None) -> list[PowerSample]:
        with self._lock:
            items = list(self._samples)
        if start is None and end is None:
            return items
        lo = -float("inf") if start is None else start
        hi = float("inf") if end is None else end
        return [s for s in items if lo <= s.t <= hi]

    def latest_mw(self) -> float | None:
        with self._lock:
            return self._samples[-1].power_mw if self._samples else None

    def start(self) -> "PowerMonitor":
        if not self.measuring or (self._thread and self._thread.is_alive()):
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"power-{self.sampler.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:  # a flaky read must not kill sampling for the worker's lifetime
                log.exception("power sample failed")
            next_at += period
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at = time.monotonic()
                delay = 0
            self._stop.wait(delay)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.sampler.close()

    @contextlib.contextmanager
    def window(self, phase: str = INFERENCE) -> Iterator["_Window"]:
        """Tag samples with `phase` while the block runs; afterwards `.power` holds the window's figures."""
        win = _Window(self)
        previous = self._phase
        self._phase = phase
        first = self.sample_once() if self.measuring else None
        win.start = first.t if first is not None else self.clock()
        try:
            yield win
        finally:
            last = self.sample_once() if self.measuring else None
            win.end = last.t if last is not None else self.clock()
            self._phase = previous
            win.close()


class _Window:
    def __init__(self, monitor: PowerMonitor) -> None:
        self._monitor = monitor
        self.start = 0.0
        self.end = 0.0
        self.power: WindowPower | None = None

    def close(self) -> None:
        m = self._monitor
        if not m.measuring:
            self.power = WindowPower(self.start, self.end, None, None, 0, f"not measured: {m.sampler.reason}")
            return
        self.power = window_power(m.samples(), self.start, self.end, min_duration_s=m.min_window_s)


def monitor_from_env() -> PowerMonitor:
    """The monitor configured by TWINWEB_POWER_SAMPLER (auto) and TWINWEB_POWER_RATE_HZ (10)."""
    sampler = make_sampler(os.environ.get("TWINWEB_POWER_SAMPLER", "auto"))
    return PowerMonitor(sampler, rate_hz=float(os.environ.get("TWINWEB_POWER_RATE_HZ", "10")))
