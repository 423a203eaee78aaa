"""The power samplers, one small class per source, each saying honestly whether it can measure here and why not;
`make_sampler` picks one by name or, for `auto`, the first that can."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SAMPLER_NAMES = ("jtop", "nvml", "rapl", "none")
AUTO_ORDER = ("jtop", "nvml", "rapl")
POWERCAP_ROOT = Path("/sys/class/powercap")


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
        number = {
            0: getattr(raw, "dVal", None),
            1: getattr(raw, "uiVal", None),
            2: getattr(raw, "ulVal", None),
            3: getattr(raw, "ullVal", None),
        }.get(getattr(value, "valueType", 1))
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
