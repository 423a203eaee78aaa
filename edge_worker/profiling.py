"""Edge profiling: the deck's performance-per-watt experiment, run on the device for every variant it has.

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
The report travels to the server as a plain dict (`ProfilingReport.to_dict`), by task name.
"""
from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import os
import platform
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_worker.power import PowerMonitor, PowerSample, PowerSampler, make_sampler, window_power

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
PROFILE_TASK = "edge_worker.profiling_tasks.profile_edge"
STORE_TASK = "inspection.tasks_profiling.store_profiling_run"
PHASES = ("load", "build", "warmup", "measure")
DEFAULT_SEED = 808  # the profiling test set; not the training seed
MAX_SERIES_POINTS = 1500  # per variant and series: enough for the deck's figure, small enough for a message


# --- The paper's arithmetic (pure) ------------------------------------------------------------------------


def fps_per_watt(fps: float | None, avg_power_mw: float | None) -> float | None:
    """Frames per second per watt: FPS / (mW / 1000). None when either is unknown (never 0)."""
    if fps is None or avg_power_mw is None or avg_power_mw <= 0:
        return None
    return fps / (avg_power_mw / 1000.0)


def energy_per_image_mj(avg_power_mw: float | None, fps: float | None) -> float | None:
    """Energy per image in mJ: mW / FPS (mJ/s divided by images/s)."""
    if fps is None or avg_power_mw is None or fps <= 0:
        return None
    return avg_power_mw / fps


@dataclass(frozen=True)
class DeckRow:
    """One column of the deck's "Edge results" slide (MobileNetV2 on a Jetson Nano), as published."""

    variant: str
    accuracy_pct: float
    fps: float | None
    total_power_mw: float | None
    inference_power_mw: float
    fps_per_w_total: float
    fps_per_w_inference: float


DECK_ROWS = (
    DeckRow("Cloud-based (original)", 97, 41, 3386, 6125, 12.10, 6.69),
    DeckRow("TensorRT FP32", 97, 82, 3185, 5711, 25.74, 14.35),
    DeckRow("TensorRT FP16", 97, None, None, 5860, 26.01, 14.33),
)


def deck_check() -> list[dict[str, Any]]:
    """The deck's FPS/W recomputed from its own FPS and power. The published figures are truncated to two
    decimals (41 / 3.386 = 12.1087 is printed 12.10); rounded they are 12.11, 25.75, 6.69, 14.36. For FP16 the
    deck gives no FPS: FPS = 14.33 x 5.860 = 84.0 and total power = 84.0 / 26.01 = 3.23 W are derived."""
    rows = []
    for r in DECK_ROWS:
        fps = r.fps if r.fps is not None else r.fps_per_w_inference * r.inference_power_mw / 1000.0
        total_mw = r.total_power_mw if r.total_power_mw is not None else fps / r.fps_per_w_total * 1000.0
        rows.append({
            "variant": r.variant,
            "fps": fps,
            "fps_derived": r.fps is None,
            "total_power_mw": total_mw,
            "total_power_derived": r.total_power_mw is None,
            "inference_power_mw": r.inference_power_mw,
            "fps_per_w_total": fps_per_watt(fps, total_mw),
            "fps_per_w_inference": fps_per_watt(fps, r.inference_power_mw),
            "published_total": r.fps_per_w_total,
            "published_inference": r.fps_per_w_inference,
        })
    return rows


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


# --- Configuration and variants ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileConfig:
    images: int = 56
    warmup: int = 1
    rounds: int = 3
    batch_size: int = 1  # the deck's FPS is one image at a time, as on the line
    seed: int = DEFAULT_SEED
    power_sampler: str = "auto"
    power_rate_hz: float = 10.0
    memory_rate_hz: float = 10.0
    variants: tuple[str, ...] = ()  # keys to run (e.g. "onnxruntime-fp32"); empty: every variant
    model_dir: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.images < 1 or self.rounds < 1 or self.warmup < 0 or self.batch_size < 1:
            raise ValueError("images and rounds must be >= 1, warmup >= 0, batch_size >= 1")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["variants"] = list(self.variants)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProfileConfig":
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in (data or {}).items() if k in known}
        if "variants" in kwargs:
            kwargs["variants"] = tuple(kwargs["variants"] or ())
        return cls(**kwargs)


@dataclass(frozen=True)
class VariantSpec:
    key: str
    backend: str  # torch | torch-cuda | onnxruntime | opencv | tensorrt
    precision: str
    label: str


# Every backend and precision we know how to run; the ones a device lacks are listed with the reason.
VARIANTS: tuple[VariantSpec, ...] = (
    VariantSpec("torch-fp32", "torch", "fp32", "PyTorch (original model, CPU)"),
    VariantSpec("torch-cuda-fp32", "torch-cuda", "fp32", "PyTorch CUDA FP32"),
    VariantSpec("torch-cuda-fp16", "torch-cuda", "fp16", "PyTorch CUDA FP16"),
    VariantSpec("onnxruntime-fp32", "onnxruntime", "fp32", "ONNX Runtime FP32"),
    VariantSpec("onnxruntime-fp16", "onnxruntime", "fp16", "ONNX Runtime FP16 (TensorRT EP)"),
    VariantSpec("opencv-fp32", "opencv", "fp32", "OpenCV DNN FP32"),
    VariantSpec("tensorrt-fp32", "tensorrt", "fp32", "TensorRT FP32"),
    VariantSpec("tensorrt-fp16", "tensorrt", "fp16", "TensorRT FP16"),
    VariantSpec("tensorrt-int8", "tensorrt", "int8", "TensorRT INT8"),
)
VARIANT_KEYS = tuple(v.key for v in VARIANTS)


def select_variants(keys: Sequence[str]) -> list[VariantSpec]:
    if not keys:
        return list(VARIANTS)
    unknown = [k for k in keys if k not in VARIANT_KEYS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANT_KEYS)}")
    return [v for v in VARIANTS if v.key in keys]


# --- PyTorch on CUDA (the torch backend of edge_worker.vision runs on CPU only) ----------------------------


def torch_cuda_availability(precision: str) -> tuple[bool, str]:
    """Whether PyTorch can run the model on a CUDA GPU at `precision`, with the reason. Version-aware:
    a CPU build of torch has `torch.version.cuda is None`; FP16 needs compute capability >= 5.3."""
    try:
        import torch
    except Exception as exc:
        return False, f"torch not importable: {exc}"
    if getattr(torch.version, "cuda", None) is None:
        return False, f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None)"
    if not torch.cuda.is_available():
        return False, f"torch {torch.__version__} (CUDA {torch.version.cuda}): no CUDA device visible"
    major, minor = torch.cuda.get_device_capability(0)
    name = torch.cuda.get_device_name(0)
    if precision == "fp16" and (major, minor) < (5, 3):
        return False, f"{name} (sm {major}.{minor}) has no native FP16 arithmetic"
    if precision == "int8":
        return False, "PyTorch eager INT8 runs on CPU only (use TensorRT INT8 on the GPU)"
    return True, f"torch {torch.__version__} CUDA {torch.version.cuda} on {name} (sm {major}.{minor})"


def _load_torch_cuda(model_dir: Path | None, precision: str, threads: int) -> Any:
    from edge_worker.vision.backends import BackendUnavailable, Classifier, ModelInfo

    ok, why = torch_cuda_availability(precision)
    if not ok:
        raise BackendUnavailable(why)
    import torch

    from edge_worker.vision.model import DefectNet

    class TorchCudaClassifier(Classifier):
        name = "torch-cuda"

        def __init__(self, model: ModelInfo) -> None:
            super().__init__(model)
            arch = model.card["architecture"]
            net = DefectNet(len(model.classes), in_channels=model.channels,
                            config=tuple(tuple(c) for c in arch["config_t_c_n_s"]), stem=arch["stem"], last=arch["last"])
            net.load_state_dict(torch.load(model.verified_path("pt"), map_location="cpu", weights_only=True))
            self._dtype = torch.float16 if precision == "fp16" else torch.float32
            self._net: Any = net.eval().to("cuda", dtype=self._dtype)
            self.version = torch.__version__
            self.precision = precision
            self.device = f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"

        def predict(self, batch: np.ndarray) -> np.ndarray:
            batch = self.check_batch(batch)
            with torch.inference_mode():
                x = torch.from_numpy(batch).to("cuda", dtype=self._dtype, non_blocking=False)
                out = torch.softmax(self._net(x).float(), 1).cpu().numpy()  # .cpu() synchronises
            return out

        def close(self) -> None:
            self._net = None
            torch.cuda.empty_cache()

    torch.cuda.reset_peak_memory_stats()
    return TorchCudaClassifier(ModelInfo(model_dir))


def variant_availability(spec: VariantSpec) -> tuple[bool, str]:
    """Cheap check before loading anything: the runtime is importable and the precision is possible."""
    if spec.backend == "torch-cuda":
        return torch_cuda_availability(spec.precision)
    import importlib

    try:  # only this backend's runtime: importing every runtime would bill them all to the first variant
        ok, why = importlib.import_module(f"edge_worker.vision.backends.{spec.backend}_backend").availability()
    except Exception as exc:
        ok, why = False, f"{spec.backend} availability check failed: {exc}"
    if not ok:
        return False, why
    if spec.backend in ("torch", "opencv") and spec.precision != "fp32":
        return False, f"{spec.backend} runs fp32 only on CPU"
    if spec.backend == "tensorrt" and spec.precision != "fp32":
        from edge_worker.vision.backends.tensorrt_backend import precision_refusal

        import tensorrt as trt  # available: the check above imported it

        refusal = precision_refusal(trt.__version__, spec.precision)
        if refusal:
            return False, refusal
    return True, why


def load_variant(spec: VariantSpec, model_dir: Path | None, threads: int) -> Any:
    """Build the variant's engine (raises BackendUnavailable with the reason when it cannot)."""
    if spec.backend == "torch-cuda":
        return _load_torch_cuda(model_dir, spec.precision, threads)
    from edge_worker.vision.backends import load_classifier

    classifier, _reason = load_classifier(spec.backend, precision=spec.precision, model_dir=model_dir, threads=threads)
    return classifier


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


# --- Memory sampling ------------------------------------------------------------------------------------------


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
        sample = MemorySample(self.clock(), rss, 100.0 * rss / self.total_bytes,
                              float(self._psutil.virtual_memory().percent), self.phase)
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


# --- The report -----------------------------------------------------------------------------------------------


@dataclass
class PhaseTiming:
    name: str
    start_s: float  # seconds since the run started (the shared clock)
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start_s": self.start_s, "end_s": self.end_s, "duration_s": self.duration_s}


@dataclass
class VariantResult:
    key: str
    backend: str
    precision: str
    label: str
    available: bool
    reason: str
    device: str = ""
    backend_version: str = ""
    phases: list[PhaseTiming] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    power_series: list[list[Any]] = field(default_factory=list)  # [t_s, mW, phase]
    memory_series: list[list[Any]] = field(default_factory=list)  # [t_s, rss bytes, process %, system %, phase]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "backend": self.backend, "precision": self.precision, "label": self.label,
            "available": self.available, "reason": self.reason, "device": self.device,
            "backend_version": self.backend_version, "phases": [p.to_dict() for p in self.phases],
            "metrics": self.metrics, "power_series": self.power_series, "memory_series": self.memory_series,
        }


@dataclass
class ProfilingReport:
    run_id: str
    device_id: str
    hardware: str
    started_at: str
    finished_at: str
    config: dict[str, Any]
    power_source: str
    power_measured: bool
    model: dict[str, Any]
    environment: dict[str, Any]
    variants: list[VariantResult]
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION, "run_id": self.run_id, "device_id": self.device_id, "hardware": self.hardware,
            "started_at": self.started_at, "finished_at": self.finished_at, "config": self.config,
            "power_source": self.power_source, "power_measured": self.power_measured, "model": self.model,
            "environment": self.environment, "variants": [v.to_dict() for v in self.variants], "error": self.error,
        }


def failure_report(run_id: str, device_id: str, config: dict[str, Any], error: str) -> dict[str, Any]:
    """What the device sends when the protocol could not run at all (no model, bad config)."""
    now = _utc_now()
    return ProfilingReport(run_id, device_id, hardware(), now, now, config, "", False, {}, environment(), [],
                           error=error[:2000]).to_dict()


def _utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def hardware() -> str:
    try:  # Jetson boards name themselves here
        with open("/proc/device-tree/model", "rb") as handle:
            return handle.read().rstrip(b"\x00").decode(errors="replace").strip()
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
    return f"{cpu}, {os.cpu_count()} logical CPUs"


def environment() -> dict[str, Any]:
    """Versions of what could run inference here, without importing anything that starts CUDA."""
    from importlib import metadata

    env: dict[str, Any] = {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform()}
    for dist in ("torch", "onnxruntime", "onnxruntime-gpu", "opencv-python-headless", "opencv-python", "tensorrt",
                 "pycuda", "nvidia-ml-py", "jetson-stats", "psutil"):
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

    def __init__(self, config: ProfileConfig, *, device_id: str, run_id: str | None = None,
                 monitor: PowerMonitor | None = None, on_phase: Callable[[str, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.device_id = device_id
        self.run_id = run_id or str(uuid.uuid4())
        self.clock = clock
        self.monitor = monitor or PowerMonitor(make_sampler(config.power_sampler), rate_hz=config.power_rate_hz,
                                               clock=clock)
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
            run_id=self.run_id, device_id=self.device_id, hardware=hardware(), started_at=started_at,
            finished_at=_utc_now(), config=self.config.to_dict(), power_source=self.sampler.describe(),
            power_measured=self.sampler.available,
            model={"version": model.version, "sha256": model.onnx_sha256, "classes": list(model.classes),
                   "input_size": model.input_size, "test_images": len(test_set.labels), "test_seed": test_set.seed},
            environment={**environment(), "threads": threads, "load_average_start": load_start,
                         "load_average_end": _load_average()},
            variants=results,
        )

    def _run_variant(self, spec: VariantSpec, test_set: TestSet, model_dir: Path | None, threads: int) -> VariantResult:
        from edge_worker.vision.backends import BackendUnavailable, ModelInfo

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
            result.available, result.reason = ok, why
            if not ok:
                return result
            with self._phase(result, "build"):
                classifier = load_variant(spec, model_dir, threads)
            result.device = str(classifier.device)
            result.backend_version = str(classifier.version)
            result.reason = why
            batches = [test_set.inputs[i: i + cfg.batch_size] for i in range(0, len(test_set.inputs), cfg.batch_size)]
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
            result.reason = str(exc)
            return result
        except Exception as exc:  # one broken variant must not lose the others' results
            log.exception("profiling variant %s failed", spec.key)
            result.available = False
            result.reason = f"failed: {type(exc).__name__}: {exc}"
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

    def _metrics(self, result: VariantResult, test_set: TestSet, latencies_ms: list[float],
                 predictions: list[np.ndarray], gpu_bytes: int | None, gpu_note: str) -> dict[str, Any]:
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
        result.memory_series = [[round(m.t - t0, 4), m.rss_bytes, round(m.process_percent, 3),
                                 round(m.system_percent, 2), m.phase] for m in _thin(memory)]


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


def profile_device(config: ProfileConfig, *, device_id: str, run_id: str | None = None,
                   monitor: PowerMonitor | None = None) -> ProfilingReport:
    """Run the whole protocol here and return the report (the edge task and `manage.py profile_edge --inline`)."""
    return Profiler(config, device_id=device_id, run_id=run_id, monitor=monitor).run()


__all__ = [
    "DECK_ROWS", "PHASES", "PROFILE_TASK", "STORE_TASK", "VARIANTS", "VARIANT_KEYS", "MemoryMonitor",
    "PowerSample", "ProfileConfig", "Profiler", "ProfilingReport", "VariantResult", "deck_check",
    "energy_per_image_mj", "failure_report", "fps_per_watt", "percentile", "profile_device", "render_test_set",
]
