"""Debug Mode reads: the review queue (one entry per part), its counts, the open inspections of a part and their
findings, reviews awaiting a countersignature, and review time per shift. Joins are decided here once.

A part's inspection needs a human while it is flagged (failed, errored, a pass below the confidence threshold, or
flagged for another reason such as a late result), no review has decided it, and nothing has settled it since it
was captured: the part is not final (scrapped, shipped), no review of the part was signed and no failure case of
the part was closed after it, and no override of the part awaits a countersignature. Evidence a disposition has
already acted on never comes back to the queue, so the cobot is never sent to move that part again for it.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from inspection.choices import Verdict
from inspection.models import DefectFinding, Inspection, Measurement
from review.choices import ReviewStatus
from review.models import Review, ReviewClaim, ReviewedInspection
from traceability.actions import FINAL_PART_STATES
from traceability.choices import FailureCaseStatus
from traceability.models import FailureCase, Part

# Shifts by local start hour (settings.TIME_ZONE): early 06-14, late 14-22, night 22-06.
SHIFTS: tuple[tuple[str, int], ...] = (("early", 6), ("late", 14), ("night", 22))
CASE_RELATED = ("part__part_type", "station__cell", "failure_case__defect_code", "image")


def threshold() -> float:
    return float(settings.TWINWEB_REVIEW_CONFIDENCE_THRESHOLD)


def needs_review_q(threshold_: float | None = None) -> Q:
    threshold_ = threshold() if threshold_ is None else threshold_
    failed_open = Q(verdict__in=[Verdict.FAIL, Verdict.ERROR]) & ~Q(failure_case__status=FailureCaseStatus.CLOSED)
    low_confidence = Q(verdict=Verdict.PASS, defect_confidence__lt=threshold_)
    return Q(needs_review=True) | failed_open | low_confidence


def open_inspections() -> QuerySet[Inspection]:
    """Every inspection that needs a human now (see the module docstring)."""
    part, captured = OuterRef("part_id"), OuterRef("captured_at")
    return (
        Inspection.objects.filter(needs_review_q())
        .exclude(part__status__in=FINAL_PART_STATES)
        .exclude(Exists(ReviewedInspection.objects.filter(inspection=OuterRef("pk"))))
        .exclude(Exists(Review.objects.filter(inspection__part=part, signed_at__gte=captured)))
        .exclude(Exists(Review.objects.filter(inspection__part=part, status=ReviewStatus.AWAITING_COUNTERSIGN)))
        .exclude(
            Exists(FailureCase.objects.filter(part=part, status=FailureCaseStatus.CLOSED, closed_at__gte=captured))
        )
    )


def case_inspections(part: Part) -> list[Inspection]:
    """The inspections of `part` a review decides now, oldest first (empty when nothing is left to review)."""
    return list(open_inspections().filter(part=part).select_related(*CASE_RELATED).order_by("captured_at", "id"))


def lead_inspection(inspections: list[Inspection]) -> Inspection:
    """The inspection a case is addressed by and its review hangs on: the one carrying the part's open failure
    case, else the first that failed, else the oldest."""

    def rank(i: Inspection) -> tuple[int, int]:
        has_case = i.failure_case is not None and i.failure_case.status != FailureCaseStatus.CLOSED
        return (0 if has_case else 1, 0 if i.verdict != Verdict.PASS else 1)

    return min(inspections, key=lambda i: (*rank(i), i.captured_at, i.pk))


def open_failure_case(inspections: list[Inspection]) -> FailureCase | None:
    return next(
        (
            i.failure_case
            for i in inspections
            if i.failure_case is not None and i.failure_case.status != FailureCaseStatus.CLOSED
        ),
        None,
    )


def finding_labels(inspection: Inspection) -> list[str]:
    """Short words for each finding of an inspection, for the queue (the step-through shows the evidence)."""
    labels = []
    for f in inspection.findings or []:
        name = str(f.get("name", "")).replace("_", " ")
        if f.get("kind") == "dimension" and f.get("value") is not None:
            labels.append(f"{name} {float(f['value']):.2f} {f.get('unit', 'mm')}")
        elif f.get("confidence") is not None:
            labels.append(f"{name} {float(f['confidence']):.2f}")
        else:
            labels.append(name)
    if not labels:
        if inspection.verdict == Verdict.ERROR:
            labels.append("inspection error")
        elif inspection.defect_confidence is not None:
            labels.append(f"model says {inspection.defect_class or 'ok'} {inspection.defect_confidence:.2f}")
        else:
            labels.append(inspection.reason or "flagged for review")
    return labels


@dataclass
class QueueEntry:
    """One part waiting for a human, with every inspection of it that needs one."""

    part: Part
    inspections: list[Inspection]
    claim_holder: str | None = None
    claim_holder_id: int | None = None
    claim_expires_at: dt.datetime | None = None
    mine: bool = False
    free: bool = True
    lead: Inspection = field(init=False)

    def __post_init__(self) -> None:
        self.lead = lead_inspection(self.inspections)

    @property
    def result_id(self) -> Any:
        return self.lead.result_id

    @property
    def failed(self) -> bool:
        return any(i.verdict != Verdict.PASS for i in self.inspections)

    @property
    def waiting_since(self) -> dt.datetime:
        return min(i.captured_at for i in self.inspections)

    @property
    def lowest_confidence(self) -> float | None:
        values = [i.defect_confidence for i in self.inspections if i.defect_confidence is not None]
        return min(values) if values else None

    @property
    def kind(self) -> str:
        """failed, low_confidence (a pass below the threshold) or other (flagged for another reason)."""
        if self.failed:
            return "failed"
        limit = threshold()
        if any(i.defect_confidence is not None and i.defect_confidence < limit for i in self.inspections):
            return "low_confidence"
        return "other"

    @property
    def findings(self) -> list[tuple[str, list[str]]]:
        return [(i.station.code, finding_labels(i)) for i in self.inspections]


def review_queue(*, now: dt.datetime | None = None, sort: str = "oldest", limit: int = 200) -> list[QueueEntry]:
    """Parts needing a human, oldest first (or lowest confidence first), each with who holds it now. One query."""
    now = now or timezone.now()
    claims = ReviewClaim.objects.filter(part=OuterRef("part_id"), ended_at__isnull=True, expires_at__gt=now)
    rows = (
        open_inspections()
        .select_related(*CASE_RELATED)
        .annotate(
            claim_holder=Subquery(claims.values("holder__username")[:1]),
            claim_holder_id=Subquery(claims.values("holder_id")[:1]),
            claim_expires_at=Subquery(claims.values("expires_at")[:1]),
        )
        .order_by("captured_at", "id")
    )
    by_part: dict[int, QueueEntry] = {}
    for inspection in rows:
        entry = by_part.get(inspection.part_id)
        if entry is None:
            by_part[inspection.part_id] = QueueEntry(
                part=inspection.part,
                inspections=[inspection],
                claim_holder=inspection.claim_holder,
                claim_holder_id=inspection.claim_holder_id,
                claim_expires_at=inspection.claim_expires_at,
            )
        else:
            entry.inspections.append(inspection)
            entry.lead = lead_inspection(entry.inspections)
    entries = list(by_part.values())  # in the order of each part's oldest flagged inspection
    if sort == "confidence":
        entries.sort(key=lambda e: (e.lowest_confidence is None, e.lowest_confidence or 0.0, e.waiting_since))
    return entries[:limit]


def queue_counts(queue: list[QueueEntry]) -> dict[str, int]:
    """Parts waiting, by why: failed (or errored) by the machine, passes below the confidence threshold, flagged
    for another reason (a late or out-of-order result); and how many someone is reviewing now."""
    kinds = [e.kind for e in queue]
    return {
        "total": len(queue),
        "failed": kinds.count("failed"),
        "low_confidence": kinds.count("low_confidence"),
        "other": kinds.count("other"),
        "claimed": sum(1 for e in queue if e.claim_holder),
    }


def awaiting_countersign() -> QuerySet[Review]:
    return (
        Review.objects.filter(status=ReviewStatus.AWAITING_COUNTERSIGN)
        .select_related("inspection__part__part_type", "reviewer")
        .order_by("signed_at")
    )


def reviews() -> QuerySet[Review]:
    return Review.objects.select_related(
        "inspection__part__part_type", "inspection__image", "reviewer"
    ).prefetch_related("signatures")


def part_case_findings(inspections: list[Inspection]) -> list[dict[str, Any]]:
    """The step-through of a part: the findings of each of its open inspections, oldest inspection first, each
    step naming its station, its inspection and the image it is seen on."""
    steps: list[dict[str, Any]] = []
    for inspection in inspections:
        for step in case_findings(inspection):
            step.update(
                {
                    "station": inspection.station.code,
                    "resultId": str(inspection.result_id),
                    "imageUrl": inspection.image.get_absolute_url() if inspection.image is not None else "",
                }
            )
            steps.append(step)
    return steps


def case_findings(inspection: Inspection) -> list[dict[str, Any]]:
    """One step per finding (each failed feature, each detected defect) with what the overlay needs; a
    low-confidence pass with no finding gets one overview step of the whole part."""
    measurements = {m.name: m for m in Measurement.objects.filter(inspection=inspection)}
    defects = {d.defect_class: d for d in DefectFinding.objects.filter(inspection=inspection)}
    steps: list[dict[str, Any]] = []
    for finding in inspection.findings or []:
        kind = finding.get("kind")
        step: dict[str, Any] = {
            "kind": kind,
            "name": finding.get("name", ""),
            "bbox": finding.get("bbox") or [],
            "detail": finding.get("detail", ""),
        }
        if kind == "dimension":
            m = measurements.get(step["name"])
            step.update(
                {
                    "value": finding.get("value", m.value if m else None),
                    "nominal": finding.get("nominal", m.nominal if m else None),
                    "lower_limit": finding.get("lower_limit", m.nominal + m.lower_tol if m else None),
                    "upper_limit": finding.get("upper_limit", m.nominal + m.upper_tol if m else None),
                    "unit": finding.get("unit", m.unit if m else "mm"),
                    "geometry": m.geometry if m else {},
                }
            )
        else:
            d = defects.get(step["name"])
            step.update(
                {
                    "defect_class": step["name"],
                    "confidence": finding.get("confidence", d.confidence if d else inspection.defect_confidence),
                    "bbox": step["bbox"] or (d.bbox if d else []),
                }
            )
        steps.append(step)
    if not steps:
        title = (
            f"Whole part: model says {inspection.defect_class}"
            if inspection.defect_class
            else "Whole part: the machine reported no finding"
        )
        if inspection.verdict == Verdict.ERROR:
            title = "Inspection error: check the part yourself"
        steps.append(
            {
                "kind": "overview",
                "name": "whole part",
                "bbox": [],
                "defect_class": inspection.defect_class,
                "confidence": inspection.defect_confidence,
                "detail": inspection.reason,
                "title": title,
            }
        )
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
    """Median review time per shift, newest shift first: claimed to signed within one live claim (a claim that
    lapsed or was released ends its time; the time after it is not counted)."""
    now = now or timezone.now()
    rows = Review.objects.filter(signed_at__gte=now - dt.timedelta(days=days)).values_list(
        "signed_at", "review_seconds"
    )
    groups: dict[tuple[dt.date, str], list[float]] = {}
    for signed_at, seconds in rows:
        groups.setdefault(shift_of(signed_at), []).append(seconds)
    order = {name: i for i, (name, _h) in enumerate(SHIFTS)}
    result = [ShiftReviewTime(day, shift, len(v), statistics.median(v)) for (day, shift), v in groups.items()]
    return sorted(result, key=lambda r: (r.day, order[r.shift]), reverse=True)


def open_claim_of(inspection: Inspection, user: Any, *, now: dt.datetime | None = None) -> ReviewClaim | None:
    """`user`'s live claim on the part of `inspection`, if they hold one."""
    now = now or timezone.now()
    return (
        ReviewClaim.objects.select_related("inspection")
        .filter(part_id=inspection.part_id, holder=user, ended_at__isnull=True, expires_at__gt=now)
        .first()
    )


def override_awaiting_countersignature(part: Part) -> str:
    """Why a Debug Mode override holds the part's decision (awaiting its countersignature), or ""."""
    pending = (
        Review.objects.filter(inspection__part=part, status=ReviewStatus.AWAITING_COUNTERSIGN)
        .select_related("reviewer")
        .first()
    )
    if pending is None:
        return ""
    name = pending.reviewer.get_full_name() or pending.reviewer.get_username()
    return (
        f"{part.serial}: the override by {name} (Debug Mode review {pending.pk}) awaits a countersignature; "
        "no other decision is accepted until it is countersigned."
    )
