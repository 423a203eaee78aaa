"""Profiling messages: the server asks a device to run the deck's performance-per-watt protocol (`ProfileConfig`,
task PROFILE_EDGE_TASK on `edge.<device id>`), and the device answers with its `ProfilingReport` on the `ingest`
queue (task STORE_PROFILING_RUN_TASK). Also the catalogue of variants (backend x precision) both sides name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from edge_worker.contracts.fields import (
    Flag,
    Integer,
    Json,
    ListOf,
    MapOf,
    Message,
    MessageError,
    Nested,
    Nullable,
    Number,
    Row,
    Scalar,
    Text,
    Timestamp,
    UUIDValue,
    join,
)
from edge_worker.contracts.inspection import DEVICE_ID, MILLIWATTS

PHASES = ("load", "build", "warmup", "measure")
DEFAULT_SEED = 808  # the profiling test set; not the training seed
POWER_SAMPLERS = ("auto", "jtop", "nvml", "rapl", "none")


@dataclass(frozen=True)
class VariantSpec:
    key: str
    backend: str  # torch | torch-cuda | onnxruntime | opencv | tensorrt
    precision: str
    label: str


# Every backend and precision the edge knows how to run; the ones a device lacks are listed with the reason.
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
        raise MessageError("variants", f"unknown variant(s) {unknown}; choose from {', '.join(VARIANT_KEYS)}")
    return [v for v in VARIANTS if v.key in keys]


# --- The request --------------------------------------------------------------------------------------------

RATE_HZ = Number(0.1, 1000.0)


@dataclass(frozen=True)
class ProfileConfig(Message):
    """How to run the protocol. Checked when built, so a bad configuration never reaches a device."""

    KIND: ClassVar[str] = "profiling request"

    images: Annotated[int, Integer(1, 10_000)] = 56
    warmup: Annotated[int, Integer(0, 100)] = 1
    rounds: Annotated[int, Integer(1, 1000)] = 3
    batch_size: Annotated[int, Integer(1, 256)] = 1  # the deck's FPS is one image at a time, as on the line
    seed: Annotated[int, Integer(0, 2**32 - 1)] = DEFAULT_SEED
    power_sampler: Annotated[str, Text(max_len=10, choices=POWER_SAMPLERS)] = "auto"
    power_rate_hz: Annotated[float, RATE_HZ] = 10.0
    memory_rate_hz: Annotated[float, RATE_HZ] = 10.0
    # Keys to run (e.g. "onnxruntime-fp32"); empty: every variant.
    variants: Annotated[tuple[str, ...], ListOf(Text(max_len=40), max_items=len(VARIANTS), as_tuple=True)] = ()
    model_dir: Annotated[str | None, Nullable(Text(max_len=4096))] = None
    threads: Annotated[int | None, Nullable(Integer(1, 1024))] = None

    def __post_init__(self) -> None:
        # Built in code (a form, the command line), the tuple may have come in as a list.
        object.__setattr__(self, "variants", tuple(self.variants))
        self.validate()

    def check(self, path: str) -> None:
        try:
            select_variants(self.variants)
        except MessageError as exc:
            raise MessageError(join(path, exc.field), exc.problem) from None


# --- The report ---------------------------------------------------------------------------------------------

# Points per series the server accepts (the device thins its series to MAX_SERIES_POINTS before sending).
SERIES_POINTS_BOUND = 20_000
MAX_SERIES_POINTS = 1500
SECONDS = Number(-1e7, 1e7)  # since the run started, on the run's clock
SERIES_PHASE = Text(max_len=20)  # a protocol phase, or "idle" between them
PERCENT = Number(0.0, 100.0)
POWER_POINT = Row((SECONDS, MILLIWATTS, SERIES_PHASE), help="[t_s, mW, phase]")
MEMORY_POINT = Row(
    (SECONDS, Integer(0, 2**53), PERCENT, PERCENT, SERIES_PHASE), help="[t_s, rss bytes, process %, system %, phase]"
)
METRIC = Scalar(max_text=2000)
FREE_FORM = Json(max_depth=4, max_items=200, max_text=4096, max_bytes=64 * 1024)


@dataclass(frozen=True)
class PhaseTiming(Message):
    name: Annotated[str, Text(max_len=20, choices=PHASES)]
    start_s: Annotated[float, SECONDS]  # seconds since the run started (the shared clock)
    end_s: Annotated[float, SECONDS]

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "duration_s": self.duration_s}

    def check(self, path: str) -> None:
        if self.end_s < self.start_s:
            raise MessageError(join(path, "end_s"), f"before start_s ({self.end_s} < {self.start_s})")


@dataclass
class VariantResult(Message):
    """One variant's outcome: unavailable with the reason, or its phases, metrics and series. Filled in by the
    protocol as it runs (hence not frozen)."""

    key: Annotated[str, Text(max_len=40, choices=VARIANT_KEYS)]
    backend: Annotated[str, Text(max_len=40)]
    precision: Annotated[str, Text(max_len=10)]
    label: Annotated[str, Text(max_len=80)]
    available: Annotated[bool, Flag()]
    reason: Annotated[str, Text(max_len=2000)]
    device: Annotated[str, Text(max_len=200)] = ""
    backend_version: Annotated[str, Text(max_len=40)] = ""
    phases: Annotated[list[PhaseTiming], ListOf(Nested(PhaseTiming), max_items=len(PHASES))] = field(
        default_factory=list
    )
    metrics: Annotated[dict[str, Any], MapOf(METRIC, max_items=64, key_max_len=60)] = field(default_factory=dict)
    power_series: Annotated[list[list[Any]], ListOf(POWER_POINT, max_items=SERIES_POINTS_BOUND)] = field(
        default_factory=list
    )
    memory_series: Annotated[list[list[Any]], ListOf(MEMORY_POINT, max_items=SERIES_POINTS_BOUND)] = field(
        default_factory=list
    )

    def check(self, path: str) -> None:
        if not self.available:
            return
        if [p.name for p in self.phases] != list(PHASES):
            raise MessageError(
                join(path, "phases"), f"expected {list(PHASES)} in order, got {[p.name for p in self.phases]}"
            )
        if self.metrics.get("avg_power_inference_mw") is None and not self.metrics.get("power_note"):
            raise MessageError(join(path, "metrics.power_note"), "power not measured but no reason given")


@dataclass(frozen=True)
class ProfilingReport(Message):
    """What a device sends after a run: every variant it was asked for, available or not, or why it could not
    run at all (`error`, no variants)."""

    KIND: ClassVar[str] = "profiling report"
    VERSIONED: ClassVar[bool] = True

    run_id: Annotated[str, UUIDValue(as_text=True)]
    device_id: Annotated[str, DEVICE_ID]
    hardware: Annotated[str, Text(max_len=200)]
    started_at: Annotated[str, Timestamp(as_text=True)]
    finished_at: Annotated[str, Timestamp(as_text=True)]
    config: Annotated[dict[str, Any], FREE_FORM]  # the ProfileConfig it ran, or what it was sent if unusable
    power_source: Annotated[str, Text(max_len=4000)]
    power_measured: Annotated[bool, Flag()]
    model: Annotated[dict[str, Any], FREE_FORM]
    environment: Annotated[dict[str, Any], FREE_FORM]
    variants: Annotated[list[VariantResult], ListOf(Nested(VariantResult), max_items=len(VARIANTS))]
    error: Annotated[str, Text(max_len=4000)] = ""

    def check(self, path: str) -> None:
        keys = [v.key for v in self.variants]
        if len(set(keys)) != len(keys):
            raise MessageError(join(path, "variants"), "a variant key appears twice")
