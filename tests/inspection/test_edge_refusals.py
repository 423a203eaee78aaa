"""A capture the edge device cannot use is not lost on the device: the edge task sends it back to the ingest queue
as a refusal (the payload, its image left out when huge, and the reason), and the server keeps it in a dead
letter, once however often the capture or the refusal is delivered. Both sides meet only through the message
schema and task names, as on the plant network; the broker is replaced by a recorder."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from edge_worker.contracts.inspection import Capture, encode_image, utc_now
from edge_worker.contracts.queues import INGEST_QUEUE, INGEST_REFUSAL_TASK
from edge_worker.tasks import inspect_capture
from edge_worker.vision.parts import DEMO_PART_TYPES
from inspection.choices import DeadLetterReason
from inspection.models import DeadLetter, Inspection
from inspection.tasks import ingest_refusal
from tests.support import ingest_builders as builders
from traceability.models import AuditRecord


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch, cell: Any) -> list[tuple[str, Any, str]]:
    """What the edge task publishes, as it would cross the wire (JSON), from a registered device with its secret."""
    sent: list[tuple[str, Any, str]] = []

    def send_task(name: str, args: list[Any], queue: str, **_: Any) -> None:
        sent.append((name, json.loads(json.dumps(args[0])), queue))

    monkeypatch.setattr(inspect_capture.app, "send_task", send_task)
    builders.make_device(cell)
    builders.as_device(monkeypatch)
    return sent


def capture(image: bytes | None = None) -> dict[str, Any]:
    return Capture(
        capture_id=uuid.uuid4(),
        serial="CF-80-0001",
        station="visual",
        cell="ac-cell-1",
        part_type=DEMO_PART_TYPES["CF-80"].to_dict(),
        image_png_b64=encode_image(image or builders.png()),
        captured_at=utc_now(),
        device_id=builders.DEVICE_ID,
    ).to_dict()


def deliver(sent: list[tuple[str, Any, str]]) -> list[dict[str, Any]]:
    """The ingest worker's side: run each refusal the edge published."""
    assert {(name, queue) for name, _, queue in sent} == {(INGEST_REFUSAL_TASK, INGEST_QUEUE)}
    return [ingest_refusal.run(payload) for _, payload, _ in sent]


def test_it_keeps_a_malformed_capture_the_edge_refused_in_a_dead_letter(db: Any, broker: list[Any]) -> None:
    data = capture()
    del data["capture_id"]
    outcome = inspect_capture.run(data)
    assert outcome["refused"] == "capture_id: missing"

    [stored] = deliver(broker)
    letter = DeadLetter.objects.get(pk=stored["dead_letter"])
    assert (letter.source, letter.reason) == ("edge_worker.tasks.inspect_capture", DeadLetterReason.MALFORMED)
    assert letter.detail.startswith(
        f"malformed capture: capture_id: missing (refused by edge device '{builders.DEVICE_ID}'"
    )
    assert letter.detail.endswith(f"(refusal {outcome['refusal_id']})")
    assert letter.payload == data  # small: kept whole
    assert letter.payload_bytes == len(json.dumps(data).encode())
    assert AuditRecord.objects.filter(action="dead_letter.store", subject_key=str(letter.pk)).exists()
    assert Inspection.objects.count() == 0


def test_it_keeps_a_huge_refused_capture_without_its_image(db: Any, broker: list[Any]) -> None:
    data = capture(image=builders.png(seed=5, size=400))  # ~160 kB of PNG, ~210 kB of base64
    data["captured_at"] = "yesterday"
    image_chars = len(data["image_png_b64"])
    assert image_chars > 128 * 1024
    inspect_capture.run(data)

    [(_, message, _)] = broker
    assert len(json.dumps(message)) < 70 * 1024, "the refusal does not carry the image over the network"
    deliver(broker)
    letter = DeadLetter.objects.get()
    assert letter.detail.startswith("malformed capture: captured_at: not an ISO 8601 timestamp: 'yesterday'")
    assert letter.payload["image_png_b64"].startswith(f"<{image_chars} characters omitted; sha256 ")
    assert letter.payload["serial"] == "CF-80-0001"
    assert letter.payload_bytes == len(json.dumps(data).encode()), "the size of what was refused, not of what was kept"


def test_it_keeps_a_refusal_once_however_often_it_is_delivered(db: Any, broker: list[Any]) -> None:
    data = dict(capture(), part_type="CF-80")
    inspect_capture.run(data)
    inspect_capture.run(data)  # the capture redelivered (the worker died before acknowledging it)
    broker.append(broker[-1])  # and a refusal delivered twice
    outcomes = deliver(broker)
    assert [o["created"] for o in outcomes] == [True, False, False]
    assert DeadLetter.objects.count() == 1
    assert DeadLetter.objects.get().detail.startswith("malformed capture: part_type: expected an object, got str")


def test_it_keeps_a_refusal_that_is_itself_malformed(cell: Any) -> None:
    builders.make_device(cell)
    outcome = ingest_refusal.run(
        builders.signed({"device_id": builders.DEVICE_ID, "payload": {"serial": "X"}}, INGEST_REFUSAL_TASK)
    )
    letter = DeadLetter.objects.get(pk=outcome["dead_letter"])
    assert (letter.source, letter.reason, letter.detail) == (
        "inspection.tasks.ingest_refusal",
        DeadLetterReason.MALFORMED,
        "malformed refusal: refusal_id: missing",
    )
    assert letter.payload["payload"] == {"serial": "X"}
