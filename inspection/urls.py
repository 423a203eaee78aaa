"""Pages of the inspection app: images, the live view, Debug Mode and edge profiling."""
from __future__ import annotations

from django.urls import include, path

from inspection import views

urlpatterns = [
    path("images/<str:sha256>.png", views.image, name="image"),
    path("", include("inspection.live_urls")),
    path("", include("inspection.debug_urls")),
    path("", include("inspection.edge_urls")),
]
