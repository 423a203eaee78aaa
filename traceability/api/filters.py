"""Filters of the traceability API."""

from __future__ import annotations

import django_filters

from traceability.models import Batch, FailureCase, MaterialLot, Part, StationEvent


class PartFilter(django_filters.FilterSet):
    batch = django_filters.CharFilter(field_name="batch__batch_number")
    part_type = django_filters.CharFilter(field_name="part_type__code")
    lot = django_filters.CharFilter(field_name="lot_consumptions__lot__lot_key", distinct=True)
    pallet = django_filters.CharFilter(field_name="pallet__sscc")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

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
    after = django_filters.IsoDateTimeFilter(field_name="entered_at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="entered_at", lookup_expr="lt")

    class Meta:
        model = StationEvent
        fields = ["outcome", "serial", "station"]


class FailureCaseFilter(django_filters.FilterSet):
    serial = django_filters.CharFilter(field_name="part__serial")
    defect_code = django_filters.CharFilter(field_name="defect_code__code")

    class Meta:
        model = FailureCase
        fields = ["status", "disposition", "found_by", "serial", "defect_code"]
