"""The live cell view: the twin page, its snapshot API, part-journey replay and alarm acknowledgement.

Views only adapt: check access (traceability.access.can_view_cell), call one selector or action, render.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from inspection import selectors as inspection_selectors
from live import actions as alarm_actions
from live import selectors as live_state
from live.models import Alarm
from traceability.access import can_view_cell
from traceability.models import Cell


def _viewable_cell(user: Any, cell_id: int) -> Cell:
    cell = get_object_or_404(Cell.objects.select_related("line__area__site"), pk=cell_id)
    if not can_view_cell(user, cell):
        raise PermissionDenied(gettext("Your role may not watch this cell."))
    return cell


def _page_config(request: HttpRequest, cell: Cell) -> dict[str, Any]:
    return {
        "cellId": cell.pk,
        "wsPath": f"/ws/cells/{cell.pk}/",
        "stateUrl": reverse("cell-state", args=[cell.pk]),
        "journeyUrl": reverse("cell-journey", args=[cell.pk, "SERIAL"]),
        "ackUrl": reverse("alarm-acknowledge", args=[cell.pk, 0]),
        "replayUrl": reverse("cell-replay", args=[cell.pk]),
        "canAck": live_state.can_acknowledge_alarm(request.user, cell),
        "heartbeatS": settings.TWINWEB_LIVE_HEARTBEAT_S,
        "loginUrl": reverse(settings.LOGIN_URL),
    }


def cell_live(request: HttpRequest, cell_id: int) -> HttpResponse:
    cell = _viewable_cell(request.user, cell_id)
    calibration_due = [row for row in inspection_selectors.calibration_overview(cell) if row["stale"]]
    return render(
        request,
        "live/cell.html",
        {"cell": cell, "live_config": _page_config(request, cell), "calibration_due": calibration_due},
    )


def cell_replay(request: HttpRequest, cell_id: int) -> HttpResponse:
    cell = _viewable_cell(request.user, cell_id)
    config = {**_page_config(request, cell), "serial": request.GET.get("serial", "")}
    return render(
        request,
        "live/replay.html",
        {
            "cell": cell,
            "live_config": config,
            "serials": live_state.recent_serials(cell),
            "serial": config["serial"],
        },
    )


@extend_schema(
    summary="Live cell snapshot: stations, KPIs, chart data, devices, alarms; `seq` it is current to",
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def cell_state(request: Request, cell_id: int) -> Response:
    cell = _viewable_cell(request.user, cell_id)
    response = Response(live_state.cell_snapshot(cell))
    response["Cache-Control"] = "no-store"
    return response


@extend_schema(
    summary="A part's journey through the cell: station visits, verdicts, images", responses=OpenApiTypes.OBJECT
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def cell_journey(request: Request, cell_id: int, serial: str) -> Response:
    cell = _viewable_cell(request.user, cell_id)
    journey = live_state.part_journey(cell, serial)
    if journey is None:
        raise NotFound(gettext("No part %(serial)s.") % {"serial": serial})
    return Response(journey)


@extend_schema(
    summary="Acknowledge an andon alarm with a reason (audited)",
    request=inline_serializer("AlarmAcknowledgement", fields={"reason": serializers.CharField()}),
    responses=OpenApiTypes.OBJECT,
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def alarm_acknowledge(request: Request, cell_id: int, alarm_id: int) -> Response:
    cell = _viewable_cell(request.user, cell_id)
    alarm = get_object_or_404(Alarm, pk=alarm_id, cell=cell)
    if not isinstance(request.data, dict):
        raise ValidationError({"detail": "expected a JSON object with a reason"})
    alarm = alarm_actions.acknowledge_alarm(alarm, actor=request.user, reason=str(request.data.get("reason", "")))
    return Response(live_state.alarm_row(alarm))
