from django.urls import path

from monitoring import views

urlpatterns = [
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.prometheus_metrics, name="metrics"),
]
