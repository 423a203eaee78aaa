"""The second way in, for MES and line controllers that do not speak OPC UA: station events posted over HTTP with
the same meaning and idempotency as the PLC's buffer (docs/cell-integration.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway import actions
from gateway.address_space import TagError, parse_slot
from traceability.models import Cell, Station


class CanPostStationEvents(BasePermission):
    message = "Posting station events needs the 'gateway.add_cyclerecord' permission (a line controller's account)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("gateway.add_cyclerecord"))


class StationEventInput(serializers.Serializer):
    station = serializers.CharField(max_length=40)
    source = serializers.CharField(
        max_length=64,  # type: ignore[assignment]  # a field named like Field.source
        help_text="The sender's counter epoch (like the PLC's BootId).",
    )
    sequence = serializers.IntegerField(min_value=1)
    kind = serializers.CharField(max_length=20)
    serial = serializers.CharField(max_length=200)
    part_type = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    start_time = serializers.DateTimeField()
    end_time = serializers.DateTimeField(required=False, allow_null=True, default=None)
    outcome = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    fault_code = serializers.IntegerField(min_value=0, required=False, default=0)
    lots = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class StationEventView(APIView):
    permission_classes = [CanPostStationEvents]

    @extend_schema(
        request=StationEventInput,
        responses={
            201: inline_serializer(
                "StationEventStored", {"id": serializers.IntegerField(), "stored": serializers.BooleanField()}
            ),
            200: inline_serializer("StationEventDuplicate", {"stored": serializers.BooleanField()}),
        },
    )
    def post(self, request: Request, cell: str) -> Response:
        """One cycle start or end at a station. Posting the same (station, source, sequence) again stores nothing
        (200); values the twin cannot use are kept as a dead letter and answered 400 with the reason."""
        the_cell = get_object_or_404(Cell, code=cell)
        data = StationEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        station = Station.objects.select_related("cell").filter(cell=the_cell, code=values["station"]).first()
        if station is None:
            return Response(
                {"detail": f"cell {cell} has no station {values['station']!r}"}, status=status.HTTP_400_BAD_REQUEST
            )
        slot = {
            "Sequence": values["sequence"],
            "Kind": values["kind"],
            "Serial": values["serial"],
            "PartType": values["part_type"],
            "StartTime": values["start_time"],
            "EndTime": values["end_time"] or (dt.datetime(1601, 1, 1, tzinfo=dt.timezone.utc)),
            "Outcome": values["outcome"],
            "FaultCode": values["fault_code"],
            "Lots": values["lots"],
        }
        source = f"api:{request.user.get_username()}"
        try:
            event = parse_slot(station.code, values["source"], slot)
        except TagError as exc:
            actions.refuse_tag_values(
                station,
                boot_id=values["source"],
                sequence=values["sequence"],
                values=slot,
                problem=str(exc),
                source=source,
            )
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        record = actions.record_cycle_event(station, event, source=source)
        if record is None:
            return Response({"stored": False}, status=status.HTTP_200_OK)
        if record.dead_letter is not None:
            return Response({"detail": record.dead_letter.detail, "stored": False}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"id": record.pk, "stored": True}, status=status.HTTP_201_CREATED)
