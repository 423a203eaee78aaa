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
part only when one inference runs at a time (the device's solo pool); overlapping windows each carry the total.
Energy over a window is the trapezoid integral of the samples (mW x s = mJ), with the power at the window's edges
interpolated; jetson-stats' own `avg` is `(power + old_avg) // 2`, not a time average, so it is never used. The
integration functions are plain functions over samples so other windows (a whole profiling run, only its real
rounds) use the same arithmetic.

    samplers   the sources above and `make_sampler`
    energy     samples, windows and the integration over them
    monitor    `PowerMonitor` and `monitor_from_env`
"""

from edge_worker.power.energy import (
    IDLE,
    INFERENCE,
    PowerSample,
    WindowPower,
    clip_to_window,
    phase_energy,
    phase_windows,
    trapezoid_mj,
    window_power,
)
from edge_worker.power.monitor import PowerMonitor, monitor_from_env
from edge_worker.power.samplers import (
    AUTO_ORDER,
    POWERCAP_ROOT,
    SAMPLER_NAMES,
    JtopSampler,
    NoneSampler,
    NvmlSampler,
    PowerSampler,
    RaplSampler,
    make_sampler,
)

__all__ = [
    "AUTO_ORDER",
    "IDLE",
    "INFERENCE",
    "POWERCAP_ROOT",
    "SAMPLER_NAMES",
    "JtopSampler",
    "NoneSampler",
    "NvmlSampler",
    "PowerMonitor",
    "PowerSample",
    "PowerSampler",
    "RaplSampler",
    "WindowPower",
    "clip_to_window",
    "make_sampler",
    "monitor_from_env",
    "phase_energy",
    "phase_windows",
    "trapezoid_mj",
    "window_power",
]
