"""The messages between the server and the edge: each defined once, each round-tripping exactly through JSON, and
each field held to its declared bound (too long, too many, not finite, too large, the wrong type, not an object),
refused with a MessageError that names the field."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge_worker import contracts
from edge_worker.contracts import (
    Capture,
    CobotAck,
    InspectionResult,
    Message,
    MessageError,
    MovePart,
    PresentView,
    ProfileConfig,
    ProfilingReport,
    Refusal,
    Telemetry,
)
from edge_worker.contracts.fields import (
    Integer,
    ListOf,
    MapOf,
    Nested,
    Nullable,
    Number,
    Text,
    field_specs,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = "2026-03-01T08:00:00+00:00"
IMAGE = b"\x89PNG not really"


def capture() -> dict[str, Any]:
    return {
        "schema": 1,
        "capture_id": str(uuid.uuid4()),
        "serial": "CF-80-0001",
        "station": "visual",
        "cell": "ac-cell-1",
        "part_type": {
            "code": "CF-80",
            "name": "Compressor flange 80",
            "drawing_number": "DRW-CF-0080",
            "revision": "C",
            "features": [
                {
                    "name": "bore_diameter",
                    "kind": "diameter",
                    "nominal": 30.0,
                    "lower_tol": 0.0,
                    "upper_tol": 0.084,
                    "unit": "mm",
                }
            ],
        },
        "image_png_b64": contracts.encode_image(IMAGE),
        "captured_at": T0,
        "device_id": "jetson-demo-01",
        "px_per_mm": 5.0012,
        "calibration_id": 7,
        "lens_k1": -0.012,
        "job": "measurement",
        "view": "backlit",
    }


def result() -> dict[str, Any]:
    return {
        "schema": 1,
        "result_id": str(uuid.uuid4()),
        "capture_id": str(uuid.uuid4()),
        "device_id": "jetson-demo-01",
        "serial": "CF-80-0001",
        "station": "visual",
        "cell": "ac-cell-1",
        "verdict": "fail",
        "reason": "bore_diameter 30.081 mm > 30.050 mm; defect scratch (0.81)",
        "measurements": [
            {
                "name": "bore_diameter",
                "kind": "diameter",
                "value": 30.081,
                "nominal": 30.0,
                "lower_tol": 0.0,
                "upper_tol": 0.05,
                "unit": "mm",
                "passed": False,
                "geometry": {"type": "circle", "center": [256.0, 256.0], "radius": 75.0},
            }
        ],
        "findings": [
            {
                "kind": "defect",
                "name": "scratch",
                "bbox": [10, 10, 100, 100],
                "confidence": 0.81,
                "detail": "classifier: scratch with p=0.810",
            }
        ],
        "defect_class": "scratch",
        "defect_confidence": 0.81,
        "class_probabilities": {"ok": 0.19, "scratch": 0.81},
        "model": {
            "version": "dc-1.0",
            "sha256": "ab" * 32,
            "backend": "onnxruntime",
            "backend_version": "1.22.0",
            "precision": "fp32",
            "device": "cpu",
            "alias": "champion",
        },
        "latency_ms": 42.5,
        "timings_ms": {"decode": 1.0, "measure": 30.0, "classify": 11.5},
        "power": {"avg_power_mw": 2150.0, "energy_mj": 91.375, "note": "nvml: 3 samples over 42.5 ms"},
        "image_png_b64": contracts.encode_image(IMAGE),
        "image_sha256": hashlib.sha256(IMAGE).hexdigest(),
        "captured_at": T0,
        "inspected_at": "2026-03-01T08:00:01+00:00",
        "sent_at": None,
        "drawing_revision": "C",
        "calibration_id": 7,
    }


def telemetry() -> dict[str, Any]:
    return {
        "schema": 1,
        "device_id": "jetson-demo-01",
        "at": T0,
        "fps": 0.133,
        "power_mw": 2100.0,
        "memory": {"used_mb": 1500.0, "total_mb": 3956.0},
        "temperature": {"gpu": 41.5, "PMIC": -256.0},
        "gpu_load": 37.0,
        "backend": "tensorrt",
        "precision": "fp16",
        "model_version": "dc-1.0",
        "hardware": "NVIDIA Jetson Nano",
        "power_source": "jtop: board total",
    }


def refusal() -> dict[str, Any]:
    return Refusal.of(
        {"serial": "SN-1", "nested": {"deep": [1, 2.5, None, True]}},
        device_id="jetson-demo-01",
        task="edge_worker.tasks.inspect_capture",
        reason="malformed capture: capture_id: missing",
    ).to_dict()


def present_view() -> dict[str, Any]:
    return {
        "command_id": str(uuid.uuid4()),
        "cell": "ac-cell-1",
        "serial": "CF-80-0001",
        "result_id": str(uuid.uuid4()),
        "finding_index": 0,
        "finding_kind": "defect",
        "finding_name": "scratch",
        "bbox": [10.0, 10.0, 100.0, 100.0],
    }


def move_part() -> dict[str, Any]:
    return {
        "command_id": str(uuid.uuid4()),
        "cell": "ac-cell-1",
        "serial": "CF-80-0001",
        "result_id": str(uuid.uuid4()),
        "destination": "rework",
        "reason": "bore oversize: rework",
    }


def cobot_ack() -> dict[str, Any]:
    return {
        "command_id": str(uuid.uuid4()),
        "cell": "ac-cell-1",
        "kind": "move_part",
        "status": "done",
        "detail": "CF-80-0001 placed: rework",
        "done_at": T0,
    }


def profile_config() -> dict[str, Any]:
    return ProfileConfig(
        images=7,
        warmup=0,
        rounds=1,
        variants=("onnxruntime-fp32", "opencv-fp32"),
        model_dir="/opt/twinweb/models",
        threads=4,
    ).to_dict()


def profiling_report() -> dict[str, Any]:
    phases = [
        {"name": name, "start_s": float(i), "end_s": float(i) + 0.5, "duration_s": 0.5}
        for i, name in enumerate(("load", "build", "warmup", "measure"))
    ]
    return {
        "schema": 1,
        "run_id": str(uuid.uuid4()),
        "device_id": "jetson-demo-01",
        "hardware": "NVIDIA Jetson Nano",
        "started_at": T0,
        "finished_at": "2026-03-01T08:01:00+00:00",
        "config": profile_config(),
        "power_source": "jtop: board total",
        "power_measured": True,
        "model": {"version": "dc-1.0", "sha256": "ab" * 32, "classes": ["ok", "scratch"], "input_size": 96},
        "environment": {"python": "3.11.2", "numpy": "2.4.6", "load_average_start": [0.5, 0.4, 0.3]},
        "variants": [
            {
                "key": "onnxruntime-fp32",
                "backend": "onnxruntime",
                "precision": "fp32",
                "label": "ONNX Runtime FP32",
                "available": True,
                "reason": "onnxruntime 1.32.0 (CPU)",
                "device": "cpu",
                "backend_version": "1.32.0",
                "phases": phases,
                "metrics": {
                    "images": 7,
                    "fps": 120.5,
                    "avg_power_inference_mw": 5000.0,
                    "power_note": "",
                    "gpu_mem_bytes": None,
                },
                "power_series": [[0.0, 4900.0, "load"], [3.1, 5000.0, "measure"]],
                "memory_series": [[0.0, 123456789, 3.2, 41.0, "load"], [3.1, 123456789, 3.2, 41.0, "measure"]],
            },
            {
                "key": "tensorrt-fp16",
                "backend": "tensorrt",
                "precision": "fp16",
                "label": "TensorRT FP16",
                "available": False,
                "reason": "tensorrt not importable",
                "device": "",
                "backend_version": "",
                "phases": [],
                "metrics": {},
                "power_series": [],
                "memory_series": [],
            },
        ],
        "error": "",
    }


SAMPLES: dict[type[Message], Callable[[], dict[str, Any]]] = {
    Capture: capture,
    InspectionResult: result,
    Telemetry: telemetry,
    Refusal: refusal,
    PresentView: present_view,
    MovePart: move_part,
    CobotAck: cobot_ack,
    ProfileConfig: profile_config,
    ProfilingReport: profiling_report,
}
MESSAGES = list(SAMPLES)


def refused(cls: type[Message], data: Any) -> MessageError:
    with pytest.raises(MessageError) as caught:
        cls.from_dict(data)
    return caught.value


# --- Round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_it_round_trips_every_message_exactly_through_json(cls: type[Message]) -> None:
    data = SAMPLES[cls]()
    message = cls.from_dict(json.loads(json.dumps(data)))
    assert message.to_dict() == data
    assert cls.from_dict(json.loads(json.dumps(message.to_dict()))) == message


def test_it_reads_the_parts_of_a_result_as_typed_values() -> None:
    message = InspectionResult.from_dict(result())
    assert isinstance(message.result_id, uuid.UUID) and isinstance(message.captured_at, dt.datetime)
    assert message.measurements[0].passed is False and message.model.backend == "onnxruntime"
    assert message.power.avg_power_mw == 2150.0 and message.verify_image() == IMAGE
    report = ProfilingReport.from_dict(profiling_report())
    assert [p.name for p in report.variants[0].phases] == ["load", "build", "warmup", "measure"]


# --- Bounds, field by field ------------------------------------------------------------------------------------


def _top_level_cases() -> list[tuple[type[Message], str, Any, str]]:
    """For every message and every field with a bounded text, number, list or map: a value just past the bound,
    with the problem the refusal must state."""
    cases: list[tuple[type[Message], str, Any, str]] = []
    for cls in MESSAGES:
        sample = SAMPLES[cls]()
        for name, (spec, _required) in field_specs(cls).items():
            inner = spec.inner if isinstance(spec, Nullable) else spec
            if isinstance(inner, Text):
                cases.append((cls, name, "x" * (inner.max_len + 1), f"longer than {inner.max_len} characters"))
            elif isinstance(inner, (Number, Integer)):
                cases.append((cls, name, inner.maximum + 1, "must be <="))
                cases.append((cls, name, 10**400, "must be <="))  # valid JSON; too large for a float
                cases.append((cls, name, "12", "expected a"))
                cases.append((cls, name, True, "expected a"))
                if isinstance(inner, Number):
                    cases.append((cls, name, math.nan, "must be finite"))
                    cases.append((cls, name, -math.inf, "must be finite"))
            elif isinstance(inner, ListOf) and sample.get(name):
                cases.append(
                    (cls, name, [sample[name][0]] * (inner.max_items + 1), f"more than {inner.max_items} items")
                )
            elif isinstance(inner, ListOf):
                cases.append((cls, name, [None] * (inner.max_items + 1), f"more than {inner.max_items} items"))
            elif isinstance(inner, MapOf):
                cases.append(
                    (
                        cls,
                        name,
                        {f"k{i}": 1.0 for i in range(inner.max_items + 1)},
                        f"more than {inner.max_items} entries",
                    )
                )
            if isinstance(inner, (MapOf, Nested)):
                cases.append((cls, name, [1, 2], "expected an object, got list"))
    return cases


@pytest.mark.parametrize(
    ("cls", "name", "value", "problem"), _top_level_cases(), ids=lambda v: v.__name__ if isinstance(v, type) else None
)
def test_it_refuses_a_value_past_its_bound_naming_the_field(
    cls: type[Message], name: str, value: Any, problem: str
) -> None:
    data = SAMPLES[cls]()
    data[name] = value
    error = refused(cls, data)
    assert error.field.split("[")[0] == name
    assert problem in error.problem


@pytest.mark.parametrize(
    ("cls", "change", "field", "problem"),
    [
        (Capture, lambda d: d["part_type"].update(code="X" * 41), "part_type.code", "longer than 40"),
        (
            Capture,
            lambda d: d["part_type"]["features"][0].update(nominal=math.inf),
            "part_type.features[0].nominal",
            "finite",
        ),
        (Capture, lambda d: d["part_type"].update(features=[{}] * 65), "part_type.features", "more than 64 items"),
        (Capture, lambda d: d["part_type"].pop("code"), "part_type.code", "missing"),
        (Capture, lambda d: d.update(captured_at=1700000000), "captured_at", "expected an ISO 8601 timestamp, got int"),
        (
            InspectionResult,
            lambda d: d.update(image_png_b64=""),
            "image_png_b64",
            "must not be empty for a 'fail' verdict",
        ),
        (
            InspectionResult,
            lambda d: d.update(image_sha256=""),
            "image_sha256",
            "must not be empty when the result carries",
        ),
        (InspectionResult, lambda d: d["measurements"][0].update(value=1e7), "measurements[0].value", "must be <="),
        (
            InspectionResult,
            lambda d: d["measurements"][0].update(geometry={"deep": [[[[[1]]]]]}),
            "measurements[0].geometry.deep[0][0][0]",
            "nested deeper than 4",
        ),
        (
            InspectionResult,
            lambda d: d["measurements"][0].update(geometry={"points": list(range(65))}),
            "measurements[0].geometry.points",
            "more than 64 items",
        ),
        (
            InspectionResult,
            lambda d: d["findings"][0].update(confidence=1.5),
            "findings[0].confidence",
            "must be <= 1.0",
        ),
        (InspectionResult, lambda d: d["findings"][0].update(bbox=[1, 2]), "findings[0].bbox", "[x, y, w, h]"),
        (
            InspectionResult,
            lambda d: d["findings"][0].update(bbox=[1, 2, math.nan, 4]),
            "findings[0].bbox[2]",
            "finite",
        ),
        (InspectionResult, lambda d: d["findings"][0].update(note="n" * 1001), "findings[0].note", "longer than 1000"),
        (InspectionResult, lambda d: d["findings"][0].update(score=10**400), "findings[0].score", "must be <="),
        (InspectionResult, lambda d: d["findings"].append("scratch"), "findings[1]", "expected an object, got str"),
        (
            InspectionResult,
            lambda d: d["class_probabilities"].update(dent=1.01),
            "class_probabilities.dent",
            "must be <= 1.0",
        ),
        (
            InspectionResult,
            lambda d: d["timings_ms"].update(classify=math.inf),
            "timings_ms.classify",
            "must be finite",
        ),
        (InspectionResult, lambda d: d["power"].update(energy_mj=-1), "power.energy_mj", "must be >= 0.0"),
        (InspectionResult, lambda d: d["model"].update(sha256="f" * 65), "model.sha256", "longer than 64"),
        (InspectionResult, lambda d: d.update(verdict="maybe"), "verdict", "must be one of pass, fail, error"),
        (Telemetry, lambda d: d["temperature"].update(gpu=10**400), "temperature.gpu", "must be <="),
        (Telemetry, lambda d: d["memory"].update(used_mb=math.nan), "memory.used_mb", "must be finite"),
        (Telemetry, lambda d: d.update(gpu_load=101), "gpu_load", "must be <= 100.0"),
        (Refusal, lambda d: d["payload"].update(x=math.nan), "payload.x", "must be finite"),
        (
            Refusal,
            lambda d: d.update(payload={"d": json.loads("[" * 16 + "]" * 16)}),
            "payload.d" + "[0]" * 15,
            "nested deeper than 16",
        ),
        (PresentView, lambda d: d.update(bbox=[1.0, 2.0]), "bbox", "[x, y, w, h]"),
        (PresentView, lambda d: d.update(finding_kind="smell"), "finding_kind", "must be one of"),
        (PresentView, lambda d: d.update(command_id="not-a-uuid"), "command_id", "not a UUID"),
        (
            MovePart,
            lambda d: d.update(destination="the moon"),
            "destination",
            "must be one of scrap, rework, line, hold",
        ),
        (CobotAck, lambda d: d.update(status="maybe"), "status", "must be one of done, refused"),
        (CobotAck, lambda d: d.update(done_at="2026-03-01T08:00:00"), "done_at", "no time zone"),
        (ProfileConfig, lambda d: d.update(variants=["tensorrt-fp64"]), "variants", "unknown variant"),
        (ProfileConfig, lambda d: d.update(rounds=0), "rounds", "must be >= 1"),
        (ProfileConfig, lambda d: d.update(power_sampler="tegrastats"), "power_sampler", "must be one of"),
        (ProfilingReport, lambda d: d["variants"][0].update(key="torch-fp64"), "variants[0].key", "must be one of"),
        (
            ProfilingReport,
            lambda d: d["variants"][0]["power_series"].append([1.0, "5 W", "measure"]),
            "variants[0].power_series[2][1]",
            "expected a number, got str",
        ),
        (
            ProfilingReport,
            lambda d: d["variants"][0]["memory_series"].append([1.0, 2, 3.0]),
            "variants[0].memory_series[2]",
            "[t_s, rss bytes, process %, system %, phase]",
        ),
        (
            ProfilingReport,
            lambda d: d["variants"][0].update(power_series=[[0.0, 1.0, "load"]] * 20_001),
            "variants[0].power_series",
            "more than 20000 items",
        ),
        (
            ProfilingReport,
            lambda d: d["variants"][0]["metrics"].update(fps=math.inf),
            "variants[0].metrics.fps",
            "finite",
        ),
        (
            ProfilingReport,
            lambda d: d["variants"][0]["metrics"].update(fps=[120]),
            "variants[0].metrics.fps",
            "expected a number, string, true/false or null",
        ),
        (ProfilingReport, lambda d: d["variants"][0]["phases"].reverse(), "variants[0].phases", "in order"),
        (
            ProfilingReport,
            lambda d: d["variants"][0]["metrics"].update(avg_power_inference_mw=None),
            "variants[0].metrics.power_note",
            "no reason given",
        ),
        (ProfilingReport, lambda d: d["variants"].append(copy.deepcopy(d["variants"][1])), "variants", "appears twice"),
        (
            ProfilingReport,
            lambda d: d.update(environment={"blob": "x" * 70_000}),
            "environment.blob",
            "longer than 4096",
        ),
    ],
)
def test_it_refuses_what_breaks_a_nested_bound_naming_the_field(
    cls: type[Message], change: Callable[[dict[str, Any]], Any], field: str, problem: str
) -> None:
    data = SAMPLES[cls]()
    change(data)
    error = refused(cls, data)
    assert (error.field, problem in error.problem) == (field, True), str(error)


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_it_refuses_a_message_that_is_not_an_object_or_misses_a_required_field(cls: type[Message]) -> None:
    assert refused(cls, [1, 2]).field == ""
    assert "must be a JSON object, got list" in str(refused(cls, [1, 2]))
    required = [name for name, (_spec, required) in field_specs(cls).items() if required]
    for name in required:
        data = SAMPLES[cls]()
        del data[name]
        assert (refused(cls, data).field, refused(cls, data).problem) == (name, "missing")


@pytest.mark.parametrize("cls", [c for c in MESSAGES if c.VERSIONED], ids=lambda c: c.__name__)
def test_it_refuses_another_schema_version(cls: type[Message]) -> None:
    data = {**SAMPLES[cls](), "schema": 2}
    assert refused(cls, data).field == "schema"


def test_it_checks_a_profiling_request_built_in_code_against_the_same_bounds() -> None:
    with pytest.raises(MessageError, match="images: must be <= 10000"):
        ProfileConfig(images=10_001)
    with pytest.raises(MessageError, match="unknown variant"):
        ProfileConfig(variants=("tensorrt-fp64",))


def test_it_keeps_a_refused_payload_within_the_refusals_own_bounds() -> None:
    for payload in (
        {"x": math.nan},
        {"d": json.loads("[" * 40 + "]" * 40)},
        [1, 2, 3],
        "text",
        {"image": "A" * 200_000},
    ):
        Refusal.from_dict(json.loads(json.dumps(Refusal.of(payload, device_id="d", task="t", reason="r").to_dict())))


# --- Defined once ------------------------------------------------------------------------------------------------


CONTRACT_CLASSES = [
    "Capture",
    "InspectionResult",
    "ModelRef",
    "PowerSummary",
    "MeasurementRow",
    "Telemetry",
    "Refusal",
    "PresentView",
    "MovePart",
    "CobotAck",
    "ProfileConfig",
    "ProfilingReport",
    "VariantResult",
    "PhaseTiming",
    "VariantSpec",
    "MessageError",
]


def test_it_defines_each_message_once_in_the_whole_repository() -> None:
    sources = [p for p in ROOT.rglob("*.py") if not {".venv", "node_modules", ".git"} & set(p.relative_to(ROOT).parts)]
    for name in CONTRACT_CLASSES:
        pattern = re.compile(rf"^class {name}\b", re.MULTILINE)
        defined_in = [str(p.relative_to(ROOT)) for p in sources if pattern.search(p.read_text(errors="replace"))]
        assert len(defined_in) == 1 and defined_in[0].startswith("edge_worker/contracts/"), (name, defined_in)


def test_it_leaves_no_second_import_path_for_the_messages() -> None:
    # The modules the messages lived in before the contracts are gone, so no code can keep a copy alive there.
    for old in ("edge_worker/messages.py", "edge_worker/cobot.py", "edge_worker/profiling_tasks.py"):
        assert not (ROOT / old).exists(), old


def test_it_defines_the_messages_with_the_standard_library_alone() -> None:
    code = (
        "import sys, edge_worker.contracts\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names"
        " and m.split('.')[0] not in ('edge_worker', '__main__', '_distutils_hack'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


def test_it_reports_a_capture_without_a_part_type_as_such_before_anything_else() -> None:
    error = refused(Capture, {"schema": 1, "capture_id": str(uuid.uuid4()), "serial": "CF-80-0001"})
    assert (error.field, error.problem) == ("part_type", "missing")
