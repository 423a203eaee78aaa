"""The home page (the cells a user can open) and the health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from traceability import selectors


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"cells": selectors.cells_overview()})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([IsAuthenticated])
def api_not_found(request: Request, path: str = "") -> Response:
    """An /api/ URL that names no resource: the API's JSON answers (401 to anyone not signed in, else 404),
    never the HTML page."""
    raise NotFound()
