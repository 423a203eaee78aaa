"""Filters of the traceability API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from traceability.models import Batch, FailureCase, MaterialLot, Part, StationEvent


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, compared in UTC: ISO allows UTC offsets up to ±23:59, PostgreSQL only ±15:59 (a query
    with another one failed with a server error). An instant outside the calendar once in UTC is refused (400)."""

    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(dt.timezone.utc)
        except (OverflowError, ValueError):
            raise forms.ValidationError(
                "Enter a date and time within years 1 to 9999 in UTC.", code="invalid"
            ) from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class PartFilter(django_filters.FilterSet):
    batch = django_filters.CharFilter(field_name="batch__batch_number")
    part_type = django_filters.CharFilter(field_name="part_type__code")
    lot = django_filters.CharFilter(field_name="lot_consumptions__lot__lot_key", distinct=True)
    pallet = django_filters.CharFilter(field_name="pallet__sscc")
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Part
        fields = ["status", "batch", "part_type", "lot", "pallet"]


class LotFilter(django_filters.FilterSet):
    material = django_filters.CharFilter(field_name="material__code")
    supplier = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = MaterialLot
        fields = ["status", "material", "supplier", "supplier_lot_number"]


class BatchFilter(django_filters.FilterSet):
    part_type = django_filters.CharFilter(field_name="part_type__code")

    class Meta:
        model = Batch
        fields = ["status", "part_type", "cell"]


class StationEventFilter(django_filters.FilterSet):
    serial = django_filters.CharFilter(field_name="part__serial")
    station = django_filters.CharFilter(field_name="station__code")
    after = UTCDateTimeFilter(field_name="entered_at", lookup_expr="gte")
    before = UTCDateTimeFilter(field_name="entered_at", lookup_expr="lt")

    class Meta:
        model = StationEvent
        fields = ["outcome", "serial", "station"]


class FailureCaseFilter(django_filters.FilterSet):
    serial = django_filters.CharFilter(field_name="part__serial")
    defect_code = django_filters.CharFilter(field_name="defect_code__code")

    class Meta:
        model = FailureCase
        fields = ["status", "disposition", "found_by", "serial", "defect_code"]
