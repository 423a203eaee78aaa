"""Several results in one message (a device with a backlog): each is authenticated and stored exactly as if it came
alone, a bad one is kept in a dead letter without costing the others, and redelivery stores nothing twice."""

from __future__ import annotations

from typing import Any

import pytest

import inspection.tasks as tasks
from inspection.choices import DeadLetterReason
from inspection.models import DeadLetter, Inspection
from inspection.tasks import ingest_results
from tests.support import ingest_builders as builders
from traceability.choices import PartStatus
from traceability.models import AuditRecord, Part


def test_it_stores_every_result_of_a_batch_once_with_its_audit_record(edge: dict[str, Any]) -> None:
    serial = edge["part"].serial
    batch = [builders.payload(serial=serial, station=station) for station in ("visual", "dimensional")]
    assert ingest_results.run(batch) == {"stored": 2, "duplicates": 0, "refused": 0}
    assert {str(r) for r in Inspection.objects.values_list("result_id", flat=True)} == {p["result_id"] for p in batch}
    assert AuditRecord.objects.filter(action="inspection.record").count() == 2


def test_a_redelivered_batch_stores_nothing_twice(edge: dict[str, Any]) -> None:
    batch = [builders.payload(serial=edge["part"].serial) for _ in range(3)]
    ingest_results.run(batch)
    # acks_late: the worker died after the commit and before acknowledging the message; it comes again
    assert ingest_results.run(batch) == {"stored": 0, "duplicates": 3, "refused": 0}
    assert Inspection.objects.count() == 3


def test_a_forged_or_malformed_result_is_dead_lettered_and_the_others_stored(edge: dict[str, Any]) -> None:
    serial = edge["part"].serial
    good = builders.payload(serial=serial)
    forged = dict(builders.payload(serial=serial), verdict="fail")  # changed after signing
    malformed = builders.signed(dict(builders.body(serial=serial), verdict="maybe"))
    failing = builders.payload(serial=serial, verdict="fail", defect_class="dent", defect_confidence=0.95)
    assert ingest_results.run([good, forged, malformed, failing]) == {"stored": 2, "duplicates": 0, "refused": 2}
    reasons = sorted(DeadLetter.objects.values_list("reason", flat=True))
    assert reasons == sorted([DeadLetterReason.UNAUTHENTICATED, DeadLetterReason.MALFORMED])
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.FAILED  # the failing result counted


@pytest.mark.parametrize("envelope", [{"result_id": "x"}, [], "results", None])
def test_an_envelope_that_is_not_a_list_of_results_is_kept_as_a_dead_letter(db: Any, envelope: Any) -> None:
    outcome = ingest_results.run(envelope)
    letter = DeadLetter.objects.get(pk=outcome["dead_letter"])
    assert letter.reason == DeadLetterReason.MALFORMED
    assert "takes a non-empty list of result messages" in letter.detail
    assert letter.payload == (envelope if isinstance(envelope, dict) else {"value": envelope})  # kept as sent


def test_a_batch_larger_than_one_transaction_is_stored_in_several(
    edge: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "RESULTS_PER_TRANSACTION", 2)
    stored_in: list[int] = []
    real = tasks.record_inspection_results

    def counting(payloads: Any, **kwargs: Any) -> Any:
        stored_in.append(len(payloads))
        return real(payloads, **kwargs)

    monkeypatch.setattr(tasks, "record_inspection_results", counting)
    batch = [builders.payload(serial=edge["part"].serial) for _ in range(5)]
    assert ingest_results.run(batch)["stored"] == 5
    assert stored_in == [2, 2, 1]


def test_a_payload_that_breaks_its_transaction_costs_only_itself(
    edge: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [builders.payload(serial=edge["part"].serial) for _ in range(3)]
    poison = builders.payload(serial=edge["part"].serial)
    real = tasks.record_inspection_results

    def fragile(payloads: Any, **kwargs: Any) -> Any:
        if any(p is poison for p in payloads):
            raise ValueError("poison")
        return real(payloads, **kwargs)

    monkeypatch.setattr(tasks, "record_inspection_results", fragile)
    assert ingest_results.run([good[0], poison, *good[1:]]) == {"stored": 3, "duplicates": 0, "refused": 1}
    letter = DeadLetter.objects.get()
    assert letter.detail == "could not be stored (ValueError: poison)"
    assert letter.payload["result_id"] == poison["result_id"]
