from __future__ import annotations

from django.urls import path

from spc import views

urlpatterns = [
    path("", views.spc_index, name="spc-index"),
    path("part-types/<slug:code>/", views.part_type_summary, name="spc-part-type"),
    path("characteristics/<int:pk>/", views.characteristic_page, name="spc-characteristic"),
    path("characteristics/<int:pk>/freeze/", views.freeze, name="spc-freeze"),
    path("characteristics/<int:pk>/configure/", views.configure, name="spc-configure"),
    path(
        "characteristics/<int:pk>/violations/<int:violation_id>/acknowledge/", views.acknowledge, name="spc-acknowledge"
    ),
    path("characteristics/<int:pk>/chart.csv", views.chart_csv, name="spc-chart-csv"),
    path("characteristics/<int:pk>/histogram.csv", views.histogram_csv, name="spc-histogram-csv"),
    path("alarms/<int:alarm_id>/", views.alarm_redirect, name="spc-alarm"),
]
