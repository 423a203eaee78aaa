"""Debug Mode: the operator's review of the machine's verdicts on a tablet."""
from __future__ import annotations

from django.urls import path

from inspection import debug_views as views

urlpatterns = [
    path("debug/", views.queue, name="debug-queue"),
    path("debug/claim-next/", views.claim_next, name="debug-claim-next"),
    path("debug/pin/", views.set_pin, name="debug-pin"),
    path("debug/cases/<uuid:result_id>/", views.case, name="debug-case"),
    path("debug/cases/<uuid:result_id>/claim/", views.claim, name="debug-claim"),
    path("debug/cases/<uuid:result_id>/release/", views.release, name="debug-release"),
    path("debug/cases/<uuid:result_id>/renew/", views.renew, name="debug-renew"),
    path("debug/cases/<uuid:result_id>/view/", views.present_view, name="debug-view"),
    path("debug/cases/<uuid:result_id>/sign/", views.sign, name="debug-sign"),
    path("debug/reviews/<int:pk>/", views.review_detail, name="debug-review"),
    path("debug/reviews/<int:pk>/countersign/", views.countersign, name="debug-countersign"),
]
