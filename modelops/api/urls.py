"""The device endpoints, under /api/ (no session: each request is a device-signed message)."""

from django.urls import path

from modelops.api import views

urlpatterns = [
    path("edge/deployment", views.deployment, name="modelops-edge-deployment"),
    path("edge/download", views.download, name="modelops-edge-download"),
    path("edge/report", views.report, name="modelops-edge-report"),
    path("edge/shadow", views.shadow, name="modelops-edge-shadow"),
    path("edge/profiling", views.profiling, name="modelops-edge-profiling"),
]
