"""The home page (the cells a user can open) and the health check."""
from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from traceability import selectors


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"cells": selectors.cells_overview()})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
