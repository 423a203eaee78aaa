"""The SPC API: characteristics with state and capability, one characteristic's chart data, freezing limits and
acknowledging violations. Adapters only: spc.selectors reads, spc.actions writes; domain errors become HTTP errors
in twinweb.errors.api_exception_handler."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from spc import actions, selectors
from spc.models import AssignableCause, CorrectiveAction, RuleViolation
from traceability.models import PartType


def _require_view(request: Request) -> None:
    if not selectors.can_view_spc(request.user):
        raise PermissionDenied(_("Your role may not see SPC."))


class FreezeInput(serializers.Serializer):
    baseline_size = serializers.IntegerField(min_value=2)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    baseline_start = serializers.IntegerField(
        required=False,
        min_value=0,
        allow_null=True,
        default=None,
        help_text="Index of the baseline's first value (0: the oldest); empty: the latest baseline_size values.",
    )


class AcknowledgeInput(serializers.Serializer):
    cause = serializers.SlugRelatedField(slug_field="code", queryset=AssignableCause.objects.filter(active=True))
    action = serializers.SlugRelatedField(slug_field="code", queryset=CorrectiveAction.objects.filter(active=True))
    note = serializers.CharField(required=False, allow_blank=True, default="")


def _summary_row(row: dict[str, Any]) -> dict[str, Any]:
    a = row["analysis"]
    return {
        **selectors.characteristic_row(row["characteristic"]),
        "state": a.state.value,
        "verdict": a.verdict.value,
        "verdict_label": a.verdict.label,
        "values": a.total_values,
        "limits_frozen": a.frozen is not None,
        "capability": a.capability.as_dict() if a.capability else None,
        "open_violations": row["open_violations"],
    }


@extend_schema(
    summary="SPC characteristics of a part type (?part_type=CODE) with state and capability",
    responses=inline_serializer(
        "SpcCharacteristicSummary",
        {
            "id": serializers.IntegerField(),
            "name": serializers.CharField(),
            "part_type": serializers.CharField(),
            "station": serializers.CharField(),
            "state": serializers.CharField(),
            "verdict": serializers.CharField(),
            "values": serializers.IntegerField(),
            "limits_frozen": serializers.BooleanField(),
            "capability": serializers.DictField(allow_null=True),
            "open_violations": serializers.IntegerField(),
        },
        many=True,
    ),
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def characteristic_list(request: Request) -> Response:
    _require_view(request)
    code = request.query_params.get("part_type")
    part_types = [get_object_or_404(PartType, code=code)] if code else list(PartType.objects.order_by("code"))
    return Response([_summary_row(row) for pt in part_types for row in selectors.summary(pt)])


@extend_schema(
    summary="One characteristic: chart points (?window=N, 0 = all), limits, rule hits, capability",
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def characteristic_detail(request: Request, pk: int) -> Response:
    _require_view(request)
    ch = get_object_or_404(selectors.characteristics(), pk=pk)
    try:
        window = max(0, int(request.query_params.get("window", selectors.DEFAULT_WINDOW)))
    except ValueError:
        window = selectors.DEFAULT_WINDOW
    return Response(selectors.chart_payload(selectors.analyse(ch), window=window))


@extend_schema(
    summary="Freeze (or, with a reason, recompute) control limits from the latest values (audited)",
    request=FreezeInput,
    responses={201: OpenApiTypes.OBJECT},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def freeze(request: Request, pk: int) -> Response:
    _require_view(request)
    ch = get_object_or_404(selectors.characteristics(), pk=pk)
    data = FreezeInput(data=request.data)
    data.is_valid(raise_exception=True)
    limits = actions.freeze_limits(ch, actor=request.user, **data.validated_data)
    return Response(
        {
            **limits.as_stats().as_dict(),
            "id": limits.pk,
            "frozen_at": limits.frozen_at.isoformat(),
            "frozen_by": limits.frozen_by.get_username(),
            "reason": limits.reason,
        },
        status=201,
    )


@extend_schema(
    summary="Acknowledge an SPC rule violation with an assignable cause and corrective action (audited)",
    request=AcknowledgeInput,
    responses=inline_serializer(
        "AcknowledgedViolation", {"id": serializers.IntegerField(), "acknowledged_at": serializers.CharField()}
    ),
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def acknowledge(request: Request, pk: int) -> Response:
    _require_view(request)
    violation = get_object_or_404(RuleViolation, pk=pk)
    data = AcknowledgeInput(data=request.data)
    data.is_valid(raise_exception=True)
    v = actions.acknowledge_violation(
        violation,
        actor=request.user,
        cause=data.validated_data["cause"],
        action=data.validated_data["action"],
        note=data.validated_data["note"],
    )
    return Response(
        {
            "id": v.pk,
            "acknowledged_at": v.acknowledged_at.isoformat() if v.acknowledged_at else None,
            "cause": v.assignable_cause.code if v.assignable_cause else None,
            "corrective_action": v.corrective_action.code if v.corrective_action else None,
        }
    )
