"""Edge profiling pages (/edge/)."""
from __future__ import annotations

from typing import Any

from django.urls import path

from inspection import edge_views

urlpatterns: list[Any] = [
    path("edge/", edge_views.edge_runs, name="edge-runs"),
    path("edge/runs.csv", edge_views.edge_runs_csv, name="edge-runs-csv"),
    path("edge/start/", edge_views.edge_run_start, name="edge-run-start"),
    path("edge/runs/<uuid:run_id>/", edge_views.edge_run, name="edge-run"),
    path("edge/runs/<uuid:run_id>/series.csv", edge_views.edge_run_series_csv, name="edge-run-series-csv"),
]
