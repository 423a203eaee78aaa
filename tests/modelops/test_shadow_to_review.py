"""A quality engineer sends a shadow disagreement to Debug Mode: the capture's stored inspection (the champion's,
the one that counted) joins the review queue, audited, once however often it is sent; an operator cannot send it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from inspection.actions.ingest import record_inspection_result
from inspection.models import EdgeDevice
from modelops.models import ShadowComparison
from review.selectors import review_queue
from tests.modelops.support import other_version, shipped_version
from tests.support import ingest_builders as builders
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def disagreement(cell: Any, quality_engineer: Any, settings: Any, tmp_path: Path) -> ShadowComparison:
    settings.MEDIA_ROOT = tmp_path / "media"
    builders.make_device(cell)
    part = builders.make_edge_part(cell)
    inspection, _ = record_inspection_result(builders.payload(serial=part.serial))  # a confident pass
    assert not inspection.needs_review
    return ShadowComparison.objects.create(
        device=EdgeDevice.objects.get(device_id=builders.DEVICE_ID),
        result_id=str(inspection.result_id),
        champion=shipped_version(quality_engineer),
        candidate=other_version(quality_engineer, "b"),
        champion_class="ok",
        candidate_class="scratch",
        champion_confidence=0.97,
        candidate_confidence=0.81,
        agree=False,
        at=timezone.now(),
    )


def in_queue(result_id: str) -> bool:
    return any(str(entry.result_id) == result_id for entry in review_queue())


def test_a_quality_engineer_sends_a_disagreement_to_debug_mode_once(
    disagreement: ShadowComparison, quality_engineer: Any, login: Any
) -> None:
    client = login(quality_engineer)
    page = client.get(f"/modelops/v/{disagreement.candidate.sha256}/").content.decode()
    assert "Send to Debug Mode" in page and not in_queue(disagreement.result_id)

    for _ in range(2):
        response = client.post(f"/modelops/shadow/{disagreement.pk}/review")
        assert response.status_code == 302
    assert in_queue(disagreement.result_id)
    [record] = AuditRecord.objects.filter(action="modelops.shadow.send_to_review")
    assert record.actor_id == quality_engineer.pk
    assert "said ok (0.970)" in record.payload and "said scratch (0.810)" in record.payload  # both verdicts, why
    page = client.get(f"/modelops/v/{disagreement.candidate.sha256}/").content.decode()
    assert "waits in Debug Mode" in page and "Send to Debug Mode" not in page


def test_an_operator_cannot_send_a_disagreement_to_debug_mode(
    disagreement: ShadowComparison, operator: Any, login: Any
) -> None:
    login(operator).post(f"/modelops/shadow/{disagreement.pk}/review")
    assert not in_queue(disagreement.result_id)
    assert not AuditRecord.objects.filter(action="modelops.shadow.send_to_review").exists()


def test_a_disagreement_whose_result_is_not_stored_is_refused_with_the_reason(
    disagreement: ShadowComparison, quality_engineer: Any, login: Any
) -> None:
    disagreement.result_id = "00000000-0000-4000-8000-000000000001"
    disagreement.save()
    client = login(quality_engineer)
    response = client.post(f"/modelops/shadow/{disagreement.pk}/review", follow=True)
    assert "is not stored yet: nothing to review" in response.content.decode()
