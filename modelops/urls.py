from django.urls import path

from modelops import views

urlpatterns = [
    path("modelops/", views.registry, name="modelops-registry"),
    path("modelops/train", views.start_training, name="modelops-train"),
    path("modelops/v/<str:sha256>/", views.version_detail, name="modelops-version"),
    path("modelops/v/<str:sha256>/transition", views.transition, name="modelops-transition"),
    path("modelops/v/<str:sha256>/assign", views.assign, name="modelops-assign"),
    path("modelops/cell/<str:cell_code>/promote", views.promote, name="modelops-promote"),
    path("modelops/cell/<str:cell_code>/rollback", views.rollback, name="modelops-rollback"),
    path("modelops/shadow/<int:comparison_id>/review", views.send_to_review, name="modelops-shadow-review"),
]
