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
from traceability.genealogy import InspectionStep, MeasurementStep, register_inspection_source
from traceability.models import Part

# Who reviewed an inspection in Debug Mode: the reviewer of its Review (reverse one-to-one `review`), or a direct
# field of these names; the trace keeps `reviewer` null while neither exists.
_REVIEWER_PATHS = ("review__reviewer", "reviewer", "reviewed_by")


def _reviewer_path() -> str | None:
    fields = {f.name: f for f in Inspection._meta.get_fields()}
    for path in _REVIEWER_PATHS:
        head, _, tail = path.partition("__")
        relation = fields.get(head)
        if relation is None:
            continue
        if not tail:
            return path
        related = relation.related_model
        if related is not None and tail in {f.name for f in related._meta.get_fields()}:
            return path
    return None


def _reviewer_of(inspection: Inspection, path: str | None) -> Any:
    value: Any = inspection
    for name in (path or "").split("__") if path else []:
        try:
            value = getattr(value, name)
        except ObjectDoesNotExist:
            return None
        if value is None:
            return None
    return value if path else None


def _person(user: Any) -> str | None:
    if user is None:
        return None
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full_name or user.get_username()


def inspections_of(part_ids: Sequence[int]) -> QuerySet[Inspection]:
    reviewer = _reviewer_path()
    related = ["station", "device", "image"] + ([reviewer] if reviewer else [])
    return (
        Inspection.objects.filter(part_id__in=list(part_ids))
        .select_related(*related)
        .prefetch_related(Prefetch("measurements", queryset=Measurement.objects.order_by("id")))
        .order_by("captured_at", "id")
    )


def inspection_steps(part_ids: Sequence[int]) -> list[InspectionStep]:
    reviewer = _reviewer_path()
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
            reviewer=_person(_reviewer_of(inspection, reviewer)),
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


register_inspection_source(inspection_steps, verdict_filter=parts_with_verdict, verdict_choices=Verdict.choices,
                           audit_subject_type="inspection.inspection")
