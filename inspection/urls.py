"""Pages of the inspection app: the images the edge devices captured, and camera calibration."""

from __future__ import annotations

from django.urls import path

from inspection import views

urlpatterns = [
    path("images/<str:sha256>.png", views.image, name="image"),
    path("calibration/", views.calibration, name="calibration"),
]
