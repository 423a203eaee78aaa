"""Server-rendered pages of the traceability app (auditor search, genealogy, recall)."""

from __future__ import annotations

from django.urls import path

from traceability import views

urlpatterns = [
    path("trace/", views.trace_search, name="trace-search"),
    path("trace/parts/<slug:serial>/", views.trace_part, name="trace-part"),
    path("trace/lots/<slug:lot_key>/", views.trace_lot, name="trace-lot"),
    path("trace/lots/<slug:lot_key>/recall.csv", views.trace_lot_csv, name="trace-lot-csv"),
    path("trace/lots/<slug:lot_key>/contain/", views.contain_lot, name="trace-lot-contain"),
    path("trace/lots/<slug:lot_key>/release/", views.release_containment, name="trace-lot-release"),
    path("drawings/", views.drawings, name="drawings"),
    path("drawings/new/", views.new_part_type, name="drawing-new"),
    path("drawings/<slug:code>/", views.drawing, name="drawing"),
]
