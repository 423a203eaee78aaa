"""Inspections in the genealogy trace.

Traceability knows nothing of inspection (STYLE.md arrows); it discovers this module (`autodiscover_modules
("trace")`) and asks it for the inspection steps of the parts it traces, in two queries whatever their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Prefetch, QuerySet

from inspection.choices import Verdict
from inspection.models import Inspection, Measurement
from traceability.genealogy import (
    InspectionStep,
    MeasurementStep,
    register_inspection_source,
)
from traceability.models import Part

# Who reviewed an inspection in Debug Mode: the reviewer of the Review that decided it (one review decides every
# flagged inspection of a part, through ReviewedInspection `decided_by`), else of its own Review (reverse
# one-to-one `review`, for a review recorded without the link), else a direct field of these names; the trace
# keeps `reviewer` null while none exists.
_REVIEWER_PATHS = ("decided_by__review__reviewer", "review__reviewer", "reviewer", "reviewed_by")


def _reviewer_paths() -> list[str]:
    """The paths of _REVIEWER_PATHS the models have, in order."""
    found = []
    for path in _REVIEWER_PATHS:
        model: Any = Inspection
        for name in path.split("__"):
            relation = {f.name: f for f in model._meta.get_fields()}.get(name) if model is not None else None
            if relation is None:
                break
            model = relation.related_model
        else:
            found.append(path)
    return found


def _reviewer_of(inspection: Inspection, paths: Sequence[str]) -> Any:
    for path in paths:
        value: Any = inspection
        for name in path.split("__"):
            try:
                value = getattr(value, name)
            except ObjectDoesNotExist:
                value = None
            if value is None:
                break
        if value is not None:
            return value
    return None


def _person(user: Any) -> str | None:
    if user is None:
        return None
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full_name or user.get_username()


def inspections_of(part_ids: Sequence[int]) -> QuerySet[Inspection]:
    related = ["station", "device", "image", "drawing", *_reviewer_paths()]
    return (
        Inspection.objects.filter(part_id__in=list(part_ids))
        .select_related(*related)
        .prefetch_related(Prefetch("measurements", queryset=Measurement.objects.order_by("id")))
        .order_by("captured_at", "id")
    )


def inspection_steps(part_ids: Sequence[int]) -> list[InspectionStep]:
    reviewer = _reviewer_paths()
    steps = []
    for inspection in inspections_of(part_ids):
        steps.append(
            InspectionStep(
                key=str(inspection.result_id),
                part_id=inspection.part_id,
                station_id=inspection.station_id,
                station_code=inspection.station.code,
                device_id=inspection.device.device_id if inspection.device else None,
                verdict=inspection.verdict,
                reason=inspection.reason,
                defect_class=inspection.defect_class,
                defect_confidence=inspection.defect_confidence,
                model_version=inspection.model_version,
                backend=inspection.backend,
                captured_at=inspection.captured_at,
                inspected_at=inspection.inspected_at,
                needs_review=inspection.needs_review,
                reviewer=_person(_reviewer_of(inspection, reviewer)),
                failure_case_id=inspection.failure_case_id,
                measurements=tuple(
                    MeasurementStep(m.name, m.kind, m.value, m.nominal, m.lower_tol, m.upper_tol, m.unit, m.passed)
                    for m in inspection.measurements.all()
                ),
                image_url=inspection.image.get_absolute_url() if inspection.image else None,
                drawing=str(inspection.drawing) if inspection.drawing else None,
            )
        )
    return steps


def parts_with_verdict(parts: QuerySet[Part], verdict: str) -> QuerySet[Part]:
    return parts.filter(pk__in=Inspection.objects.filter(verdict=verdict).values("part_id"))


register_inspection_source(
    inspection_steps,
    verdict_filter=parts_with_verdict,
    verdict_choices=Verdict.choices,
    audit_subject_type="inspection.inspection",
)
