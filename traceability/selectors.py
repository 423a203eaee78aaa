"""Every non-trivial read of the traceability domain, with its joins decided once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Q, QuerySet

from traceability import genealogy
from traceability.choices import PartStatus
from traceability.models import (
    Batch,
    Cell,
    Containment,
    ContainmentHold,
    DrawingRevision,
    FailureCase,
    MaterialLot,
    Pallet,
    Part,
    PartType,
    Station,
    StationEvent,
)


def cells_overview() -> QuerySet[Cell]:
    return (
        Cell.objects.select_related("line__area__site")
        .annotate(
            station_count=Count("stations", distinct=True),
        )
        .order_by("id")
    )


def parts() -> QuerySet[Part]:
    return Part.objects.select_related("part_type", "batch", "pallet")


def lots() -> QuerySet[MaterialLot]:
    return MaterialLot.objects.select_related("material")


def batches() -> QuerySet[Batch]:
    return Batch.objects.select_related("part_type", "cell").annotate(
        part_count=Count("parts"),
        passed_count=Count("parts", filter=Q(parts__status__in=[PartStatus.PASSED, PartStatus.SHIPPED])),
    )


def stations() -> QuerySet[Station]:
    return Station.objects.select_related("cell")


def station_events() -> QuerySet[StationEvent]:
    return StationEvent.objects.select_related("part", "station")


def pallets() -> QuerySet[Pallet]:
    return Pallet.objects.annotate(part_count=Count("parts"))


def failure_cases() -> QuerySet[FailureCase]:
    return FailureCase.objects.select_related("part", "defect_code", "owner", "station", "found_by_user")


# --- Containment: what active containments hold (actions decide on these inside their transaction) ----------


def active_containment_lot_keys(part: Part) -> list[str]:
    """Lot keys of the active containments holding the part, in key order."""
    return list(
        ContainmentHold.objects.filter(part=part, containment__released_at__isnull=True)
        .order_by("containment__lot__lot_key")
        .values_list("containment__lot__lot_key", flat=True)
    )


def part_ids_held_by_active_containment(part_ids: Sequence[int]) -> set[int]:
    """Those of `part_ids` that some active containment holds."""
    return set(
        ContainmentHold.objects.filter(part_id__in=part_ids, containment__released_at__isnull=True).values_list(
            "part_id", flat=True
        )
    )


def lot_ids_under_active_containment() -> set[int]:
    """Every lot an active containment covers: its contained lot and that lot's descendants (splits, merges)."""
    covered: set[int] = set()
    for containment in Containment.objects.filter(released_at__isnull=True).select_related("lot"):
        covered |= set(genealogy.descendant_lot_ids(containment.lot))
    return covered


# --- Drawings ----------------------------------------------------------------------------------------------


def current_drawing(part_type: PartType) -> DrawingRevision:
    """The part type's drawing revision in force (the one its next capture is measured against)."""
    return DrawingRevision.objects.prefetch_related("features").get(part_type=part_type, revision=part_type.revision)


def drawing_spec(drawing: DrawingRevision) -> dict[str, Any]:
    """A drawing revision as the edge device measures it (edge_worker.vision.parts.PartTypeSpec's dict)."""
    part_type = drawing.part_type
    return {
        "code": part_type.code,
        "name": part_type.name,
        "drawing_number": drawing.drawing_number,
        "revision": drawing.revision,
        "family": part_type.family,
        "features": [
            {
                "name": f.name,
                "kind": f.kind,
                "nominal": f.nominal,
                "lower_tol": f.lower_tol,
                "upper_tol": f.upper_tol,
                "unit": f.unit,
            }
            for f in drawing.features.all().order_by("id")
        ],
    }


def part_type_spec(part_type: PartType) -> dict[str, Any]:
    return drawing_spec(current_drawing(part_type))


def part_types_with_drawings() -> QuerySet[PartType]:
    return PartType.objects.annotate(revision_count=Count("drawings")).order_by("code")


def drawing_revisions(part_type: PartType) -> QuerySet[DrawingRevision]:
    """Every revision of the part type's drawing, newest first, each with its features."""
    return (
        DrawingRevision.objects.filter(part_type=part_type)
        .select_related("released_by")
        .prefetch_related("features")
        .order_by("-released_at", "-id")
    )
