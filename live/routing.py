"""WebSocket routes of the live view."""

from __future__ import annotations

from typing import Any

from django.urls import path

from live.consumers import CellConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/cells/<int:cell_id>/", CellConsumer.as_asgi(), name="ws-cell"),
]
