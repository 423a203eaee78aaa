"""WebSocket routes of every app."""
from __future__ import annotations

from inspection.routing import websocket_urlpatterns

__all__ = ["websocket_urlpatterns"]
