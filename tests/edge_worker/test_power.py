"""Power sampling: energy is the time integral of the samples over the inference window, each sampler says
why it cannot measure here, and RAPL's counter wraps are handled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_worker.power import (
    IDLE,
    INFERENCE,
    JtopSampler,
    NoneSampler,
    NvmlSampler,
    PowerMonitor,
    PowerSample,
    PowerSampler,
    RaplSampler,
    clip_to_window,
    make_sampler,
    phase_energy,
    phase_windows,
    trapezoid_mj,
    window_power,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CurveSampler(PowerSampler):
    """A sampler whose power follows a known curve of the (fake) clock: P(t) = 1000 + 500 t mW."""

    name = "curve"

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.available = True
        self.reason = "test curve"

    def read_mw(self) -> float:
        return 1000.0 + 500.0 * self.clock.now


def test_it_integrates_a_linear_power_curve_exactly() -> None:
    # P(t) = 1000 + 500 t over [0, 2] s: energy = 1000*2 + 250*4 = 3000 mJ, average 1500 mW.
    samples = [PowerSample(t / 10, 1000 + 500 * t / 10) for t in range(0, 21)]
    assert trapezoid_mj(samples) == pytest.approx(3000.0, abs=1e-9)
    window = window_power(samples, 0.0, 2.0)
    assert window.energy_mj == pytest.approx(3000.0, abs=1e-9)
    assert window.avg_power_mw == pytest.approx(1500.0, abs=1e-9)


def test_it_interpolates_the_window_edges_between_samples() -> None:
    samples = [PowerSample(0.0, 1000.0), PowerSample(1.0, 2000.0), PowerSample(2.0, 2000.0)]
    clipped = clip_to_window(samples, 0.5, 1.5)
    assert [(s.t, s.power_mw) for s in clipped] == [(0.5, 1500.0), (1.0, 2000.0), (1.5, 2000.0)]
    # (1500+2000)/2*0.5 + 2000*0.5 = 875 + 1000
    assert window_power(samples, 0.5, 1.5).energy_mj == pytest.approx(1875.0)


def test_it_says_not_measured_when_samples_do_not_cover_the_window() -> None:
    window = window_power([PowerSample(0.0, 1000.0)], 0.5, 1.0)
    assert window.energy_mj is None and window.avg_power_mw is None
    assert window.note.startswith("not measured:")


def test_it_does_not_use_a_running_average_a_la_jtop() -> None:
    # A 10 W spike in one of four 0.5 s intervals: the time average is not jtop's (power + old_avg) / 2.
    samples = [
        PowerSample(0.0, 1000),
        PowerSample(0.5, 1000),
        PowerSample(1.0, 10000),
        PowerSample(1.5, 1000),
        PowerSample(2.0, 1000),
    ]
    jtop_avg = 0.0
    for s in samples:
        jtop_avg = (s.power_mw + jtop_avg) // 2
    window = window_power(samples, 0.0, 2.0)
    assert window.energy_mj == pytest.approx(0.5 * (1000 + 5500 + 5500 + 1000))
    assert window.avg_power_mw == pytest.approx(3250.0)
    assert jtop_avg != pytest.approx(window.avg_power_mw)


def test_it_tags_samples_with_the_phase_and_measures_each_inference_window() -> None:
    clock = FakeClock()
    monitor = PowerMonitor(CurveSampler(clock), rate_hz=10, clock=clock)
    for step in range(5):  # idle, 0.0 .. 0.4 s
        clock.now = step / 10
        monitor.sample_once()
    clock.now = 0.5
    with monitor.window(INFERENCE) as window:
        for step in range(6, 11):  # the background thread's samples while inference runs
            clock.now = step / 10
            monitor.sample_once()
        clock.now = 1.05
    clock.now = 1.2
    monitor.sample_once()
    phases = [(round(s.t, 2), s.phase) for s in monitor.samples()]
    assert phases[:5] == [(0.0, IDLE), (0.1, IDLE), (0.2, IDLE), (0.3, IDLE), (0.4, IDLE)]
    assert {p for t, p in phases if 0.5 <= t <= 1.05} == {INFERENCE}
    assert phases[-1] == (1.2, IDLE)
    # Window [0.5, 1.05]: integral of 1000 + 500 t = 1000*0.55 + 250*(1.05^2 - 0.5^2)
    expected = 1000 * 0.55 + 250 * (1.05**2 - 0.5**2)
    assert window.power is not None
    assert window.power.energy_mj == pytest.approx(expected, rel=1e-12)
    assert window.power.avg_power_mw == pytest.approx(expected / 0.55, rel=1e-12)
    assert phase_windows(monitor.samples(), INFERENCE) == [(0.5, 1.05)]
    assert phase_energy(monitor.samples(), INFERENCE) == (pytest.approx(expected), pytest.approx(0.55))


def test_it_measures_a_window_shorter_than_the_sampling_period() -> None:
    clock = FakeClock()
    monitor = PowerMonitor(CurveSampler(clock), rate_hz=1, clock=clock)
    clock.now = 2.0
    with monitor.window() as window:
        clock.now = 2.02  # 20 ms of inference, no background sample in between
    assert window.power is not None and window.power.samples == 2
    assert window.power.energy_mj == pytest.approx((2000 + 2010) / 2 * 0.02)


class SlowSensorSampler(PowerSampler):
    """Like jtop: the sensor publishes a new value every 0.5 s (3 W idle, 6 W while inferring); reads in between
    return the last published value."""

    name = "slow-sensor"

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.available = True
        self.reason = "test sensor, 0.5 s refresh"
        self.update_interval_s = 0.5
        self.inferring_since: float | None = None

    def read_mw(self) -> float:
        published_at = (self.clock.now // 0.5) * 0.5
        busy = self.inferring_since is not None and published_at >= self.inferring_since
        return 6000.0 if busy else 3000.0


def test_it_says_not_measured_when_the_window_is_shorter_than_the_sensor_can_resolve() -> None:
    clock = FakeClock()
    sensor = SlowSensorSampler(clock)
    monitor = PowerMonitor(sensor, rate_hz=10, clock=clock)
    clock.now = 10.1
    with monitor.window() as window:
        sensor.inferring_since = clock.now
        for step in range(1, 3):  # 0.2 s of inference, sampled at 10 Hz: every read is the idle value from 10.0 s
            clock.now = 10.1 + step / 10
            monitor.sample_once()
    sensor.inferring_since = None
    assert window.power is not None
    assert window.power.energy_mj is None and window.power.avg_power_mw is None
    assert window.power.note.startswith("not measured:")
    assert "shorter than the 1.000 s" in window.power.note


def test_it_measures_a_window_long_enough_for_the_sensor() -> None:
    clock = FakeClock()
    sensor = SlowSensorSampler(clock)
    monitor = PowerMonitor(sensor, rate_hz=10, clock=clock)
    clock.now = 20.0
    with monitor.window() as window:
        sensor.inferring_since = clock.now
        for step in range(1, 31):  # 3 s of inference
            clock.now = 20.0 + step / 10
            monitor.sample_once()
    assert window.power is not None and window.power.avg_power_mw is not None
    assert window.power.avg_power_mw > 5000.0  # dominated by the inference value, not the idle one


def test_it_samples_on_a_background_thread_at_the_configured_rate() -> None:
    import time

    class Flat(PowerSampler):
        name = "flat"

        def __init__(self) -> None:
            super().__init__()
            self.available = True

        def read_mw(self) -> float:
            return 1234.0

    monitor = PowerMonitor(Flat(), rate_hz=50).start()
    time.sleep(0.5)
    monitor.stop()
    count = len(monitor.samples())
    assert 10 <= count <= 30, count
    assert monitor.latest_mw() == 1234.0


def test_it_reports_not_measured_with_the_reason_for_the_none_sampler() -> None:
    monitor = PowerMonitor(NoneSampler(), rate_hz=10)
    with monitor.window() as window:
        pass
    assert window.power is not None and window.power.energy_mj is None
    assert window.power.note == "not measured: power sampler 'none' configured"


@pytest.mark.skipif(os.path.exists("/run/jtop.sock"), reason="a jtop service runs here")
def test_it_says_why_jtop_is_unavailable_without_its_service() -> None:
    sampler = JtopSampler()
    assert not sampler.available
    assert "jtop" in sampler.reason and ("not active" in sampler.reason or "not installed" in sampler.reason), (
        sampler.reason
    )
    assert sampler.read_mw() is None


def test_it_says_why_nvml_is_unavailable_without_a_driver() -> None:
    sampler = NvmlSampler()
    if sampler.available:
        pytest.skip(f"an NVIDIA driver answers here: {sampler.reason}")
    assert "NVML" in sampler.reason or "nvidia-ml-py" in sampler.reason
    assert sampler.read_mw() is None


def test_it_reads_rapl_counters_with_wrap(tmp_path: Path) -> None:
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    (zone / "max_energy_range_uj").write_text("1000000\n")
    (zone / "energy_uj").write_text("990000\n")
    clock = FakeClock()
    sampler = RaplSampler(root=tmp_path, clock=clock)
    assert sampler.available, sampler.reason
    assert sampler.read_mw() is None  # the first read only sets the baseline
    clock.now = 0.5
    (zone / "energy_uj").write_text("40000\n")  # wrapped: 10 000 + 40 000 µJ = 50 mJ in 0.5 s
    assert sampler.read_mw() == pytest.approx(100.0)
    assert RaplSampler.counter_delta(990_000, 40_000, 1_000_000) == 50_000


def test_it_says_rapl_is_unavailable_when_the_counters_are_not_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    (zone / "max_energy_range_uj").write_text("1000000\n")
    (zone / "energy_uj").write_text("1\n")
    real_read_text = Path.read_text

    def root_only(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", root_only)
    sampler = RaplSampler(root=tmp_path)
    assert not sampler.available
    assert "not readable" in sampler.reason and "Permission denied" in sampler.reason


def test_it_says_rapl_is_unavailable_without_powercap(tmp_path: Path) -> None:
    sampler = RaplSampler(root=tmp_path / "absent")
    assert not sampler.available and "not present" in sampler.reason


def test_it_falls_back_to_none_with_every_reason_when_nothing_can_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    import edge_worker.power.samplers as samplers

    def unavailable(name: str) -> PowerSampler:
        s = NoneSampler(f"{name} missing here")
        s.name = name
        return s

    monkeypatch.setattr(samplers, "_create", unavailable)
    sampler = make_sampler("auto")
    assert sampler.name == "none" and not sampler.available
    assert sampler.reason == (
        "auto: jtop unavailable (jtop missing here); nvml unavailable (nvml missing here); "
        "rapl unavailable (rapl missing here)"
    )
    with pytest.raises(ValueError, match="unknown power sampler"):
        make_sampler("tegrastats")
