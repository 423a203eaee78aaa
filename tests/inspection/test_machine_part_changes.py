"""What a batch of results decides about its parts: one failure case per failed part however many stations fail it,
a held part's new status waiting for the containment's release, and an audit chain that still verifies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from inspection.actions.ingest import record_inspection_results
from inspection.models import Inspection
from tests.support import factories
from tests.support import ingest_builders as builders
from traceability import actions
from traceability.audit import verify_chain
from traceability.choices import PartStatus
from traceability.models import AuditRecord, FailureCase, Part


def failing(serial: str, station: str = "visual") -> dict[str, Any]:
    return builders.payload(serial=serial, station=station, verdict="fail", defect_class="dent", defect_confidence=0.95)


def test_two_stations_failing_a_part_in_one_batch_open_one_case(edge: dict[str, Any]) -> None:
    serial = edge["part"].serial
    outcomes = record_inspection_results([failing(serial, "visual"), failing(serial, "dimensional")])
    assert all(o.created for o in outcomes)
    [case] = FailureCase.objects.filter(part=edge["part"])
    assert Part.objects.get(pk=edge["part"].pk).status == PartStatus.FAILED
    first, second = (Inspection.objects.get(result_id=o.inspection.result_id) for o in outcomes)
    assert first.failure_case_id == case.pk and second.failure_case_id is None
    assert "part already failed" not in first.reason and second.needs_review
    assert AuditRecord.objects.filter(action="failure_case.open", subject_key=str(case.pk)).count() == 1
    assert AuditRecord.objects.filter(action="part.status", subject_key=serial).count() == 1
    inspection_audit = AuditRecord.objects.get(action="inspection.record", subject_key=str(first.result_id))
    assert f'"failure_case":{case.pk}' in inspection_audit.payload.replace(" ", "")


def test_a_failed_part_a_containment_holds_stays_on_hold_until_the_release(
    edge: dict[str, Any], quality_engineer: Any
) -> None:
    part, other = edge["part"], builders.make_edge_part(edge["cell"])
    lot = factories.make_lot()
    actions.consume_lot(part, lot=lot, quantity=Decimal("1"), actor=None)
    actions.contain_lot(lot, actor=quality_engineer, reason="supplier reports porosity")
    record_inspection_results([failing(part.serial), failing(other.serial)])
    held, free = Part.objects.get(pk=part.pk), Part.objects.get(pk=other.pk)
    assert (held.status, held.status_on_release) == (PartStatus.ON_HOLD, PartStatus.FAILED)
    assert free.status == PartStatus.FAILED
    assert FailureCase.objects.filter(part__in=[part, other]).count() == 2
    assert AuditRecord.objects.filter(action="part.status_deferred", subject_key=part.serial).exists()


def test_the_audit_chain_verifies_after_a_batch_that_failed_and_held_parts(edge: dict[str, Any]) -> None:
    parts = [builders.make_edge_part(edge["cell"]) for _ in range(3)]
    low_confidence = builders.payload(serial=parts[2].serial, defect_confidence=0.51)
    record_inspection_results([failing(parts[0].serial), failing(parts[1].serial), low_confidence])
    assert Part.objects.get(pk=parts[2].pk).status == PartStatus.ON_HOLD
    checked, broken, _ = verify_chain()
    assert broken is None and checked == AuditRecord.objects.count()
