"""REST API of the traceability app: read endpoints with filters, and writes that call actions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from traceability import actions, epcis, genealogy, selectors
from traceability.api import filters, serializers
from traceability.api import trace as trace_api
from traceability.choices import Disposition
from traceability.models import LotConsumption, Part


class PartViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.PartSerializer
    lookup_field = "serial"
    filterset_class = filters.PartFilter
    queryset = (
        selectors.parts()
        .prefetch_related(Prefetch("lot_consumptions", queryset=LotConsumption.objects.select_related("lot")))
        .order_by("-created_at", "id")
    )

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[trace_api.CanTrace],
        authentication_classes=trace_api.TRACE_AUTHENTICATION,
    )
    def trace(self, request: Request, serial: str | None = None) -> Response:
        """Backward trace: what went into this part (lots, sub-assemblies, lot ancestors) and what happened to it
        (station events, inspections, failure cases, audit records)."""
        return Response(trace_api.part_trace_data(genealogy.backward_trace(self._part(serial)), request))

    @extend_schema(responses={(200, "application/ld+json"): OpenApiTypes.OBJECT})
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[trace_api.CanTrace],
        authentication_classes=trace_api.TRACE_AUTHENTICATION,
    )
    def epcis(self, request: Request, serial: str | None = None) -> StreamingHttpResponse:
        """The part's trace as an EPCIS 2.0 JSON-LD document; each eventID is the event's CBV 2.0 hash."""
        trace = genealogy.backward_trace(self._part(serial))
        return _streamed(request, epcis.streamed_part_document(trace, style=epcis.WEB_STYLE))

    def _part(self, serial: str | None) -> Part:
        return get_object_or_404(selectors.parts(), serial=serial)


class LotViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.LotSerializer
    lookup_field = "lot_key"
    filterset_class = filters.LotFilter
    queryset = selectors.lots().order_by("-received_at", "id")

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[trace_api.CanTrace],
        authentication_classes=trace_api.TRACE_AUTHENTICATION,
    )
    def trace(self, request: Request, lot_key: str | None = None) -> Response:
        """Forward trace: every part this lot reached through splits, merges and sub-assemblies, with pallets."""
        lot = get_object_or_404(selectors.lots(), lot_key=lot_key)
        return Response(trace_api.lot_trace_data(genealogy.forward_trace(lot), request))

    @extend_schema(responses={(200, "application/ld+json"): OpenApiTypes.OBJECT})
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[trace_api.CanTrace],
        authentication_classes=trace_api.TRACE_AUTHENTICATION,
    )
    def epcis(self, request: Request, lot_key: str | None = None) -> StreamingHttpResponse:
        """The lot's forward trace as an EPCIS 2.0 JSON-LD document, streamed (up to epcis.WEB_EXPORT_MAX_PARTS
        parts; larger recalls export with `manage.py export_epcis`)."""
        lot = get_object_or_404(selectors.lots(), lot_key=lot_key)
        trace = genealogy.forward_trace(lot)
        epcis.check_web_export(trace)
        return _streamed(request, epcis.streamed_lot_document(trace, style=epcis.WEB_STYLE))

    @extend_schema(request=trace_api.ContainInputSerializer, responses=OpenApiTypes.OBJECT)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[trace_api.CanContain],
        authentication_classes=trace_api.TRACE_AUTHENTICATION,
    )
    def contain(self, request: Request, lot_key: str | None = None) -> Response:
        """Mark the lot suspect and hold every unshipped part it reached; answers with the parts already shipped."""
        lot = get_object_or_404(selectors.lots(), lot_key=lot_key)
        data = trace_api.ContainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        shipped = actions.contain_lot(lot, actor=request.user, reason=data.validated_data["reason"])
        return Response(
            {"lot_key": lot.lot_key, "status": lot.status, "shipped": [trace_api.part_ref(p, request) for p in shipped]}
        )

    @extend_schema(request=trace_api.ReleaseInputSerializer, responses=OpenApiTypes.OBJECT)
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[trace_api.CanContain],
        authentication_classes=trace_api.TRACE_AUTHENTICATION,
    )
    def release(self, request: Request, lot_key: str | None = None) -> Response:
        """End the lot's active containment, signed: its parts return to the status production gave them meanwhile."""
        lot = get_object_or_404(selectors.lots(), lot_key=lot_key)
        data = trace_api.ReleaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        released = actions.release_containment(
            lot,
            actor=request.user,
            reason=data.validated_data["reason"],
            credential=data.validated_data["credential"],
            request=request._request,
        )
        return Response(
            {
                "lot_key": lot.lot_key,
                "status": lot.status,
                "lots_released": released.lots_released,
                "parts_released": released.parts_released,
                "parts_still_held": released.parts_still_held,
            }
        )


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
        """Decide the case (scrap, rework, use as is) with a reason and your signature; the part's status follows.
        Using a part as it is on a four-eyes part type waits for a second person's countersignature."""
        case = self.get_object()
        data = serializers.DispositionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.decide_failure_case(
            case,
            disposition=Disposition(data.validated_data["disposition"]),
            reason=data.validated_data["reason"],
            credential=data.validated_data["credential"],
            actor=request.user,
            request=request._request,
        )
        return Response(
            serializers.FailureCaseSerializer(self.get_queryset().get(pk=case.pk), context={"request": request}).data
        )

    @extend_schema(request=serializers.CountersignInputSerializer, responses=serializers.FailureCaseSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated])  # the action checks COUNTERSIGN
    def countersign(self, request: Request, pk: str | None = None) -> Response:
        """A second person approves a disposition that awaits their countersignature; then it takes effect."""
        case = self.get_object()
        data = serializers.CountersignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actions.countersign_failure_case(
            case, credential=data.validated_data["credential"], actor=request.user, request=request._request
        )
        return Response(
            serializers.FailureCaseSerializer(self.get_queryset().get(pk=case.pk), context={"request": request}).data
        )


def _streamed(request: Request, chunks: Iterable[str]) -> StreamingHttpResponse:
    """An EPCIS document as it is written. Under ASGI (daphne) Django would read a plain iterator to the end
    before sending a byte; there each chunk is built in the view's thread (the ORM's) and sent as it comes."""
    if isinstance(request._request, ASGIRequest):
        return StreamingHttpResponse(_each_in_thread(iter(chunks)), content_type="application/ld+json")
    return StreamingHttpResponse(chunks, content_type="application/ld+json")


async def _each_in_thread(chunks: Iterator[str]) -> AsyncIterator[str]:
    following = sync_to_async(_next_or_none, thread_sensitive=True)
    while (chunk := await following(chunks)) is not None:
        yield chunk


def _next_or_none(chunks: Iterator[str]) -> str | None:
    return next(chunks, None)
