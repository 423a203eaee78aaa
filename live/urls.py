"""Live cell view: the twin page, replay, and their JSON endpoints (under /api/, refused to anonymous users)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from live import views as live_views

urlpatterns: list[Any] = [
    path("cells/<int:cell_id>/", live_views.cell_live, name="cell-live"),
    path("cells/<int:cell_id>/replay/", live_views.cell_replay, name="cell-replay"),
    path("api/cells/<int:cell_id>/state/", live_views.cell_state, name="cell-state"),
    path("api/cells/<int:cell_id>/journey/<str:serial>/", live_views.cell_journey, name="cell-journey"),
    path(
        "api/cells/<int:cell_id>/alarms/<int:alarm_id>/acknowledge/",
        live_views.alarm_acknowledge,
        name="alarm-acknowledge",
    ),
]
