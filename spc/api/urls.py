from __future__ import annotations

from django.urls import path

from spc.api import views

urlpatterns = [
    path("characteristics/", views.characteristic_list, name="api-spc-characteristics"),
    path("characteristics/<int:pk>/", views.characteristic_detail, name="api-spc-characteristic"),
    path("characteristics/<int:pk>/limits/", views.freeze, name="api-spc-freeze"),
    path("violations/<int:pk>/acknowledge/", views.acknowledge, name="api-spc-acknowledge"),
]
