"""Auditor pages. Genealogy and recall arrive with the genealogy issue; until then they say so."""
from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from traceability import roles
from traceability.models import MaterialLot, Part


@permission_required(roles.VIEW_TRACE, raise_exception=True)
def trace_search(request: HttpRequest) -> HttpResponse:
    return render(request, "traceability/search.html", {"query": request.GET.get("q", "")})


@permission_required(roles.VIEW_TRACE, raise_exception=True)
def trace_part(request: HttpRequest, serial: str) -> HttpResponse:
    part = get_object_or_404(Part, serial=serial)
    return render(request, "traceability/part.html", {"part": part})


@permission_required(roles.VIEW_TRACE, raise_exception=True)
def trace_lot(request: HttpRequest, lot_key: str) -> HttpResponse:
    lot = get_object_or_404(MaterialLot, lot_key=lot_key)
    return render(request, "traceability/lot.html", {"lot": lot})
