from __future__ import annotations

from rest_framework import viewsets

from inspection.api import serializers
from inspection.models import EdgeDevice, Inspection


class InspectionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.InspectionSerializer
    lookup_field = "result_id"
    filterset_fields = {
        "verdict": ["exact"],
        "part__serial": ["exact"],
        "station__code": ["exact"],
        "needs_review": ["exact"],
        "captured_at": ["gte", "lt"],
    }
    queryset = (
        Inspection.objects.select_related("part", "station", "device", "image")
        .prefetch_related("measurements", "defects")
        .order_by("-captured_at", "-id")
    )


class EdgeDeviceViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.EdgeDeviceSerializer
    lookup_field = "device_id"
    queryset = EdgeDevice.objects.order_by("device_id")
