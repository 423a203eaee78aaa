from django.urls import path

from accounts import views

urlpatterns = [path("accounts/profile/", views.profile, name="profile")]
