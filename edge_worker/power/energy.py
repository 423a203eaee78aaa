"""Power samples and the arithmetic over them: energy is the trapezoid integral of the samples over a window
(mW x s = mJ), with the power at the window's edges interpolated. Plain functions over samples, so every window
(one inference, a whole profiling run, only its real rounds) uses the same arithmetic."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

IDLE = "idle"
INFERENCE = "inference"


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


def window_power(
    samples: Sequence[PowerSample], start: float, end: float, *, min_duration_s: float = 0.0
) -> WindowPower:
    """Energy (trapezoid) and time-averaged power over [start, end].

    `min_duration_s` is the shortest window the source can resolve (see `PowerMonitor.min_window_s`): a sensor
    that refreshes its value every 0.5 s, read 10 times a second, gives repeated stale values, and a shorter
    window would report the power from before it began."""
    if end - start < min_duration_s:
        return WindowPower(
            start,
            end,
            None,
            None,
            0,
            f"not measured: the {end - start:.3f} s window is shorter than the {min_duration_s:.3f} s "
            "this power source can resolve (twice its update interval)",
        )
    clipped = clip_to_window(samples, start, end)
    if len(clipped) < 2 or clipped[0].t > start or clipped[-1].t < end:
        return WindowPower(
            start,
            end,
            None,
            None,
            len(clipped),
            f"not measured: {len(clipped)} sample(s) do not cover the {end - start:.3f} s window",
        )
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
