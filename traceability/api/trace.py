"""Trace answers of the API: the backward trace of a part and the forward trace of a lot as JSON, and their
EPCIS 2.0 exports. Each lot and part in an answer carries its own trace `url`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings

from traceability import access
from traceability.genealogy import BackwardTrace, ForwardTrace, InspectionStep, PartNode
from traceability.models import AuditRecord, LotLink, MaterialLot, Part

# The project's authentication, token first (an anonymous call gets 401 with `WWW-Authenticate: Token`, not a
# bare 403), with its lockout of clients that guess tokens.
TRACE_AUTHENTICATION = api_settings.DEFAULT_AUTHENTICATION_CLASSES


class CanTrace(BasePermission):
    """Genealogy and recall are for roles with VIEW_TRACE (auditors, supervisors, quality engineers)."""

    message = "Tracing genealogy needs the trace permission."

    def has_permission(self, request: Any, view: Any) -> bool:
        return access.can_trace(request.user)


class CanContain(BasePermission):
    message = "Containing a lot needs the containment permission."

    def has_permission(self, request: Any, view: Any) -> bool:
        return access.can_contain(request.user)


class ContainInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class ReleaseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)
    credential = serializers.CharField(
        max_length=200, write_only=True, help_text="The signer's password or signing PIN: the release is signed."
    )


def _url_maker(request: HttpRequest, name: str, key: str) -> Callable[[str], str]:
    """One reverse() and substitution per key: a recall answer may carry thousands of urls."""
    marker = "__key__"
    template = request.build_absolute_uri(reverse(name, kwargs={key: marker}))
    return lambda value: template.replace(marker, value)


class Links:
    def __init__(self, request: HttpRequest) -> None:
        self.part = _url_maker(request, "api-part-trace", "serial")
        self.lot = _url_maker(request, "api-lot-trace", "lot_key")
        self.part_page = _url_maker(request, "trace-part", "serial")
        self.lot_page = _url_maker(request, "trace-lot", "lot_key")
        self.part_epcis = _url_maker(request, "api-part-epcis", "serial")
        self.lot_epcis = _url_maker(request, "api-lot-epcis", "lot_key")


def _lot(lot: MaterialLot, links: Links) -> dict[str, Any]:
    return {
        "lot_key": lot.lot_key,
        "url": links.lot(lot.lot_key),
        "status": lot.status,
        "material": lot.material.code,
        "supplier": lot.supplier,
        "supplier_lot_number": lot.supplier_lot_number,
        "received_at": lot.received_at,
        "quantity": lot.quantity,
    }


def _link(link: LotLink, lot: MaterialLot, links: Links) -> dict[str, Any]:
    return {
        "lot_key": lot.lot_key,
        "url": links.lot(lot.lot_key),
        "kind": link.kind,
        "quantity": link.quantity,
        "linked_at": link.linked_at,
    }


def _inspection(step: InspectionStep, serials: dict[int, str], links: Links) -> dict[str, Any]:
    return {
        "result_id": step.key,
        "serial": serials.get(step.part_id),
        "url": links.part(serials.get(step.part_id, "")),
        "station": step.station_code,
        "device": step.device_id,
        "verdict": step.verdict,
        "reason": step.reason,
        "defect_class": step.defect_class,
        "defect_confidence": step.defect_confidence,
        "model_version": step.model_version,
        "backend": step.backend,
        "drawing": step.drawing,
        "captured_at": step.captured_at,
        "inspected_at": step.inspected_at,
        "needs_review": step.needs_review,
        "reviewer": step.reviewer,
        "failure_case": step.failure_case_id,
        "image_url": step.image_url,
        "measurements": [
            {
                "name": m.name,
                "kind": m.kind,
                "value": m.value,
                "nominal": m.nominal,
                "lower_tol": m.lower_tol,
                "upper_tol": m.upper_tol,
                "lower_limit": m.lower_limit,
                "upper_limit": m.upper_limit,
                "unit": m.unit,
                "passed": m.passed,
            }
            for m in step.measurements
        ],
    }


def _audit(record: AuditRecord) -> dict[str, Any]:
    payload = json.loads(record.payload)
    return {
        "id": record.pk,
        "at": record.created_at,
        "actor": record.actor_name,
        "action": record.action,
        "subject_type": record.subject_type,
        "subject_key": record.subject_key,
        "before": payload.get("before"),
        "after": payload.get("after"),
        "reason": payload.get("reason", ""),
        "record_hash": record.record_hash,
    }


def part_trace_data(trace: BackwardTrace, request: HttpRequest) -> dict[str, Any]:
    links = Links(request)
    part = trace.part
    serials = {node.part.pk: node.part.serial for node in trace.parts}

    def node(n: PartNode) -> dict[str, Any]:
        p = n.part
        return {
            "serial": p.serial,
            "url": links.part(p.serial),
            "status": p.status,
            "part_type": p.part_type.code,
            "batch": p.batch.batch_number,
            "created_at": p.created_at,
            "pallet": p.pallet.sscc if p.pallet is not None else None,
            "lots": [
                {**_lot(trace.lots[c.lot_id], links), "consumed_quantity": c.quantity, "consumed_at": c.consumed_at}
                for c in trace.consumptions_of(p.pk)
            ],
            "components": [node(child) for child in trace.components_of(p.pk)],
        }

    return {
        "serial": part.serial,
        "url": links.part(part.serial),
        "page": links.part_page(part.serial),
        "epcis_url": links.part_epcis(part.serial),
        "status": part.status,
        "part_type": part.part_type.code,
        "gtin": part.part_type.gtin,
        "batch": part.batch.batch_number,
        "created_at": part.created_at,
        "pallet": (
            {
                "sscc": part.pallet.sscc,
                "status": part.pallet.status,
                "packed_at": part.packed_at,
                "shipped_at": part.pallet.shipped_at,
            }
            if part.pallet is not None
            else None
        ),
        "elapsed_ms": round(trace.elapsed_ms, 1),
        "tree": node(trace.parts[0]),
        "lots": [
            {
                **_lot(lot, links),
                "parents": [_link(link, trace.lots[link.parent_id], links) for link in trace.parents_of(lot.pk)],
            }
            for lot in sorted(trace.lots.values(), key=lambda lot: lot.lot_key)
        ],
        "station_events": [
            {
                "serial": serials[e.part_id],
                "url": links.part(serials[e.part_id]),
                "station": e.station.code,
                "station_kind": e.station.kind,
                "entered_at": e.entered_at,
                "left_at": e.left_at,
                "duration_s": e.duration_s,
                "outcome": e.outcome,
                "parameters": e.parameters,
            }
            for e in trace.station_events
        ],
        "inspections": [_inspection(step, serials, links) for step in trace.inspections],
        "failure_cases": [
            {
                "id": c.pk,
                "serial": serials[c.part_id],
                "url": links.part(serials[c.part_id]),
                "defect_code": c.defect_code.code,
                "found_by": c.found_by,
                "station": c.station.code if c.station else None,
                "status": c.status,
                "disposition": c.disposition,
                "opened_at": c.opened_at,
                "closed_at": c.closed_at,
                "description": c.description,
            }
            for c in trace.failure_cases
        ],
        "audit_records": [_audit(record) for record in trace.audit_records],
    }


def lot_trace_data(trace: ForwardTrace, request: HttpRequest) -> dict[str, Any]:
    links = Links(request)
    lot = trace.lot
    every_lot = {**trace.sources, **trace.lots}
    return {
        **_lot(lot, links),
        "page": links.lot_page(lot.lot_key),
        "epcis_url": links.lot_epcis(lot.lot_key),
        "elapsed_ms": round(trace.elapsed_ms, 1),
        "sources": [
            {
                **_lot(source, links),
                "parents": [
                    _link(link, every_lot[link.parent_id], links)
                    for link in trace.source_links
                    if link.child_id == source.pk
                ],
            }
            for source in sorted(trace.sources.values(), key=lambda s: s.lot_key)
        ],
        "parents": [
            _link(link, every_lot[link.parent_id], links) for link in trace.source_links if link.child_id == lot.pk
        ],
        "lots": [
            {
                **_lot(item, links),
                "children": [_link(link, trace.lots[link.child_id], links) for link in trace.children_of(item.pk)],
            }
            for item in sorted(trace.lots.values(), key=lambda item: item.lot_key)
        ],
        "part_count": len(trace.parts),
        "counts_by_status": trace.counts_by_status(),
        "pallets": trace.pallets(),
        "parts": [
            {
                "serial": p.serial,
                "url": links.part(p.serial),
                "status": p.status,
                "part_type": p.part_type,
                "batch": p.batch_number,
                "pallet": p.pallet_sscc,
                "pallet_status": p.pallet_status,
                "via_lots": p.via_lots,
                "via_components": p.via_components,
            }
            for p in trace.parts
        ],
    }


def part_ref(part: Part, request: HttpRequest) -> dict[str, Any]:
    links = Links(request)
    return {
        "serial": part.serial,
        "url": links.part(part.serial),
        "status": part.status,
        "pallet": part.pallet.sscc if part.pallet is not None else None,
    }
