"""Every non-trivial read of the traceability domain, with its joins decided once."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from traceability.choices import PartStatus
from traceability.models import Batch, Cell, FailureCase, MaterialLot, Pallet, Part, Station, StationEvent


def cells_overview() -> QuerySet[Cell]:
    return Cell.objects.select_related("line__area__site").annotate(
        station_count=Count("stations", distinct=True),
    ).order_by("id")


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
