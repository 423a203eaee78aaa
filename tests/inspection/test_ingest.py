"""Ingest: a result is stored once, with its image once under its content hash; anything that cannot be stored
is kept in a dead letter with the reason; late results never move a part backwards."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from edge_worker.contracts.queues import INGEST_TELEMETRY_TASK
from inspection.actions.ingest import (
    PayloadRefused,
    record_inspection_result,
    record_telemetry,
)
from inspection.choices import DeadLetterReason, DeviceHealth
from inspection.models import (
    DeadLetter,
    DefectFinding,
    EdgeDevice,
    ImageBlob,
    Inspection,
    Measurement,
    TelemetrySample,
)
from inspection.selectors import device_health
from inspection.tasks import ingest_result
from tests.support import factories
from tests.support import ingest_builders as builders
from traceability.choices import FoundBy, PartStatus
from traceability.models import AuditRecord, FailureCase, Part


def refused(payload: Any) -> DeadLetter:
    with pytest.raises(PayloadRefused) as raised:
        record_inspection_result(payload)
    letter = raised.value.dead_letter
    assert DeadLetter.objects.filter(pk=letter.pk).exists()
    return letter


def test_it_stores_a_passing_result_with_everything_the_edge_reported(edge: dict[str, Any], media: Path) -> None:
    data = builders.payload(serial=edge["part"].serial)
    inspection, created = record_inspection_result(data)
    assert created
    inspection.refresh_from_db()
    assert (inspection.verdict, inspection.station.code, inspection.device, inspection.part) == (
        "pass",
        "visual",
        edge["device"],
        edge["part"],
    )
    assert (inspection.backend, inspection.precision, inspection.model_version) == ("onnxruntime", "fp32", "dc-1.0")
    assert (inspection.latency_ms, inspection.avg_power_mw, inspection.energy_mj) == (42.5, 2150.0, 91.375)
    assert not inspection.needs_review and inspection.failure_case is None
    assert list(inspection.measurements.values_list("name", "value", "passed")) == [("bore_diameter", 30.02, True)]
    blob = inspection.image
    assert blob.sha256 == data["image_sha256"]
    assert (media / blob.file.name).read_bytes() == builders.png()
    assert (blob.width, blob.height) == (16, 16)
    assert AuditRecord.objects.filter(action="inspection.record", subject_key=data["result_id"]).count() == 1
    edge["device"].refresh_from_db()
    assert edge["device"].last_heartbeat_at is not None and edge["device"].backend == "onnxruntime"


def test_it_stores_a_result_once_however_often_it_is_delivered(edge: dict[str, Any]) -> None:
    data = builders.payload(serial=edge["part"].serial, verdict="fail", defect_class="scratch", defect_confidence=0.97)
    first, created = record_inspection_result(data)
    # The device re-inspected a redelivered capture: the same result again, timed anew and signed anew.
    again, created_again = record_inspection_result(
        builders.signed(dict(data, latency_ms=51.0, sent_at=timezone.now().isoformat()))
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert Inspection.objects.count() == 1 and Measurement.objects.count() == 1 and DefectFinding.objects.count() == 1
    assert FailureCase.objects.count() == 1
    assert AuditRecord.objects.filter(action="inspection.record").count() == 1
    assert DeadLetter.objects.count() == 0


def test_it_stores_an_image_once_for_many_inspections(edge: dict[str, Any], media: Path) -> None:
    for _ in range(3):
        record_inspection_result(builders.payload(serial=edge["part"].serial, image=builders.png(seed=7)))
    assert Inspection.objects.count() == 3
    assert ImageBlob.objects.count() == 1
    assert len([p for p in media.rglob("*.png")]) == 1


def test_it_refuses_a_duplicate_id_with_different_content_as_a_conflict(edge: dict[str, Any]) -> None:
    result_id = uuid.uuid4()
    record_inspection_result(builders.payload(serial=edge["part"].serial, result_id=result_id))
    letter = refused(
        builders.payload(
            serial=edge["part"].serial, result_id=result_id, verdict="fail", defect_class="dent", defect_confidence=0.9
        )
    )
    assert letter.reason == DeadLetterReason.CONFLICT
    assert "verdict: stored 'pass', received 'fail'" in letter.detail
    assert Inspection.objects.get().verdict == "pass"


def test_it_opens_a_failure_case_and_fails_the_part(edge: dict[str, Any]) -> None:
    data = builders.payload(serial=edge["part"].serial, verdict="fail", defect_class="scratch", defect_confidence=0.97)
    inspection, _ = record_inspection_result(data)
    case = inspection.failure_case
    assert case is not None
    assert (case.defect_code.code, case.found_by, case.station.code) == ("scratch", FoundBy.MACHINE, "visual")
    assert inspection.needs_review
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.FAILED
    assert list(DefectFinding.objects.values_list("defect_class", "bbox")) == [("scratch", [10, 10, 100, 100])]


def test_it_maps_a_dimensional_failure_to_dimension_out_of_tolerance(edge: dict[str, Any]) -> None:
    data = builders.payload(serial=edge["part"].serial, station="dimensional", verdict="fail", measurements_pass=False)
    inspection, _ = record_inspection_result(data)
    assert inspection.failure_case.defect_code.code == "dimension_out_of_tolerance"


def test_it_flags_a_low_confidence_pass_for_review_and_holds_the_part(edge: dict[str, Any], cell: Any) -> None:
    threshold = settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD
    other = builders.make_edge_part(cell)
    sure, _ = record_inspection_result(builders.payload(serial=other.serial, defect_confidence=threshold + 0.01))
    low, _ = record_inspection_result(builders.payload(serial=edge["part"].serial, defect_confidence=threshold - 0.01))
    assert (low.needs_review, sure.needs_review) == (True, False)
    assert Part.objects.get(pk=other.pk).status == PartStatus.IN_PROCESS
    # The machine is unsure: the part waits for Debug Mode instead of leaving the cell unreviewed.
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.ON_HOLD


def test_it_does_not_let_an_older_result_change_the_part(edge: dict[str, Any]) -> None:
    serial = edge["part"].serial
    newer, _ = record_inspection_result(
        builders.payload(serial=serial, captured_at=builders.T0 + dt.timedelta(seconds=30))
    )
    older, created = record_inspection_result(
        builders.payload(
            serial=serial, captured_at=builders.T0, verdict="fail", defect_class="dent", defect_confidence=0.95
        )
    )
    assert created
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.IN_PROCESS
    assert older.failure_case is None and older.needs_review
    assert FailureCase.objects.count() == 0
    audit = AuditRecord.objects.get(action="inspection.record", subject_key=str(older.result_id))
    assert "arrived after a newer result" in audit.payload


def test_it_fails_the_part_on_a_late_fail_from_an_earlier_station_after_a_pass_elsewhere(edge: dict[str, Any]) -> None:
    # Staleness is per station: the dimensional pass (captured later) says nothing about the crack the visual
    # station saw first; its result merely arrived late.
    serial = edge["part"].serial
    record_inspection_result(
        builders.payload(serial=serial, station="dimensional", captured_at=builders.T0 + dt.timedelta(seconds=15))
    )
    late_fail, created = record_inspection_result(
        builders.payload(
            serial=serial,
            station="visual",
            captured_at=builders.T0,
            verdict="fail",
            defect_class="crack",
            defect_confidence=0.99,
        )
    )
    assert created
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.FAILED
    case = FailureCase.objects.get()
    assert late_fail.failure_case == case
    assert (case.part_id, case.defect_code.code, case.station.code) == (edge["part"].pk, "crack", "visual")


def test_it_does_not_let_an_older_pass_undo_a_newer_fail_at_the_same_station(edge: dict[str, Any]) -> None:
    serial = edge["part"].serial
    record_inspection_result(
        builders.payload(
            serial=serial,
            captured_at=builders.T0 + dt.timedelta(seconds=30),
            verdict="fail",
            defect_class="dent",
            defect_confidence=0.95,
        )
    )
    older_pass, _ = record_inspection_result(builders.payload(serial=serial, captured_at=builders.T0))
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.FAILED
    assert FailureCase.objects.count() == 1
    assert older_pass.needs_review and older_pass.failure_case is None


def test_it_never_moves_a_shipped_part(edge: dict[str, Any]) -> None:
    part = factories.make_part(factories.make_batch(cell=edge["cell"]), status=PartStatus.PASSED)
    Part.objects.filter(pk=part.pk).update(status=PartStatus.SHIPPED)
    record_inspection_result(
        builders.payload(serial=part.serial, verdict="fail", defect_class="crack", defect_confidence=0.9)
    )
    assert Part.objects.get(pk=part.pk).status == PartStatus.SHIPPED


def test_it_dead_letters_a_payload_with_a_missing_field(edge: dict[str, Any]) -> None:
    data = builders.body(serial=edge["part"].serial)
    del data["captured_at"]
    letter = refused(builders.signed(data))
    assert letter.reason == DeadLetterReason.MALFORMED
    assert letter.detail == "malformed inspection result: captured_at: missing"
    assert letter.payload["result_id"] == data["result_id"]
    assert Inspection.objects.count() == 0


def test_it_dead_letters_a_payload_with_a_wrong_type(edge: dict[str, Any]) -> None:
    letter = refused(builders.signed(dict(builders.body(serial=edge["part"].serial), latency_ms="fast")))
    assert (letter.reason, letter.detail) == (
        DeadLetterReason.MALFORMED,
        "malformed inspection result: latency_ms: expected a number, got str",
    )


def test_it_dead_letters_an_image_that_is_not_a_png(edge: dict[str, Any]) -> None:
    garbage = b"GIF89a not a png"
    data = dict(
        builders.body(serial=edge["part"].serial),
        image_png_b64=__import__("base64").b64encode(garbage).decode(),
        image_sha256=hashlib.sha256(garbage).hexdigest(),
    )
    assert refused(builders.signed(data)).detail.endswith("not a PNG image")


def test_it_dead_letters_an_unknown_device(edge: dict[str, Any]) -> None:
    letter = refused(builders.payload(serial=edge["part"].serial, device_id="jetson-rogue"))
    assert (letter.reason, letter.detail) == (
        DeadLetterReason.UNAUTHENTICATED,
        "unknown device: no edge device 'jetson-rogue' is registered",
    )


def test_it_dead_letters_an_unknown_serial(edge: dict[str, Any]) -> None:
    letter = refused(builders.payload(serial="SN-NOBODY"))
    assert (letter.reason, letter.detail) == (DeadLetterReason.UNKNOWN_PART, "no part with serial 'SN-NOBODY'")


def test_it_dead_letters_an_unknown_station(edge: dict[str, Any]) -> None:
    letter = refused(builders.payload(serial=edge["part"].serial, station="paint-shop"))
    assert letter.reason == DeadLetterReason.UNKNOWN_STATION and "'paint-shop'" in letter.detail


def test_it_dead_letters_an_oversized_image_and_keeps_the_payload_without_it(edge: dict[str, Any]) -> None:
    big = builders.png(seed=3, size=256)
    with override_settings(TWINWEB_MAX_IMAGE_BYTES=len(big) - 1):
        letter = refused(builders.payload(serial=edge["part"].serial, image=big))
    assert letter.reason == DeadLetterReason.OVERSIZED
    assert f"image of {len(big)} bytes exceeds TWINWEB_MAX_IMAGE_BYTES={len(big) - 1}" == letter.detail
    assert letter.payload_bytes > len(big)
    assert ImageBlob.objects.count() == 0


def test_it_keeps_a_refused_payload_that_is_not_even_an_object(db: Any) -> None:
    letter = refused("just a string")
    assert (letter.reason, letter.detail) == (DeadLetterReason.UNAUTHENTICATED, "unsigned")
    assert letter.payload == {"value": "just a string"}


def test_it_refuses_through_the_task_without_raising(edge: dict[str, Any]) -> None:
    outcome = ingest_result.run({"hello": "world"})
    assert outcome["refused"] == DeadLetterReason.UNAUTHENTICATED
    assert DeadLetter.objects.get(pk=outcome["dead_letter"]).source == "inspection.tasks.ingest_result"


def test_it_records_telemetry_as_a_heartbeat_with_bounded_history(edge: dict[str, Any]) -> None:
    device = edge["device"]
    with override_settings(TWINWEB_TELEMETRY_HISTORY=3):
        for n in range(5):
            record_telemetry(builders.telemetry(at=builders.T0 + dt.timedelta(seconds=5 * n)))
    device.refresh_from_db()
    assert TelemetrySample.objects.filter(device=device).count() == 3
    assert min(TelemetrySample.objects.values_list("at", flat=True)) == builders.T0 + dt.timedelta(seconds=10)
    assert (device.hardware, device.backend, device.precision) == ("NVIDIA Jetson Nano", "tensorrt", "fp16")
    assert device.last_telemetry["power_mw"] == 2100.0
    assert device_health(device, device.last_heartbeat_at + dt.timedelta(seconds=1)) == DeviceHealth.ONLINE


def test_it_dead_letters_telemetry_from_an_unknown_device(db: Any) -> None:
    with pytest.raises(PayloadRefused):
        record_telemetry(builders.telemetry(device_id="jetson-rogue"))
    letter = DeadLetter.objects.get()
    assert (letter.reason, letter.detail) == (
        DeadLetterReason.UNAUTHENTICATED,
        "unknown device: no edge device 'jetson-rogue' is registered",
    )


@pytest.mark.parametrize(
    ("change", "reason", "detail"),
    [
        (lambda d: d.pop("at"), DeadLetterReason.MALFORMED, "malformed telemetry: at: missing"),
        (lambda d: d.pop("device_id"), DeadLetterReason.MALFORMED, "malformed telemetry: device_id: missing"),
        (
            lambda d: d.update(fps="fast"),
            DeadLetterReason.MALFORMED,
            "malformed telemetry: fps: expected a number, got str",
        ),
        (
            lambda d: d.update(power_mw=-5),
            DeadLetterReason.MALFORMED,
            "malformed telemetry: power_mw: must be >= 0.0, got -5.0",
        ),
        (
            lambda d: d.update(memory=[1500]),
            DeadLetterReason.MALFORMED,
            "malformed telemetry: memory: expected an object, got list",
        ),
        (
            lambda d: d["temperature"].update(gpu="hot"),
            DeadLetterReason.MALFORMED,
            "malformed telemetry: temperature.gpu: expected a number, got str",
        ),
        (
            lambda d: d.update(at=1772352000),
            DeadLetterReason.MALFORMED,
            "malformed telemetry: at: expected an ISO 8601 timestamp, got int",
        ),
        (
            lambda d: d.update(device_id="jetson-rogue"),
            DeadLetterReason.UNAUTHENTICATED,
            "device mismatch: signed by 'jetson-test-01' but sent as 'jetson-rogue'",
        ),
        # Numbers no float holds, or that are no number at all, are refused where they enter (they used to fail
        # the task later, with no dead letter).
        (
            lambda d: d.update(fps=10**400),
            DeadLetterReason.MALFORMED,
            "malformed telemetry: fps: must be <= 1000000.0, got an integer of 401 digits",
        ),
        (
            lambda d: d.update(power_mw=float("nan")),
            DeadLetterReason.MALFORMED,
            "malformed telemetry: power_mw: must be finite, got nan",
        ),
    ],
    ids=[
        "missing-at",
        "missing-device",
        "fps-str",
        "negative-power",
        "memory-list",
        "temperature-str",
        "at-int",
        "unknown-device",
        "fps-beyond-float",
        "power-nan",
    ],
)
def test_it_dead_letters_malformed_telemetry_with_the_reason(
    edge: dict[str, Any], change: Any, reason: str, detail: str
) -> None:
    from inspection.tasks import ingest_telemetry

    data = builders.telemetry_body()
    change(data)
    data = builders.signed(data, INGEST_TELEMETRY_TASK, device_id=builders.DEVICE_ID)  # the device sent it so
    outcome = ingest_telemetry.run(data)
    letter = DeadLetter.objects.get(pk=outcome["dead_letter"])
    assert (letter.source, letter.reason, letter.detail) == ("inspection.tasks.ingest_telemetry", reason, detail)
    if "truncated" in letter.payload:  # not valid JSON (NaN, a number no float holds): kept as its text
        assert letter.payload["truncated"].startswith('{"schema": 1, "device_id": "jetson-test-01"')
    else:
        assert letter.payload == data
    assert TelemetrySample.objects.count() == 0
    device = EdgeDevice.objects.get(pk=edge["device"].pk)
    assert device.last_heartbeat_at is None, "a refused message is no heartbeat"


def test_it_dead_letters_telemetry_that_is_not_even_an_object(db: Any) -> None:
    with pytest.raises(PayloadRefused) as raised:
        record_telemetry(["fps", 0.2])
    letter = raised.value.dead_letter
    assert (letter.reason, letter.detail) == (DeadLetterReason.UNAUTHENTICATED, "unsigned")
    assert letter.payload == {"value": ["fps", 0.2]}


@override_settings(TWINWEB_HEARTBEAT_STALE_S=15.0, TWINWEB_HEARTBEAT_OFFLINE_S=60.0)
def test_it_calls_a_silent_device_stale_then_offline() -> None:
    device = EdgeDevice(device_id="d")
    now = builders.T0
    assert device_health(device, now) == DeviceHealth.NEVER_SEEN
    device.last_heartbeat_at = now
    assert device_health(device, now + dt.timedelta(seconds=15)) == DeviceHealth.ONLINE
    assert device_health(device, now + dt.timedelta(seconds=16)) == DeviceHealth.STALE
    assert device_health(device, now + dt.timedelta(seconds=60)) == DeviceHealth.STALE
    assert device_health(device, now + dt.timedelta(seconds=61)) == DeviceHealth.OFFLINE


def test_it_stores_a_batch_as_if_one_by_one_in_arrival_order(edge: dict[str, Any]) -> None:
    from inspection.actions.ingest import record_inspection_results

    serial = edge["part"].serial
    newer = builders.payload(serial=serial, captured_at=builders.T0 + dt.timedelta(seconds=30))
    older_fail = builders.payload(
        serial=serial, captured_at=builders.T0, verdict="fail", defect_class="dent", defect_confidence=0.95
    )
    bad = builders.signed(dict(builders.body(serial=serial), verdict="maybe"))
    conflicting = builders.signed(dict(newer, verdict="fail", defect_class="dent"))
    outcomes = record_inspection_results([newer, older_fail, bad, newer, conflicting])
    assert [(o.created, o.refused.reason if o.refused else None) for o in outcomes] == [
        (True, None),
        (True, None),
        (False, DeadLetterReason.MALFORMED),
        (False, None),
        (False, DeadLetterReason.CONFLICT),
    ]
    assert outcomes[3].inspection.pk == outcomes[0].inspection.pk
    assert Inspection.objects.count() == 2
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.IN_PROCESS  # the older fail came second
    assert FailureCase.objects.count() == 0
    assert AuditRecord.objects.filter(action="inspection.record").count() == 2


def test_it_publishes_the_recorded_event_after_commit(
    edge: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from twinweb.live import cell_group

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(cell_group(edge["cell"].pk), channel)
    data = builders.payload(serial=edge["part"].serial, verdict="fail", defect_class="dent", defect_confidence=0.93)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        inspection, _ = record_inspection_result(data)
    events = []
    for callback in callbacks:  # nothing is sent before the commit
        callback()

    async def receive() -> dict[str, Any]:
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    while True:
        message = async_to_sync(receive)()
        events.append(message["event"])
        if message["event"]["type"] == "inspection.recorded":
            break
    event = events[-1]
    assert isinstance(message["seq"], int)
    assert set(event) == {
        "type",
        "result_id",
        "serial",
        "station",
        "verdict",
        "defect_class",
        "defect_confidence",
        "needs_review",
        "latency_ms",
        "avg_power_mw",
        "energy_mj",
        "model_version",
        "backend",
        "precision",
        "captured_at",
        "sent_at",
        "committed_at",
        "image_url",
    }
    assert (event["result_id"], event["verdict"], event["defect_class"], event["image_url"]) == (
        data["result_id"],
        "fail",
        "dent",
        f"/images/{data['image_sha256']}.png",
    )
    assert event["sent_at"] == data["sent_at"] and event["committed_at"] is not None
    assert event["energy_mj"] == 91.375 and event["backend"] == "onnxruntime"
    assert {"part.status"} <= {e["type"] for e in events}


def test_it_keeps_a_payload_it_could_not_store_instead_of_losing_it(
    edge: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import inspection.tasks as tasks

    def broken(payloads: Any, **_: Any) -> Any:
        raise ValueError("a bug")

    monkeypatch.setattr(tasks, "record_inspection_results", broken)
    outcome = ingest_result.run(builders.payload(serial=edge["part"].serial))
    letter = DeadLetter.objects.get(pk=outcome["dead_letter"])
    assert letter.detail == "could not be stored (ValueError: a bug)"
    assert letter.payload["serial"] == edge["part"].serial


def test_it_stores_the_rest_of_a_group_commit_when_one_payload_breaks_it(
    transactional_db: Any, edge: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The committer is its own thread with its own connection: the test data must be committed.
    import inspection.tasks as tasks

    good = [builders.payload(serial=edge["part"].serial) for _ in range(3)]
    poison = builders.payload(serial=edge["part"].serial)
    real = tasks.record_inspection_results

    def fragile(payloads: Any, **kwargs: Any) -> Any:
        if any(p is poison for p in payloads):
            raise ValueError("poison")
        return real(payloads, **kwargs)

    monkeypatch.setattr(tasks, "record_inspection_results", fragile)
    committer = tasks.GroupCommitter(max_batch=8, max_wait_s=0.2)
    import threading

    results: dict[int, Any] = {}

    def submit(n: int, payload: Any) -> None:
        try:
            results[n] = committer.submit(payload)
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=submit, args=(n, p)) for n, p in enumerate([*good, poison])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    committer.close()
    assert isinstance(results[3], ValueError)
    assert all(results[n].created for n in range(3))


def test_it_dead_letters_a_result_whose_strings_exceed_their_bounds(edge: dict[str, Any]) -> None:
    # A 5,000-character defect class used to reach the database and fail there (PostgreSQL: value too long).
    data = builders.body(serial=edge["part"].serial, verdict="fail", defect_class="scratch")
    data["defect_class"] = "x" * 5000
    letter = refused(builders.signed(data))
    assert (letter.reason, letter.detail) == (
        DeadLetterReason.MALFORMED,
        "malformed inspection result: defect_class: longer than 40 characters",
    )
    assert not Inspection.objects.exists()


def test_it_stores_an_error_result_whose_camera_gave_no_image_with_the_reason(
    edge: dict[str, Any], media: Path
) -> None:
    body = builders.body(serial=edge["part"].serial, verdict="error")
    body.update(
        image_png_b64="",
        image_sha256="",
        measurements=[],
        reason="no image from the camera: no image arrived in /srv/cameras/visual within 10 s",
    )
    inspection, created = record_inspection_result(builders.signed(body))
    assert created
    inspection.refresh_from_db()
    assert (inspection.verdict, inspection.image) == ("error", None)
    assert inspection.reason.startswith("no image from the camera")
    assert inspection.needs_review
    assert not list(media.rglob("*.png"))


def test_it_dead_letters_a_pass_that_comes_without_its_image(edge: dict[str, Any]) -> None:
    body = builders.body(serial=edge["part"].serial)
    body.update(image_png_b64="", image_sha256="")
    letter = refused(builders.signed(body))
    assert letter.reason == DeadLetterReason.MALFORMED
    assert "image_png_b64: must not be empty for a 'pass' verdict" in letter.detail
    assert not Inspection.objects.exists()
