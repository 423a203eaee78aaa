"""The message schema both sides import: round trips, and strict refusals that name the field. (Every bound of
every message: tests/edge_worker/test_contracts.py.)"""

from __future__ import annotations

import copy
import uuid

import pytest

from edge_worker.contracts import (
    Capture,
    InspectionResult,
    MessageError,
    Refusal,
    Telemetry,
    encode_image,
    image_b64_size,
    utc_now,
)
from edge_worker.vision.parts import DEMO_PART_TYPES
from tests.support import ingest_builders as builders


def test_it_round_trips_a_result_exactly() -> None:
    data = builders.body(serial="SN-1")
    assert InspectionResult.from_dict(data).to_dict() == data


def test_it_round_trips_a_capture_and_telemetry() -> None:
    capture = Capture(
        uuid.uuid4(),
        "SN-1",
        "visual",
        "ac-cell-1",
        DEMO_PART_TYPES["CF-80"].to_dict(),
        encode_image(builders.png()),
        utc_now(),
        "jetson-demo-01",
    )
    assert Capture.from_dict(capture.to_dict()) == capture
    data = builders.telemetry_body()
    assert Telemetry.from_dict(data).to_dict() == data


def test_it_round_trips_a_refusal_whose_id_follows_the_device_and_payload() -> None:
    refusal = Refusal.of(
        {"serial": "SN-1"},
        device_id="jetson-demo-01",
        task="edge_worker.tasks.inspect_capture",
        reason="malformed capture: capture_id: missing",
    )
    assert Refusal.from_dict(refusal.to_dict()) == refusal
    again = Refusal.of(
        {"serial": "SN-1"}, device_id="jetson-demo-01", task="edge_worker.tasks.inspect_capture", reason="x"
    )
    other = Refusal.of(
        {"serial": "SN-2"}, device_id="jetson-demo-01", task="edge_worker.tasks.inspect_capture", reason="x"
    )
    assert again.refusal_id == refusal.refusal_id != other.refusal_id


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (lambda d: d.pop("serial"), "serial", "missing"),
        (lambda d: d.update(result_id="not-a-uuid"), "result_id", "not a UUID"),
        (lambda d: d.update(latency_ms="12"), "latency_ms", "expected a number, got str"),
        (lambda d: d.update(latency_ms=True), "latency_ms", "expected a number, got bool"),
        (lambda d: d.update(verdict="maybe"), "verdict", "must be one of"),
        (lambda d: d.update(captured_at="2026-03-01T08:00:00"), "captured_at", "no time zone"),
        (lambda d: d.update(defect_confidence=1.5), "defect_confidence", "must be <= 1.0"),
        (lambda d: d["measurements"][0].update(passed="yes"), "measurements[0].passed", "true or false"),
        (lambda d: d["model"].pop("backend"), "model.backend", "missing"),
        (lambda d: d.update(power={"avg_power_mw": None, "energy_mj": None, "note": ""}), "power.note", "no reason"),
        (lambda d: d.update(image_sha256="XYZ"), "image_sha256", "64 lowercase hex"),
        (
            lambda d: d.update(findings=[{"kind": "defect", "name": "dent", "bbox": [1, 2]}]),
            "findings[0].bbox",
            "[x, y, w, h]",
        ),
        (lambda d: d.update(schema=2), "schema", "unsupported schema version"),
    ],
)
def test_it_refuses_a_malformed_result_naming_the_field(change, field: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(builders.body(serial="SN-1"))
    change(data)
    with pytest.raises(MessageError) as refused:
        InspectionResult.from_dict(data)
    assert refused.value.field == field
    assert problem in str(refused.value)


def test_it_refuses_something_that_is_not_an_object() -> None:
    with pytest.raises(MessageError, match="must be a JSON object, got list"):
        InspectionResult.from_dict([1, 2, 3])


def test_it_checks_the_image_against_its_hash() -> None:
    data = builders.body(serial="SN-1")
    data["image_png_b64"] = encode_image(builders.png(seed=99))
    with pytest.raises(MessageError, match="image_sha256: does not match"):
        InspectionResult.from_dict(data).verify_image()


def test_it_knows_an_image_size_without_decoding_it() -> None:
    for n in (0, 1, 2, 3, 1000, 1001, 1002):
        assert image_b64_size(encode_image(b"x" * n)) == n


def test_it_refuses_telemetry_with_a_zero_for_unknown() -> None:
    with pytest.raises(MessageError, match="fps: expected a number, got str"):
        Telemetry.from_dict(builders.telemetry_body(fps="n/a"))
    assert Telemetry.from_dict(builders.telemetry_body(power_mw=None)).power_mw is None
