"""Debug Mode: the operator's review of the machine's verdicts on a tablet."""

from __future__ import annotations

from django.urls import path

from review import views

urlpatterns = [
    path("review/", views.queue, name="review-queue"),
    path("review/claim-next/", views.claim_next, name="review-claim-next"),
    path("review/pin/", views.set_pin, name="review-pin"),
    path("review/cases/<uuid:result_id>/", views.case, name="review-case"),
    path("review/cases/<uuid:result_id>/claim/", views.claim, name="review-claim"),
    path("review/cases/<uuid:result_id>/release/", views.release, name="review-release"),
    path("review/cases/<uuid:result_id>/renew/", views.renew, name="review-renew"),
    path("review/cases/<uuid:result_id>/view/", views.present_view, name="review-view"),
    path("review/cases/<uuid:result_id>/sign/", views.sign, name="review-sign"),
    path("review/reviews/<int:pk>/", views.review_detail, name="review-review"),
    path("review/reviews/<int:pk>/countersign/", views.countersign, name="review-countersign"),
]
