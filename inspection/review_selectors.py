"""Debug Mode reads: the review queue, its counts, reviews awaiting a countersignature, and review time per
shift. Joins are decided here once."""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from inspection.choices import Verdict
from inspection.models import DefectFinding, Inspection, Measurement, Review, ReviewClaim
from inspection.review_choices import ReviewStatus
from traceability.choices import FailureCaseStatus

# Shifts by local start hour (settings.TIME_ZONE): early 06-14, late 14-22, night 22-06.
SHIFTS: tuple[tuple[str, int], ...] = (("early", 6), ("late", 14), ("night", 22))


def needs_review_q(threshold: float | None = None) -> Q:
    threshold = settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD if threshold is None else threshold
    failed_open = Q(verdict__in=[Verdict.FAIL, Verdict.ERROR]) & ~Q(failure_case__status=FailureCaseStatus.CLOSED)
    low_confidence = Q(verdict=Verdict.PASS, defect_confidence__lt=threshold)
    return Q(needs_review=True) | failed_open | low_confidence


def review_queue(*, now: dt.datetime | None = None, sort: str = "oldest") -> QuerySet[Inspection]:
    """Cases needing a human, oldest first (or lowest confidence first), each with who holds it now."""
    now = now or timezone.now()
    open_claims = ReviewClaim.objects.filter(inspection=OuterRef("pk"), ended_at__isnull=True, expires_at__gt=now)
    qs = (
        Inspection.objects.filter(needs_review_q())
        .exclude(Exists(Review.objects.filter(inspection=OuterRef("pk"))))
        .select_related("part__part_type", "station__cell", "failure_case__defect_code", "image")
        .annotate(
            claim_holder=Subquery(open_claims.values("holder__username")[:1]),
            claim_holder_id=Subquery(open_claims.values("holder_id")[:1]),
            claim_expires_at=Subquery(open_claims.values("expires_at")[:1]),
        )
    )
    if sort == "confidence":
        return qs.order_by("defect_confidence", "captured_at", "id")
    return qs.order_by("captured_at", "id")


def queue_counts(queue: list[Inspection]) -> dict[str, int]:
    return {
        "total": len(queue),
        "failed": sum(1 for i in queue if i.verdict != Verdict.PASS),
        "low_confidence": sum(1 for i in queue if i.verdict == Verdict.PASS),
        "claimed": sum(1 for i in queue if i.claim_holder),
    }


def awaiting_countersign() -> QuerySet[Review]:
    return (
        Review.objects.filter(status=ReviewStatus.AWAITING_COUNTERSIGN)
        .select_related("inspection__part__part_type", "reviewer")
        .order_by("signed_at")
    )


def reviews() -> QuerySet[Review]:
    return Review.objects.select_related("inspection__part__part_type", "inspection__image", "reviewer").prefetch_related("signatures")


def case_findings(inspection: Inspection) -> list[dict[str, Any]]:
    """One step per finding (each failed feature, each detected defect) with what the overlay needs; a
    low-confidence pass with no finding gets one overview step of the whole part."""
    measurements = {m.name: m for m in Measurement.objects.filter(inspection=inspection)}
    defects = {d.defect_class: d for d in DefectFinding.objects.filter(inspection=inspection)}
    steps: list[dict[str, Any]] = []
    for finding in inspection.findings or []:
        kind = finding.get("kind")
        step: dict[str, Any] = {"kind": kind, "name": finding.get("name", ""), "bbox": finding.get("bbox") or [],
                                "detail": finding.get("detail", "")}
        if kind == "dimension":
            m = measurements.get(step["name"])
            step.update({
                "value": finding.get("value", m.value if m else None),
                "nominal": finding.get("nominal", m.nominal if m else None),
                "lower_limit": finding.get("lower_limit", m.nominal + m.lower_tol if m else None),
                "upper_limit": finding.get("upper_limit", m.nominal + m.upper_tol if m else None),
                "unit": finding.get("unit", m.unit if m else "mm"),
                "geometry": m.geometry if m else {},
            })
        else:
            d = defects.get(step["name"])
            step.update({
                "defect_class": step["name"],
                "confidence": finding.get("confidence", d.confidence if d else inspection.defect_confidence),
                "bbox": step["bbox"] or (d.bbox if d else []),
            })
        steps.append(step)
    if not steps:
        title = (f"Whole part: model says {inspection.defect_class}" if inspection.defect_class
                 else "Whole part: the machine reported no finding")
        if inspection.verdict == Verdict.ERROR:
            title = "Inspection error: check the part yourself"
        steps.append({"kind": "overview", "name": "whole part", "bbox": [], "defect_class": inspection.defect_class,
                      "confidence": inspection.defect_confidence, "detail": inspection.reason, "title": title})
    top = sorted((inspection.class_probabilities or {}).items(), key=lambda kv: -kv[1])[:3]
    for step in steps:
        step["top_classes"] = [[c, p] for c, p in top]
    return steps


def shift_of(at: dt.datetime) -> tuple[dt.date, str]:
    """(production day, shift name) of a moment; the night shift belongs to the day it started."""
    local = timezone.localtime(at)
    hour = local.hour
    if hour >= 22:
        return local.date(), "night"
    if hour < 6:
        return local.date() - dt.timedelta(days=1), "night"
    return local.date(), "early" if hour < 14 else "late"


@dataclass(frozen=True)
class ShiftReviewTime:
    day: dt.date
    shift: str
    reviews: int
    median_s: float


def review_time_by_shift(*, days: int = 7, now: dt.datetime | None = None) -> list[ShiftReviewTime]:
    """Median review time (claim opened -> verdict signed) per shift, newest shift first."""
    now = now or timezone.now()
    rows = Review.objects.filter(signed_at__gte=now - dt.timedelta(days=days)).values_list("signed_at", "review_seconds")
    groups: dict[tuple[dt.date, str], list[float]] = {}
    for signed_at, seconds in rows:
        groups.setdefault(shift_of(signed_at), []).append(seconds)
    order = {name: i for i, (name, _h) in enumerate(SHIFTS)}
    result = [ShiftReviewTime(day, shift, len(v), statistics.median(v)) for (day, shift), v in groups.items()]
    return sorted(result, key=lambda r: (r.day, order[r.shift]), reverse=True)
