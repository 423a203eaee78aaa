"""REST API of the traceability app: read endpoints with filters, and writes that call actions."""
from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from traceability import actions, selectors
from traceability.api import filters, serializers
from traceability.choices import Disposition
from traceability.models import LotConsumption


class PartViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.PartSerializer
    lookup_field = "serial"
    filterset_class = filters.PartFilter
    queryset = selectors.parts().prefetch_related(
        Prefetch("lot_consumptions", queryset=LotConsumption.objects.select_related("lot"))
    ).order_by("-created_at", "id")


class LotViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.LotSerializer
    lookup_field = "lot_key"
    filterset_class = filters.LotFilter
    queryset = selectors.lots().order_by("-received_at", "id")


class BatchViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.BatchSerializer
    lookup_field = "batch_number"
    filterset_class = filters.BatchFilter
    queryset = selectors.batches().order_by("-created_at", "id")


class StationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.StationSerializer
    filterset_fields = ["cell", "kind"]
    queryset = selectors.stations().order_by("cell_id", "position")


class StationEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.StationEventSerializer
    filterset_class = filters.StationEventFilter
    queryset = selectors.station_events().order_by("-entered_at", "-id")


class PalletViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.PalletSerializer
    lookup_field = "sscc"
    filterset_fields = ["status"]
    queryset = selectors.pallets().order_by("-created_at", "id")


class FailureCaseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.FailureCaseSerializer
    filterset_class = filters.FailureCaseFilter
    queryset = selectors.failure_cases().order_by("-opened_at", "-id")

    @extend_schema(request=serializers.DispositionInputSerializer, responses=serializers.FailureCaseSerializer)
    @action(detail=True, methods=["post"])
    def disposition(self, request: Request, pk: str | None = None) -> Response:
        """Close the case with a disposition (scrap, rework, use as is); the part's status follows."""
        case = self.get_object()
        data = serializers.DispositionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = actions.disposition_failure_case(
            case, disposition=Disposition(data.validated_data["disposition"]),
            reason=data.validated_data["reason"], actor=request.user,
        )
        return Response(serializers.FailureCaseSerializer(case, context={"request": request}).data)
