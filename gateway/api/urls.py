from django.urls import path

from gateway.api import views

urlpatterns = [
    path("cells/<slug:cell>/station-events/", views.StationEventView.as_view(), name="api-station-events"),
]
