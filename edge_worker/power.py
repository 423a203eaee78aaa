"""Power sampling on the edge device, behind one small interface.

Samplers (each says honestly whether it can measure here, and why not):

    jtop   jetson-stats (`jtop.service` must run); total board power from `power['tot']['power']`
    nvml   NVIDIA GPUs through nvidia-ml-py; the POWER_INSTANT field where the driver has it (GetPowerUsage is
           a 1 s average on Ampere and newer)
    rapl   Linux powercap energy counters (`/sys/class/powercap/intel-rapl:N/energy_uj`, wraps at
           `max_energy_range_uj`; root-only since kernel 5.10)
    none   measures nothing, says so

`PowerMonitor` runs one sampler on a background thread at a configurable rate and tags each sample with the
current phase (idle, inference, ...). Samplers measure the whole board or GPU, so a window's energy is exact per
part only when one inference runs at a time (the device's solo pool); overlapping windows each carry the total. Energy over a window is the trapezoid integral of the samples (mW x s =
mJ), with the power at the window's edges interpolated; jetson-stats' own `avg` is `(power + old_avg) // 2`, not
a time average, so it is never used. The integration functions are plain functions over samples so other
windows (a whole profiling run, only its real rounds) use the same arithmetic.
"""
from __future__ import annotations

import bisect
import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SAMPLER_NAMES = ("jtop", "nvml", "rapl", "none")
AUTO_ORDER = ("jtop", "nvml", "rapl")
IDLE = "idle"
INFERENCE = "inference"
POWERCAP_ROOT = Path("/sys/class/powercap")


@dataclass(frozen=True)
class PowerSample:
    t: float  # seconds on the monitor's clock (time.monotonic by default)
    power_mw: float
    phase: str = IDLE


@dataclass(frozen=True)
class WindowPower:
    """Energy and average power over [start, end]; None with `note` when it could not be computed."""

    start: float
    end: float
    energy_mj: float | None
    avg_power_mw: float | None
    samples: int
    note: str = ""

    @property
    def duration_s(self) -> float:
        return self.end - self.start


# --- Integration (reusable: inference windows here, whole-run and real-rounds windows in profiling) -----


def trapezoid_mj(samples: Sequence[PowerSample]) -> float:
    """Trapezoid integral of power over time of samples sorted by time: mW x s = mJ."""
    total = 0.0
    for a, b in zip(samples, samples[1:]):
        total += (a.power_mw + b.power_mw) / 2.0 * (b.t - a.t)
    return total


def _interpolate(a: PowerSample, b: PowerSample, t: float) -> float:
    if b.t == a.t:
        return b.power_mw
    return a.power_mw + (b.power_mw - a.power_mw) * (t - a.t) / (b.t - a.t)


def clip_to_window(samples: Sequence[PowerSample], start: float, end: float) -> list[PowerSample]:
    """The samples inside [start, end], with samples at `start` and `end` linearly interpolated from the
    neighbours when the series brackets them. Input must be sorted by time."""
    if end < start:
        raise ValueError(f"window ends before it starts ({start} > {end})")
    times = [s.t for s in samples]
    lo = bisect.bisect_left(times, start)
    hi = bisect.bisect_right(times, end)
    inside = list(samples[lo:hi])
    if lo > 0 and lo < len(samples) and (not inside or inside[0].t > start):
        inside.insert(0, PowerSample(start, _interpolate(samples[lo - 1], samples[lo], start), samples[lo].phase))
    if 0 < hi < len(samples) and (not inside or inside[-1].t < end):
        inside.append(PowerSample(end, _interpolate(samples[hi - 1], samples[hi], end), samples[hi - 1].phase))
    return inside


def window_power(samples: Sequence[PowerSample], start: float, end: float, *,
                 min_duration_s: float = 0.0) -> WindowPower:
    """Energy (trapezoid) and time-averaged power over [start, end].

    `min_duration_s` is the shortest window the source can resolve (see `PowerMonitor.min_window_s`): a sensor
    that refreshes its value every 0.5 s, read 10 times a second, gives repeated stale values, and a shorter
    window would report the power from before it began."""
    if end - start < min_duration_s:
        return WindowPower(start, end, None, None, 0,
                           f"not measured: the {end - start:.3f} s window is shorter than the {min_duration_s:.3f} s "
                           "this power source can resolve (twice its update interval)")
    clipped = clip_to_window(samples, start, end)
    if len(clipped) < 2 or clipped[0].t > start or clipped[-1].t < end:
        return WindowPower(start, end, None, None, len(clipped),
                           f"not measured: {len(clipped)} sample(s) do not cover the {end - start:.3f} s window")
    energy = trapezoid_mj(clipped)
    duration = end - start
    avg = energy / duration if duration > 0 else clipped[0].power_mw
    return WindowPower(start, end, energy, avg, len(clipped))


def phase_windows(samples: Sequence[PowerSample], phase: str) -> list[tuple[float, float]]:
    """The [start, end] spans of consecutive samples tagged `phase` (e.g. every inference window)."""
    spans: list[tuple[float, float]] = []
    current: list[float] | None = None
    for s in samples:
        if s.phase == phase:
            if current is None:
                current = [s.t, s.t]
            current[1] = s.t
        elif current is not None:
            spans.append((current[0], current[1]))
            current = None
    if current is not None:
        spans.append((current[0], current[1]))
    return spans


def phase_energy(samples: Sequence[PowerSample], phase: str) -> tuple[float, float]:
    """(energy mJ, seconds) summed over every window of `phase`: e.g. the real rounds of a profiling run."""
    energy = 0.0
    seconds = 0.0
    for start, end in phase_windows(samples, phase):
        w = window_power(samples, start, end)
        if w.energy_mj is not None:
            energy += w.energy_mj
            seconds += w.duration_s
    return energy, seconds


# --- Samplers -------------------------------------------------------------------------------------------


class PowerSampler:
    """One power source. `read_mw()` returns the instantaneous power (or None if this read has no value).

    `update_interval_s` is how often the source itself refreshes the value it returns (0: every read is fresh);
    reading faster than that repeats the last value."""

    name = "base"

    def __init__(self) -> None:
        self.available = False
        self.reason = ""
        self.update_interval_s = 0.0

    def read_mw(self) -> float | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def extras(self) -> dict[str, Any]:
        """Memory, temperature and GPU load where this source knows them (telemetry)."""
        return {}

    def close(self) -> None:
        """Release the source. Safe to call twice."""

    def describe(self) -> str:
        return f"{self.name}: {self.reason}"


class NoneSampler(PowerSampler):
    name = "none"

    def __init__(self, reason: str = "power sampler 'none' configured") -> None:
        super().__init__()
        self.reason = reason

    def read_mw(self) -> float | None:
        return None


class JtopSampler(PowerSampler):
    """jetson-stats: needs the root-installed jtop.service (or /run/jtop.sock mounted into a container)."""

    name = "jtop"

    def __init__(self, interval_s: float = 0.5) -> None:
        super().__init__()
        self._jtop: Any = None
        try:
            from jtop import JtopException, jtop  # jetson-stats, only on a Jetson
        except ImportError as exc:
            self.reason = f"jetson-stats not installed ({exc})"
            return
        try:
            handle = jtop(interval=max(0.5, interval_s))  # the maintainer advises >= 500 ms
            handle.start()
        except JtopException as exc:
            self.reason = "jtop service unavailable: " + " ".join(str(exc).split())
            return
        except Exception as exc:  # socket errors and the like: not a Jetson, or the service is broken
            self.reason = f"jtop unavailable: {type(exc).__name__}: " + " ".join(str(exc).split())
            return
        self._jtop = handle
        self.available = True
        service_interval = float(getattr(handle, "interval", max(0.5, interval_s)))  # the service may keep its own
        self.update_interval_s = service_interval
        self.reason = f"jetson-stats {service_interval} s service interval, board total rail"

    def read_mw(self) -> float | None:
        if self._jtop is None:
            return None
        try:  # the latest sample the service pushed; ok() would block until the next one
            value = (self._jtop.power or {}).get("tot", {}).get("power")
        except Exception:
            return None
        return float(value) if value is not None else None

    def extras(self) -> dict[str, Any]:
        if self._jtop is None:
            return {}
        out: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            ram = self._jtop.memory["RAM"]
            out["memory"] = {"used_mb": round(ram["used"] / 1024, 1), "total_mb": round(ram["tot"] / 1024, 1)}
        with contextlib.suppress(Exception):
            out["temperature"] = {k: v.get("temp") for k, v in self._jtop.temperature.items() if v.get("online", True)}
        with contextlib.suppress(Exception):
            gpu = next(iter(self._jtop.gpu.values()))
            out["gpu_load"] = float(gpu["status"]["load"])
        with contextlib.suppress(Exception):
            out["hardware"] = str(self._jtop.board["hardware"]["Model"])
        return out

    def close(self) -> None:
        if self._jtop is not None:
            with contextlib.suppress(Exception):
                self._jtop.close()
            self._jtop = None


class NvmlSampler(PowerSampler):
    name = "nvml"

    def __init__(self, index: int = 0) -> None:
        super().__init__()
        self._nv: Any = None
        self._handle: Any = None
        self._instant_field: int | None = None
        try:
            import pynvml as nv  # nvidia-ml-py
        except ImportError as exc:
            self.reason = f"nvidia-ml-py not installed ({exc})"
            return
        try:
            nv.nvmlInit()
        except nv.NVMLError_LibraryNotFound:
            self.reason = "NVML library not found (no NVIDIA driver)"
            return
        except nv.NVMLError as exc:
            self.reason = f"NVML init failed: {exc}"
            return
        try:
            self._handle = nv.nvmlDeviceGetHandleByIndex(index)
            name = nv.nvmlDeviceGetName(self._handle)
        except nv.NVMLError as exc:
            self.reason = f"NVML has no GPU {index}: {exc}"
            with contextlib.suppress(Exception):
                nv.nvmlShutdown()
            return
        self._nv = nv
        field_id = getattr(nv, "NVML_FI_DEV_POWER_INSTANT", None)
        if field_id is not None and self._read_field(field_id) is not None:
            self._instant_field = field_id
            # NVIDIA does not document the refresh period; 20-100 ms is reported for the driver's power counters:
            # assume the slow end.
            self.update_interval_s = 0.1
            kind = "POWER_INSTANT field"
        else:
            self.update_interval_s = 1.0
            kind = "nvmlDeviceGetPowerUsage (a 1 s average on Ampere and newer)"
        self.available = True
        self.reason = f"NVML on {name if isinstance(name, str) else name.decode()}: {kind}"

    def _read_field(self, field_id: int) -> float | None:
        try:
            [value] = self._nv.nvmlDeviceGetFieldValues(self._handle, [field_id])
        except Exception:
            return None
        if getattr(value, "nvmlReturn", 1) != 0:
            return None
        raw = value.value
        # valueType 1 = unsigned int, 2 = unsigned long, 3 = unsigned long long, 0 = double (nvml.h)
        number = {0: getattr(raw, "dVal", None), 1: getattr(raw, "uiVal", None), 2: getattr(raw, "ulVal", None),
                  3: getattr(raw, "ullVal", None)}.get(getattr(value, "valueType", 1))
        return float(number) if number is not None else None

    def read_mw(self) -> float | None:
        if self._nv is None:
            return None
        if self._instant_field is not None:
            return self._read_field(self._instant_field)
        try:
            return float(self._nv.nvmlDeviceGetPowerUsage(self._handle))
        except self._nv.NVMLError:
            return None

    def extras(self) -> dict[str, Any]:
        if self._nv is None:
            return {}
        nv, h = self._nv, self._handle
        out: dict[str, Any] = {}
        with contextlib.suppress(Exception):
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            out["memory"] = {"gpu_used_mb": round(mem.used / 2**20, 1), "gpu_total_mb": round(mem.total / 2**20, 1)}
        with contextlib.suppress(Exception):
            out["temperature"] = {"gpu": float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))}
        with contextlib.suppress(Exception):
            out["gpu_load"] = float(nv.nvmlDeviceGetUtilizationRates(h).gpu)
        with contextlib.suppress(Exception):
            name = nv.nvmlDeviceGetName(h)
            out["hardware"] = name if isinstance(name, str) else name.decode()
        return out

    def close(self) -> None:
        if self._nv is not None:
            with contextlib.suppress(Exception):
                self._nv.nvmlShutdown()
            self._nv = None


class RaplSampler(PowerSampler):
    """Package energy counters; power is the counter's change over the time between two reads."""

    name = "rapl"

    def __init__(self, root: Path = POWERCAP_ROOT, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._zones: list[tuple[Path, int]] = []
        self._last: tuple[float, list[int]] | None = None
        if not root.is_dir():
            self.reason = f"{root} not present (no powercap driver)"
            return
        zones = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)
        if not zones:
            self.reason = f"no RAPL package zones under {root}"
            return
        try:
            for zone in zones:
                max_range = int((zone / "max_energy_range_uj").read_text())
                int((zone / "energy_uj").read_text())
                self._zones.append((zone / "energy_uj", max_range))
        except PermissionError as exc:
            self._zones = []
            self.reason = f"RAPL counters not readable ({exc.strerror}: {exc.filename}; root-only since Linux 5.10)"
            return
        except (OSError, ValueError) as exc:
            self._zones = []
            self.reason = f"RAPL counters unreadable: {exc}"
            return
        self.available = True
        self.reason = f"RAPL energy counters, {len(self._zones)} package zone(s), summed"

    @staticmethod
    def counter_delta(before: int, after: int, max_range: int) -> int:
        """µJ between two reads of a counter that wraps to 0 after `max_range`."""
        return after - before if after >= before else after + max_range - before

    def read_mw(self) -> float | None:
        if not self._zones:
            return None
        now = self._clock()
        try:
            values = [int(path.read_text()) for path, _ in self._zones]
        except (OSError, ValueError):
            return None
        last, self._last = self._last, (now, values)
        if last is None or now <= last[0]:
            return None
        micro_joules = sum(self.counter_delta(b, a, m) for b, a, (_, m) in zip(last[1], values, self._zones))
        return micro_joules / 1000.0 / (now - last[0])  # µJ -> mJ, / s -> mW


def make_sampler(name: str) -> PowerSampler:
    """One sampler by name, or `auto`: the first of jtop, nvml, rapl that can measure here, with the reasons
    for the ones skipped; `none` when none can."""
    name = (name or "auto").strip().lower()
    if name == "none":
        return NoneSampler()
    if name in AUTO_ORDER:
        sampler = _create(name)
        if not sampler.available:
            log.warning("power sampler %s unavailable: %s", name, sampler.reason)
        return sampler
    if name != "auto":
        raise ValueError(f"unknown power sampler {name!r}; choose one of {SAMPLER_NAMES} or 'auto'")
    skipped: list[str] = []
    for candidate in AUTO_ORDER:
        sampler = _create(candidate)
        if sampler.available:
            sampler.reason = "auto: " + "; ".join([*skipped, f"chose {candidate} ({sampler.reason})"])
            log.info("power sampler %s", sampler.reason)
            return sampler
        skipped.append(f"{candidate} unavailable ({sampler.reason})")
    none = NoneSampler("auto: " + "; ".join(skipped))
    log.info("power sampler none: %s", none.reason)
    return none


def _create(name: str) -> PowerSampler:
    if name == "jtop":
        return JtopSampler()
    if name == "nvml":
        return NvmlSampler()
    return RaplSampler()


# --- Background monitor ---------------------------------------------------------------------------------


class PowerMonitor:
    """Samples one sampler at `rate_hz` on a daemon thread and keeps a bounded, time-ordered history.

    `window(phase)` marks a phase: samples taken while it is open carry its tag, and one sample is taken on
    entry and on exit so even a window shorter than the sampling period is bracketed.
    """

    def __init__(self, sampler: PowerSampler, *, rate_hz: float = 10.0, history_s: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
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
