"""The review queue and claims: what needs a human, oldest first, and one operator per case."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test.utils import CaptureQueriesContext
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from inspection.actions import review as review_actions
from inspection.models import ReviewClaim
from inspection.review_choices import ClaimEnd
from tests import factories
from tests.debug.helpers import make_review_case
from traceability import roles
from traceability.errors import RefusedByRule
from traceability.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_it_lists_failed_and_low_confidence_inspections_oldest_first_with_counts(cell: Any, operator: Any, login: Any, settings: Any) -> None:
    settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD = 0.9
    now = timezone.now()
    failed = make_review_case(cell, defect="scratch", captured_at=now - dt.timedelta(minutes=5))
    unsure = make_review_case(cell, defect="ok", confidence=0.55, captured_at=now - dt.timedelta(minutes=9))
    sure = make_review_case(cell, defect="ok", confidence=0.99, needs_review=False, captured_at=now - dt.timedelta(minutes=20))

    client = login(operator)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("debug-queue"))
    assert response.status_code == 200
    order = [str(c.result_id) for c in response.context["cases"]]
    assert order == [str(unsure.result_id), str(failed.result_id)]
    assert str(sure.result_id) not in order
    assert response.context["counts"] == {"total": 2, "failed": 1, "low_confidence": 1, "claimed": 0}
    # Session, user, permissions, the queue, the user's recent reviews: not one query per case.
    assert len(queries) <= 8, [q["sql"][:120] for q in queries.captured_queries]


def test_it_raises_the_threshold_from_settings(cell: Any, operator: Any, login: Any, settings: Any) -> None:
    unsure = make_review_case(cell, defect="ok", confidence=0.95, needs_review=False)
    settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD = 0.9
    assert login(operator).get(reverse("debug-queue")).context["counts"]["total"] == 0
    settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD = 0.97
    cases = login(operator).get(reverse("debug-queue")).context["cases"]
    assert [c.pk for c in cases] == [unsure.pk]


def test_it_sorts_lowest_confidence_first_on_request(cell: Any, operator: Any, login: Any) -> None:
    now = timezone.now()
    a = make_review_case(cell, defect="ok", confidence=0.8, captured_at=now - dt.timedelta(minutes=9))
    b = make_review_case(cell, defect="ok", confidence=0.4, captured_at=now - dt.timedelta(minutes=1))
    cases = login(operator).get(reverse("debug-queue") + "?sort=confidence").context["cases"]
    assert [c.pk for c in cases] == [b.pk, a.pk]


def test_it_lets_only_one_of_two_operators_claim_a_case(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    other = factories.make_user("oscar", roles.OPERATOR)
    first = login(operator).post(reverse("debug-claim", args=[case.result_id]))
    assert first.status_code == 302 and first["Location"] == reverse("debug-case", args=[case.result_id])
    second = login(other).post(reverse("debug-claim", args=[case.result_id]), follow=True)
    assert "is reviewing" in second.content.decode()
    assert login(other).get(reverse("debug-case", args=[case.result_id])).status_code == 302
    assert ReviewClaim.objects.filter(inspection=case, ended_at__isnull=True).count() == 1
    assert ReviewClaim.objects.get(inspection=case).holder == operator
    assert AuditRecord.objects.filter(action="review.claim", subject_key=str(case.result_id)).count() == 1


def test_it_refuses_a_second_open_claim_in_the_database_itself(cell: Any, operator: Any) -> None:
    case = make_review_case(cell)
    other = factories.make_user("oscar", roles.OPERATOR)
    now = timezone.now()
    ReviewClaim.objects.create(inspection=case, holder=operator, claimed_at=now, expires_at=now + dt.timedelta(minutes=5))
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewClaim.objects.create(inspection=case, holder=other, claimed_at=now, expires_at=now + dt.timedelta(minutes=5))


def test_it_frees_a_case_when_the_claim_lapses(cell: Any, operator: Any, settings: Any) -> None:
    settings.TWINWEB_REVIEW_CLAIM_TTL_S = 60
    case = make_review_case(cell)
    other = factories.make_user("oscar", roles.OPERATOR)
    t0 = timezone.now()
    first = review_actions.claim_case(case, actor=operator, now=t0)
    with pytest.raises(RefusedByRule):
        review_actions.claim_case(case, actor=other, now=t0 + dt.timedelta(seconds=59))
    second = review_actions.claim_case(case, actor=other, now=t0 + dt.timedelta(seconds=61))
    first.refresh_from_db()
    assert first.end_reason == ClaimEnd.EXPIRED and second.holder == other
    assert AuditRecord.objects.filter(action="review.claim_expired", subject_key=str(case.result_id)).exists()


def test_it_puts_a_released_case_back_in_the_queue(cell: Any, operator: Any, login: Any) -> None:
    case = make_review_case(cell)
    client = login(operator)
    client.post(reverse("debug-claim", args=[case.result_id]))
    assert client.get(reverse("debug-queue")).context["counts"]["claimed"] == 1
    client.post(reverse("debug-release", args=[case.result_id]))
    assert client.get(reverse("debug-queue")).context["counts"]["claimed"] == 0
    assert ReviewClaim.objects.get(inspection=case).end_reason == ClaimEnd.RELEASED


def test_it_keeps_the_queue_from_people_without_the_review_role(cell: Any, auditor: Any, outsider: Any, login: Any) -> None:
    case = make_review_case(cell)
    assert login(outsider).get(reverse("debug-queue")).status_code == 403
    assert login(auditor).post(reverse("debug-claim", args=[case.result_id])).status_code == 403
