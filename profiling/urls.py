"""Edge profiling pages (/profiling/)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from profiling import views as edge_views

urlpatterns: list[Any] = [
    path("profiling/", edge_views.edge_runs, name="profiling-runs"),
    path("profiling/runs.csv", edge_views.edge_runs_csv, name="profiling-runs-csv"),
    path("profiling/start/", edge_views.edge_run_start, name="profiling-run-start"),
    path("profiling/runs/<uuid:run_id>/", edge_views.edge_run, name="profiling-run"),
    path("profiling/runs/<uuid:run_id>/series.csv", edge_views.edge_run_series_csv, name="profiling-run-series-csv"),
]
