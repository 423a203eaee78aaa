"""The profiling protocol: the deck's performance-per-watt experiment, run on the device for every variant it has.

The protocol, per variant (backend x precision), in this order, each phase timed and every power and memory
sample tagged with its phase:

    load      import the variant's runtime, read the model card, verify the files' sha256 ("load the model");
              a variant the device cannot run stops here, listed with the reason
    build     build or extract the inference engine (torch module, ORT session, cv2.dnn net, TensorRT plan)
    warmup    `warmup` rounds over the test images (not measured: caches, allocators, clocks settle)
    measure   `rounds` real rounds over the same images: latency per batch, FPS, accuracy, power, memory

Every variant sees the same labelled test images, rendered deterministically (edge_worker.vision.dataset) and
preprocessed once before any variant runs, so FPS is inference only.

Power comes from one `edge_worker.power` sampler for the whole run. Two windows, as in the deck:
    total       the variant's whole run (load + build + warm-up + real rounds)
    inference   the real rounds only
FPS per watt is given for both windows (the deck's "total" and "inference" columns), energy per image over
the real rounds. Where no sampler can measure, those values are None and `power_note` says
"not measured: <the sampler's reason>".

Pure Python + numpy + psutil; never imports Django or the server's modules (this runs on the Jetson).
The report (edge_worker.contracts.profiling.ProfilingReport) travels to the server as a plain dict, by task name.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import platform
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_worker.contracts.fields import MessageError
from edge_worker.contracts.inspection import utc_now
from edge_worker.contracts.profiling import (
    DEFAULT_SEED,
    FREE_FORM,
    MAX_SERIES_POINTS,
    PhaseTiming,
    ProfileConfig,
    ProfilingReport,
    VariantResult,
    VariantSpec,
    select_variants,
)
from edge_worker.power import PowerMonitor, PowerSampler, make_sampler, window_power
from edge_worker.profiling.deck import fps_per_watt
from edge_worker.profiling.memory import MemoryMonitor
from edge_worker.profiling.variants import load_variant, variant_availability

log = logging.getLogger(__name__)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


# --- Test images --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestSet:
    inputs: np.ndarray  # (N, C, S, S) float32, preprocessed
    labels: np.ndarray  # (N,) int64
    classes: tuple[str, ...]
    seed: int

    __test__ = False  # not a pytest class


def render_test_set(count: int, seed: int = DEFAULT_SEED) -> TestSet:
    """`count` labelled images rendered deterministically (balanced over part types and defect classes)."""
    from edge_worker.vision.dataset import render_arrays
    from edge_worker.vision.preprocess import normalise_uint8
    from edge_worker.vision.render import DEFECT_CLASSES

    x_u8, labels, _truth = render_arrays(count, seed)
    return TestSet(normalise_uint8(x_u8), labels, tuple(DEFECT_CLASSES), seed)


# --- The report's context -----------------------------------------------------------------------------------


def failure_report(run_id: str, device_id: str, config: Any, error: str) -> dict[str, Any]:
    """What the device sends when the protocol could not run at all (no model, bad config). The configuration
    is sent back as received when it fits the report's bounds, else its start as text."""
    try:
        kept = FREE_FORM.parse(config, "config")
    except MessageError:
        kept = {"unusable": repr(config)[:2000]}
    now = _utc_now()
    return ProfilingReport(
        run_id, device_id, hardware(), now, now, kept, "", False, {}, environment(), [], error=error[:2000]
    ).to_dict()


def _utc_now() -> str:
    return utc_now().isoformat()


def hardware() -> str:
    """The board or CPU, at most 200 characters (the report's bound)."""
    try:  # Jetson boards name themselves here
        with open("/proc/device-tree/model", "rb") as handle:
            return handle.read().rstrip(b"\x00").decode(errors="replace").strip()[:200]
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs"[-200:]


def environment() -> dict[str, Any]:
    """Versions of what could run inference here, without importing anything that starts CUDA."""
    from importlib import metadata

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    for dist in (
        "torch",
        "onnxruntime",
        "onnxruntime-gpu",
        "opencv-python-headless",
        "opencv-python",
        "tensorrt",
        "pycuda",
        "nvidia-ml-py",
        "jetson-stats",
        "psutil",
    ):
        try:
            env[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return env


# --- The protocol ---------------------------------------------------------------------------------------------


class Profiler:
    """Runs the protocol for each variant with one power monitor and one memory monitor for the whole run.

    `monitor` may be given (tests pass one with a sampler of known power); otherwise it is made from
    `config.power_sampler`. `on_phase(variant_key, phase)` is called as each phase starts.
    """

    def __init__(
        self,
        config: ProfileConfig,
        *,
        device_id: str,
        run_id: str | None = None,
        monitor: PowerMonitor | None = None,
        on_phase: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.device_id = device_id
        self.run_id = run_id or str(uuid.uuid4())
        self.clock = clock
        self.monitor = monitor or PowerMonitor(
            make_sampler(config.power_sampler), rate_hz=config.power_rate_hz, clock=clock
        )
        self.memory = MemoryMonitor(rate_hz=config.memory_rate_hz, clock=self.monitor.clock)
        self.on_phase = on_phase
        self._t0 = 0.0

    @property
    def sampler(self) -> PowerSampler:
        return self.monitor.sampler

    @contextmanager
    def _phase(self, result: VariantResult, name: str) -> Iterator[None]:
        if self.on_phase is not None:
            self.on_phase(result.key, name)
        self.memory.phase = name
        with self.monitor.window(name) as win:
            self.memory.sample_once()
            try:
                yield
            finally:
                self.memory.sample_once()
        self.memory.phase = "idle"
        result.phases.append(PhaseTiming(name, win.start - self._t0, win.end - self._t0))

    def run(self) -> ProfilingReport:
        from edge_worker.vision.backends import ModelInfo

        started_at = _utc_now()
        specs = select_variants(self.config.variants)  # refuse unknown variants before any work
        model_dir = Path(self.config.model_dir) if self.config.model_dir else None
        threads = self.config.threads or _default_threads()
        model = ModelInfo(model_dir)  # fails early (ModelFileError) when the device has no model
        test_set = render_test_set(self.config.images, self.config.seed)
        load_start = _load_average()
        self._t0 = self.monitor.clock()
        self.monitor.start()
        self.memory.start()
        results: list[VariantResult] = []
        try:
            for spec in specs:
                results.append(self._run_variant(spec, test_set, model_dir, threads))
        finally:
            self.memory.stop()
            self.monitor.stop()
        return ProfilingReport(
            run_id=self.run_id,
            device_id=self.device_id,
            hardware=hardware(),
            started_at=started_at,
            finished_at=_utc_now(),
            config=self.config.to_dict(),
            power_source=self.sampler.describe()[:4000],
            power_measured=self.sampler.available,
            model={
                "version": model.version,
                "sha256": model.onnx_sha256,
                "classes": list(model.classes),
                "input_size": model.input_size,
                "test_images": len(test_set.labels),
                "test_seed": test_set.seed,
            },
            environment={
                **environment(),
                "threads": threads,
                "load_average_start": load_start,
                "load_average_end": _load_average(),
            },
            variants=results,
        )

    def _run_variant(self, spec: VariantSpec, test_set: TestSet, model_dir: Path | None, threads: int) -> VariantResult:
        from edge_worker.vision.backends import BackendUnavailable, ModelFileError, ModelInfo

        result = VariantResult(spec.key, spec.backend, spec.precision, spec.label, False, "")
        gc.collect()
        cfg = self.config
        classifier = None
        try:
            with self._phase(result, "load"):
                # Importing the runtime is part of loading (torch takes seconds); a variant this device cannot run
                # stops here with the reason, having measured nothing.
                ok, why = variant_availability(spec)
                if ok:
                    info = ModelInfo(model_dir)
                    info.verified_path("onnx")
                    if spec.backend.startswith("torch"):
                        info.verified_path("pt")
            result.available, result.reason = ok, why[:2000]
            if not ok:
                return result
            with self._phase(result, "build"):
                classifier = load_variant(spec, model_dir, threads)
            # Cut to the report's bounds (edge_worker.contracts.profiling.VariantResult).
            result.device = str(classifier.device)[:200]
            result.backend_version = str(classifier.version)[:40]
            result.reason = why[:2000]
            batches = [test_set.inputs[i : i + cfg.batch_size] for i in range(0, len(test_set.inputs), cfg.batch_size)]
            with self._phase(result, "warmup"):
                for _ in range(cfg.warmup):
                    for batch in batches:
                        classifier.predict(batch)
            latencies_ms: list[float] = []
            predictions: list[np.ndarray] = []
            with self._phase(result, "measure"):
                for _ in range(cfg.rounds):
                    for batch in batches:
                        t = time.perf_counter()
                        probs = classifier.predict(batch)
                        latencies_ms.append((time.perf_counter() - t) * 1000.0)
                        predictions.append(np.asarray(probs).argmax(1))
            gpu_bytes, gpu_note = _gpu_memory(spec, classifier, self.sampler)
        except BackendUnavailable as exc:
            result.available = False
            result.reason = str(exc)[:2000]
            return result
        except ModelFileError as exc:  # e.g. a delivered model: the device receives the ONNX, not the PyTorch weights
            result.available = False
            result.reason = f"not available: {exc}"[:2000]
            return result
        except Exception as exc:  # one broken variant must not lose the others' results
            log.exception("profiling variant %s failed", spec.key)
            result.available = False
            result.reason = f"failed: {type(exc).__name__}: {exc}"[:2000]
            return result
        finally:
            if classifier is not None:
                try:
                    classifier.close()
                except Exception:  # pragma: no cover
                    log.exception("closing %s", spec.key)
        result.metrics = self._metrics(result, test_set, latencies_ms, predictions, gpu_bytes, gpu_note)
        self._attach_series(result)
        return result

    def _metrics(
        self,
        result: VariantResult,
        test_set: TestSet,
        latencies_ms: list[float],
        predictions: list[np.ndarray],
        gpu_bytes: int | None,
        gpu_note: str,
    ) -> dict[str, Any]:
        cfg = self.config
        phases = {p.name: p for p in result.phases}
        measure = phases["measure"]
        images = len(test_set.labels) * cfg.rounds
        predicted = np.concatenate(predictions)
        truth = np.tile(test_set.labels, cfg.rounds)
        correct = int((predicted == truth).sum())
        fps = images / measure.duration_s if measure.duration_s > 0 else None
        t0 = self._t0
        start_total, end_total = phases["load"].start_s + t0, measure.end_s + t0
        start_inf, end_inf = measure.start_s + t0, measure.end_s + t0
        power_total, power_inf, energy_inf, note = None, None, None, ""
        if not self.sampler.available:
            note = f"not measured: {self.sampler.reason}"
        else:
            samples = self.monitor.samples()
            resolvable = self.monitor.min_window_s
            total = window_power(samples, start_total, end_total, min_duration_s=resolvable)
            inference = window_power(samples, start_inf, end_inf, min_duration_s=resolvable)
            power_total, power_inf, energy_inf = total.avg_power_mw, inference.avg_power_mw, inference.energy_mj
            note = "; ".join(n for n in (total.note, inference.note) if n)
        mem = [m for m in self.memory.samples(start_inf, end_inf)]
        mem_all = self.memory.samples(start_total, end_total)
        return {
            "images": images,
            "correct": correct,
            "accuracy": correct / images,
            "fps": fps,
            "latency_p50_ms": percentile(latencies_ms, 50),
            "latency_p99_ms": percentile(latencies_ms, 99),
            "latency_mean_ms": float(np.mean(latencies_ms)),
            "batch_size": cfg.batch_size,
            "measure_s": measure.duration_s,
            "total_s": end_total - start_total,
            "mem_rss_bytes_peak": max((m.rss_bytes for m in mem), default=None),
            "mem_rss_bytes_mean": float(np.mean([m.rss_bytes for m in mem])) if mem else None,
            "mem_process_percent_peak": max((m.process_percent for m in mem), default=None),
            "mem_system_percent_peak": max((m.system_percent for m in mem), default=None),
            "mem_rss_bytes_peak_total": max((m.rss_bytes for m in mem_all), default=None),
            "mem_total_bytes": self.memory.total_bytes,
            "gpu_mem_bytes": gpu_bytes,
            "gpu_mem_note": gpu_note,
            "avg_power_total_mw": power_total,
            "avg_power_inference_mw": power_inf,
            "energy_inference_mj": energy_inf,
            "fps_per_w_total": fps_per_watt(fps, power_total),
            "fps_per_w_inference": fps_per_watt(fps, power_inf),
            "energy_per_image_mj": (energy_inf / images) if energy_inf is not None else None,
            "power_note": note,
        }

    def _attach_series(self, result: VariantResult) -> None:
        t0 = self._t0
        phases = result.phases
        start, end = phases[0].start_s + t0, phases[-1].end_s + t0
        power = self.monitor.samples(start, end)
        memory = self.memory.samples(start, end)
        result.power_series = [[round(s.t - t0, 4), round(s.power_mw, 1), s.phase] for s in _thin(power)]
        result.memory_series = [
            [round(m.t - t0, 4), m.rss_bytes, round(m.process_percent, 3), round(m.system_percent, 2), m.phase]
            for m in _thin(memory)
        ]


def _thin(items: Sequence[Any], limit: int = MAX_SERIES_POINTS) -> list[Any]:
    """Every k-th item so at most `limit` remain (first and last kept)."""
    if len(items) <= limit:
        return list(items)
    step = math.ceil(len(items) / limit)
    kept = list(items[::step])
    if kept[-1] is not items[-1]:
        kept.append(items[-1])
    return kept


def _gpu_memory(spec: VariantSpec, classifier: Any, sampler: PowerSampler) -> tuple[int | None, str]:
    if spec.backend == "torch-cuda":
        import torch

        return int(torch.cuda.max_memory_allocated()), "torch.cuda.max_memory_allocated (peak, this process)"
    if not str(getattr(classifier, "device", "")).startswith("cpu"):
        gpu = sampler.extras().get("memory", {})
        if "gpu_used_mb" in gpu:
            return int(gpu["gpu_used_mb"] * 2**20), "NVML device memory used (whole GPU)"
        if "used_mb" in gpu:  # Jetson: unified memory, the GPU shares RAM
            return None, "unified memory (Jetson): the GPU's share is in the system memory figures"
        return None, "not measured: no GPU memory source (NVML/jtop) available"
    return None, "CPU variant: no GPU memory"


def _load_average() -> list[float] | None:
    """1/5/15-minute load averages: other work on the device skews FPS, so the report says how busy it was."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _default_threads() -> int:
    from edge_worker.vision.backends import default_threads

    return default_threads()


def profile_device(
    config: ProfileConfig, *, device_id: str, run_id: str | None = None, monitor: PowerMonitor | None = None
) -> ProfilingReport:
    """Run the whole protocol here and return the report (the edge task and `manage.py profile_edge --inline`)."""
    return Profiler(config, device_id=device_id, run_id=run_id, monitor=monitor).run()
