"""psutil memory of the profiling process and of the whole device, sampled in the background and tagged with
the protocol's phase."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemorySample:
    t: float
    rss_bytes: int
    process_percent: float  # this process's RSS as % of physical memory
    system_percent: float  # the whole device's used memory %, as jtop/the deck show it
    phase: str


class MemoryMonitor:
    """psutil memory of this process and of the system at `rate_hz` on a daemon thread, tagged with the phase
    the profiler sets. Uses the same clock as the power monitor so both series share a time axis."""

    def __init__(self, *, rate_hz: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        import psutil

        self._psutil = psutil
        self._process = psutil.Process()
        self.total_bytes = int(psutil.virtual_memory().total)
        self.rate_hz = rate_hz
        self.clock = clock
        self.phase = "idle"
        self._samples: list[MemorySample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample_once(self) -> MemorySample:
        rss = int(self._process.memory_info().rss)
        sample = MemorySample(
            self.clock(), rss, 100.0 * rss / self.total_bytes, float(self._psutil.virtual_memory().percent), self.phase
        )
        with self._lock:
            self._samples.append(sample)
        return sample

    def samples(self, start: float | None = None, end: float | None = None) -> list[MemorySample]:
        with self._lock:
            items = list(self._samples)
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        return [s for s in items if lo <= s.t <= hi]

    def start(self) -> "MemoryMonitor":
        self._thread = threading.Thread(target=self._run, name="profiling-memory", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:  # pragma: no cover - a failed read must not stop the run
                log.exception("memory sample failed")
            self._stop.wait(period)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
