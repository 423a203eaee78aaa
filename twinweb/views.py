"""The home page (the cells a user can open) and the health check."""
from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from traceability import selectors


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"cells": selectors.cells_overview()})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@csrf_exempt  # a POST to no resource is a 404 whatever its cookies say
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """An /api/ URL that names no resource: the API's JSON error, never the HTML page."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
