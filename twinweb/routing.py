"""WebSocket routes of every app."""

from __future__ import annotations

from live.routing import websocket_urlpatterns

__all__ = ["websocket_urlpatterns"]
