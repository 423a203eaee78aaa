"""The review queue and claims: what needs a human, oldest first, and one operator per case."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from review.actions import claims, verdicts
from review.choices import ClaimEnd
from review.models import CobotCommand, ReviewClaim
from tests.support import factories
from tests.support.review_cases import (
    demo_part_type,
    make_review_case,
    make_two_station_part,
)
from traceability import actions as trace_actions
from traceability import roles
from traceability.choices import Disposition
from traceability.errors import RefusedByRule
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_it_lists_failed_and_low_confidence_inspections_oldest_first_with_counts(
    cell: Any, operator: Any, login: Any, settings: Any
) -> None:
    settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD = 0.9
    now = timezone.now()
    failed = make_review_case(cell, defect="scratch", captured_at=now - dt.timedelta(minutes=5))
    unsure = make_review_case(cell, defect="ok", confidence=0.55, captured_at=now - dt.timedelta(minutes=9))
    sure = make_review_case(cell, defect="ok", confidence=0.99, captured_at=now - dt.timedelta(minutes=20))

    client = login(operator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("review-queue"))
    assert response.status_code == 200
    order = [str(c.result_id) for c in response.context["cases"]]
    assert order == [str(unsure.result_id), str(failed.result_id)]
    assert str(sure.result_id) not in order
    assert response.context["counts"] == {"total": 2, "failed": 1, "low_confidence": 1, "other": 0, "claimed": 0}
    # Session (read, and its idle clock written: a signing session), user, permissions, the queue, the user's
    # recent reviews: not one query per case.
    assert len(queries) <= 10, [q["sql"][:120] for q in queries.captured_queries]


def test_it_raises_the_threshold_from_settings(cell: Any, operator: Any, login: Any, settings: Any) -> None:
    unsure = make_review_case(cell, defect="ok", confidence=0.95)
    settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD = 0.9
    assert login(operator).get(reverse("review-queue")).context["counts"]["total"] == 0
    settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD = 0.97
    cases = login(operator).get(reverse("review-queue")).context["cases"]
    assert [c.lead.pk for c in cases] == [unsure.pk]


def test_it_sorts_lowest_confidence_first_on_request(cell: Any, operator: Any, login: Any) -> None:
    now = timezone.now()
    a = make_review_case(cell, defect="ok", confidence=0.8, captured_at=now - dt.timedelta(minutes=9))
    b = make_review_case(cell, defect="ok", confidence=0.4, captured_at=now - dt.timedelta(minutes=1))
    cases = login(operator).get(reverse("review-queue") + "?sort=confidence").context["cases"]
    assert [c.lead.pk for c in cases] == [b.pk, a.pk]


def test_it_lets_only_one_of_two_operators_claim_a_case(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    other = factories.make_user("oscar", roles.OPERATOR)
    first = login(operator).post(reverse("review-claim", args=[case.result_id]))
    assert first.status_code == 302 and first["Location"] == reverse("review-case", args=[case.result_id])
    second = login(other).post(reverse("review-claim", args=[case.result_id]), follow=True)
    assert "is reviewing" in second.content.decode()
    assert login(other).get(reverse("review-case", args=[case.result_id])).status_code == 302
    assert ReviewClaim.objects.filter(inspection=case, ended_at__isnull=True).count() == 1
    assert ReviewClaim.objects.get(inspection=case).holder == operator
    assert AuditRecord.objects.filter(action="review.claim", subject_key=str(case.result_id)).count() == 1


def test_it_refuses_a_second_open_claim_in_the_database_itself(cell: Any, operator: Any) -> None:
    case = make_review_case(cell)
    other = factories.make_user("oscar", roles.OPERATOR)
    now = timezone.now()
    ReviewClaim.objects.create(
        inspection=case, part=case.part, holder=operator, claimed_at=now, expires_at=now + dt.timedelta(minutes=5)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewClaim.objects.create(
            inspection=case, part=case.part, holder=other, claimed_at=now, expires_at=now + dt.timedelta(minutes=5)
        )


def test_it_frees_a_case_when_the_claim_lapses(cell: Any, operator: Any, settings: Any) -> None:
    settings.TWINWEB_REVIEW_CLAIM_TTL_S = 60
    case = make_review_case(cell)
    other = factories.make_user("oscar", roles.OPERATOR)
    t0 = timezone.now()
    first = claims.claim_case(case, actor=operator, now=t0)
    with pytest.raises(RefusedByRule):
        claims.claim_case(case, actor=other, now=t0 + dt.timedelta(seconds=59))
    second = claims.claim_case(case, actor=other, now=t0 + dt.timedelta(seconds=61))
    first.refresh_from_db()
    assert first.end_reason == ClaimEnd.EXPIRED and second.holder == other
    assert AuditRecord.objects.filter(action="review.claim_expired", subject_key=str(case.result_id)).exists()


def test_it_puts_a_released_case_back_in_the_queue(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = login(operator)
    client.post(reverse("review-claim", args=[case.result_id]))
    assert client.get(reverse("review-queue")).context["counts"]["claimed"] == 1
    client.post(reverse("review-release", args=[case.result_id]))
    assert client.get(reverse("review-queue")).context["counts"]["claimed"] == 0
    assert ReviewClaim.objects.get(inspection=case).end_reason == ClaimEnd.RELEASED


def test_it_keeps_the_queue_from_people_without_the_review_role(
    cell: Any, auditor: Any, outsider: Any, login: Any
) -> None:
    case = make_review_case(cell)
    assert login(outsider).get(reverse("review-queue")).status_code == 403
    assert login(auditor).post(reverse("review-claim", args=[case.result_id])).status_code == 403


# --- A part is one case, whichever stations flagged it ---------------------------------------------------


def test_it_lists_a_part_once_with_the_findings_of_all_its_inspections(cell: Any, operator: Any, login: Any) -> None:
    visual, dimensional = make_two_station_part(cell)
    page = login(operator).get(reverse("review-queue"))
    [entry] = page.context["cases"]
    assert entry.part == visual.part
    assert [i.result_id for i in entry.inspections] == [visual.result_id, dimensional.result_id]
    assert page.context["counts"]["total"] == 1
    row = page.content.decode()
    assert row.count(f'data-serial="{visual.part.serial}"') == 1
    assert "scratch" in row and "bore diameter" in row


def test_it_lets_one_operator_at_a_time_review_a_part_whichever_inspection_they_open(
    cell: Any, operator: Any, login: Any
) -> None:
    visual, dimensional = make_two_station_part(cell)
    other = factories.make_user("oscar", roles.OPERATOR)
    assert login(operator).post(reverse("review-claim", args=[visual.result_id])).status_code == 302
    refused = login(other).post(reverse("review-claim", args=[dimensional.result_id]), follow=True)
    assert "is reviewing" in refused.content.decode()
    assert login(other).get(reverse("review-case", args=[dimensional.result_id])).status_code == 302
    assert ReviewClaim.objects.filter(part=visual.part, ended_at__isnull=True).count() == 1
    # Olivia's page shows the evidence of both stations, each finding with its own image.
    data = login(operator).get(reverse("review-case", args=[dimensional.result_id]), follow=True).context["case_data"]
    assert data["resultId"] == str(visual.result_id)  # the case has one address, its leading inspection
    assert [(f["station"], f["kind"]) for f in data["findings"]] == [("visual", "defect"), ("dimensional", "dimension")]
    assert [f["imageUrl"] for f in data["findings"]] == [
        visual.image.get_absolute_url(),
        dimensional.image.get_absolute_url(),
    ]


def test_it_refuses_two_open_claims_on_one_part_in_the_database_itself(cell: Any, operator: Any) -> None:
    visual, dimensional = make_two_station_part(cell)
    other = factories.make_user("oscar", roles.OPERATOR)
    now = timezone.now()
    ReviewClaim.objects.create(
        inspection=visual, part=visual.part, holder=operator, claimed_at=now, expires_at=now + dt.timedelta(minutes=5)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewClaim.objects.create(
            inspection=dimensional,
            part=dimensional.part,
            holder=other,
            claimed_at=now,
            expires_at=now + dt.timedelta(minutes=5),
        )


def test_it_counts_as_low_confidence_only_the_passes_below_the_threshold(
    cell: Any, operator: Any, login: Any, settings: Any
) -> None:
    settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD = 0.9
    make_review_case(cell, defect="ok", confidence=0.55)
    sure = make_review_case(cell, defect="ok", confidence=0.99, captured_at=timezone.now())  # not flagged
    # Sure too, but flagged for another reason: it arrived after a newer result of the same part at its station.
    make_review_case(
        cell, part=sure.part, defect="ok", confidence=0.99, captured_at=sure.captured_at - dt.timedelta(seconds=30)
    )
    make_review_case(cell, defect="scratch", confidence=0.5)  # failed: counted as failed, whatever its confidence
    page = login(operator).get(reverse("review-queue"))
    assert page.context["counts"] == {"total": 3, "failed": 1, "low_confidence": 1, "other": 1, "claimed": 0}
    assert "passes below 0.90 confidence" in page.content.decode()


def test_it_leaves_a_scrapped_part_out_of_the_queue_and_refuses_to_review_it_again(
    cell: Any, operator: Any, login: Any
) -> None:
    case = make_review_case(cell)
    claims.claim_case(case, actor=operator)
    verdicts.sign_verdict(
        case,
        actor=operator,
        verdict="confirm_nok",
        disposition="scrap",
        credential=factories.PASSWORD,
        idempotency_key=uuid.uuid4(),
    )
    # A result of the same part arrives late from the dimensional station, flagged for review.
    late = make_review_case(cell, part=case.part, station="dimensional", defect="ok", confidence=0.5)
    assert late.needs_review
    assert login(operator).get(reverse("review-queue")).context["cases"] == []
    with pytest.raises(RefusedByRule, match="scrapped"):
        claims.claim_case(late, actor=operator)
    assert CobotCommand.objects.filter(kind="move_part").count() == 1


def test_it_leaves_out_evidence_a_disposition_has_already_acted_on(cell: Any, operator: Any, login: Any) -> None:
    visual, dimensional = make_two_station_part(cell, captured_at=timezone.now() - dt.timedelta(minutes=1))
    # Quality dispositioned the non-conformance outside Debug Mode: the part went to rework.
    trace_actions.disposition_failure_case(visual.failure_case, disposition=Disposition.REWORK, actor=operator)
    client = login(operator)
    assert client.get(reverse("review-queue")).context["cases"] == []
    with pytest.raises(RefusedByRule, match="already"):
        claims.claim_case(dimensional, actor=operator)
    # Reworked and inspected again, it fails again: that is a new case.
    again = make_review_case(
        cell, part=visual.part, defect="dent", captured_at=timezone.now() + dt.timedelta(seconds=1)
    )
    [entry] = client.get(reverse("review-queue")).context["cases"]
    assert [i.pk for i in entry.inspections] == [again.pk]


def test_it_seeds_the_demo_with_a_part_both_stations_flagged_as_one_case(
    cell: Any, operator: Any, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demo import reviews as demo_reviews

    monkeypatch.setattr(demo_reviews, "_classifier", lambda: None)  # the renderer's truth: known findings
    demo_part_type("CF-80"), demo_part_type("TF-12")
    parts = len(demo_reviews.DEMO_CASES) + len(demo_reviews.DEMO_TWO_STATION_CASES)
    assert demo_reviews.seed_review_cases(cell.code) == parts
    assert demo_reviews.seed_review_cases(cell.code) == 0  # idempotent
    cases = login(operator).get(reverse("review-queue")).context["cases"]
    assert len(cases) == parts
    [both] = [c for c in cases if len(c.inspections) == 2]
    assert [i.station.code for i in both.inspections] == ["visual", "dimensional"]
    assert both.lead.failure_case is not None and both.inspections[1].failure_case is None
