"""WebSocket routes of every app."""
from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []

try:
    from inspection.routing import websocket_urlpatterns as inspection_ws
except ImportError:  # the live view is not installed yet
    inspection_ws = []
websocket_urlpatterns += inspection_ws
