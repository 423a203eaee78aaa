"""Inspections in the genealogy trace.

Traceability knows nothing of inspection (STYLE.md arrows); it discovers this module (`autodiscover_modules
("trace")`) and asks it for the inspection steps of the parts it traces, in two queries whatever their number.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch, QuerySet

from inspection.choices import Verdict
from inspection.models import Inspection, Measurement
from traceability.genealogy import InspectionStep, MeasurementStep, register_inspection_source
from traceability.models import Part

# Debug Mode may add who reviewed an inspection; the trace shows it once a field or relation of these names exists.
_REVIEWER_FIELDS = ("reviewer", "reviewed_by")


def _reviewer_field() -> str | None:
    names = {f.name for f in Inspection._meta.get_fields()}
    return next((name for name in _REVIEWER_FIELDS if name in names), None)


def _person(user: Any) -> str | None:
    if user is None:
        return None
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full_name or user.get_username()


def inspections_of(part_ids: Sequence[int]) -> QuerySet[Inspection]:
    reviewer = _reviewer_field()
    related = ["station", "device", "image"] + ([reviewer] if reviewer else [])
    return (
        Inspection.objects.filter(part_id__in=list(part_ids))
        .select_related(*related)
        .prefetch_related(Prefetch("measurements", queryset=Measurement.objects.order_by("id")))
        .order_by("captured_at", "id")
    )


def inspection_steps(part_ids: Sequence[int]) -> list[InspectionStep]:
    reviewer = _reviewer_field()
    steps = []
    for inspection in inspections_of(part_ids):
        steps.append(InspectionStep(
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
            reviewer=_person(getattr(inspection, reviewer)) if reviewer else None,
            failure_case_id=inspection.failure_case_id,
            measurements=tuple(
                MeasurementStep(m.name, m.kind, m.value, m.nominal, m.lower_tol, m.upper_tol, m.unit, m.passed)
                for m in inspection.measurements.all()
            ),
            image_url=inspection.image.get_absolute_url() if inspection.image else None,
        ))
    return steps


def parts_with_verdict(parts: QuerySet[Part], verdict: str) -> QuerySet[Part]:
    return parts.filter(pk__in=Inspection.objects.filter(verdict=verdict).values("part_id"))


register_inspection_source(inspection_steps, verdict_filter=parts_with_verdict, verdict_choices=Verdict.choices)
