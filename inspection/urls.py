"""Pages of the inspection app."""
from __future__ import annotations

from django.urls import path

from inspection import views

urlpatterns = [
    path("images/<str:sha256>.png", views.image, name="image"),
]
